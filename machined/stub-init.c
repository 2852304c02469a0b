/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stub-init.h"

_Noreturn void stub_init_run(void) {
        (void) prctl(PR_SET_DUMPABLE, 0);
        (void) prctl(PR_SET_NAME, "berth-stub");

        sigset_t set;
        sigfillset(&set);
        sigprocmask(SIG_BLOCK, &set, NULL);
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&set, &si);
                if (sig == SIGCHLD) {
                        /* Adopted orphans: reap them all. */
                        while (waitpid(-1, NULL, WNOHANG) > 0)
                                ;
                        continue;
                }
                if (sig == SIGTERM || sig == SIGINT || sig == SIGUSR2 || sig == SIGRTMIN + 3 || sig == SIGRTMIN + 4)
                        _exit(0); /* the kernel ends every other process of the namespace */
        }
}
