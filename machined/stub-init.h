/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* The minimal PID 1 of a machine that does not boot its own init.  It runs
 * in the child berth-machined made, without exec: nothing of the guest is
 * loaded into it, and it is not dumpable, so nothing in the machine can
 * reach it through /proc/1.
 *
 * Without a program ("berth run" without --boot, which then runs its
 * command through exec) it reaps orphans and ends the machine on a poweroff
 * signal (SIGTERM, SIGINT, SIGUSR2, SIGRTMIN+3, SIGRTMIN+4).
 *
 * With a program ([Machine] Boot=no, an application image) it starts the
 * program as the machine's main process, reaps every orphan, forwards the
 * signals it gets (the poweroff signal included) to the program, and exits
 * with the program's status (128+N if a signal N killed it), which ends the
 * machine. */

typedef struct StubProgram {
        char **argv;      /* absolute path first */
        char **env;       /* NAME=value, over berth's defaults */
        const char *cwd;  /* NULL: "/" */
        const char *user; /* NULL: root; name or number, optional ":group" */
} StubProgram;

/* DUMPABLE: leave the stub dumpable.  It is made non-dumpable so that the
 * guest cannot ptrace it; but it never execs, so its memory belongs to the
 * host's user namespace, and a non-dumpable process there is out of reach
 * of "berth exec" run by a user (who has no CAP_SYS_PTRACE on the host).  A
 * user's machine makes it dumpable: its memory is a copy of the user's own
 * supervisor. */
_Noreturn void stub_init_run(const StubProgram *program, bool dumpable);
