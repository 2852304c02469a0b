/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth exec: run a command inside a running machine, directly (no agent in
 * the guest): join the init's cgroups, enter all its namespaces through its
 * pidfd, take its capability bounding set, fork once more to be inside its
 * PID namespace, exec.  The command's exit status is ours. */

#include <getopt.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "berth.h"
#include "caps.h"
#include "cgroup.h"
#include "fs.h"
#include "log.h"
#include "runtime.h"
#include "syscall-filter.h"
#include "util.h"

static int wait_status(pid_t pid) {
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return EXIT_EXEC_FAIL;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return EXIT_EXEC_FAIL;
}

static bool same_ns(pid_t pid, const char *ns) {
        char a[64], b[64];
        snprintf(a, sizeof a, "/proc/self/ns/%s", ns);
        snprintf(b, sizeof b, "/proc/%d/ns/%s", (int) pid, ns);
        struct stat sa, sb;
        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

_noreturn_ static void exec_child(pid_t leader, int pidfd, char **cmd) {
        /* Die with berth; and once inside the machine's namespaces, nothing in
         * there may ptrace us or open our /proc/self/exe (CVE-2019-5736 class). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0) {
                log_error_errno(errno, "prctl failed: %m");
                _exit(EXIT_EXEC_FAIL);
        }
        uint64_t bounding;
        int r = caps_read_bounding(leader, &bounding);
        if (r < 0) {
                log_error_errno(r, "Failed to read the machine's capability bounding set: %m");
                _exit(EXIT_EXEC_FAIL);
        }
        r = cgroup_attach_like(leader, getpid());
        if (r < 0) {
                log_error_errno(r, "Failed to join the machine's cgroup: %m");
                _exit(EXIT_EXEC_FAIL);
        }
        int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
        /* setns() refuses to "enter" the user namespace we are already in. */
        if (!same_ns(leader, "user"))
                flags |= CLONE_NEWUSER;
        if (!same_ns(leader, "net"))
                flags |= CLONE_NEWNET;
        if (setns(pidfd, flags) < 0) {
                log_error_errno(errno, "Failed to enter the machine's namespaces: %m");
                _exit(EXIT_EXEC_FAIL);
        }
        close(pidfd);
        /* In the machine's user namespace we are nobody until we take its root. */
        if ((flags & CLONE_NEWUSER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
                                        prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)) {
                log_error_errno(errno, "Failed to become root in the machine's user namespace: %m");
                _exit(EXIT_EXEC_FAIL);
        }

        pid_t pid = fork();
        if (pid < 0) {
                log_error_errno(errno, "fork failed: %m");
                _exit(EXIT_EXEC_FAIL);
        }
        if (pid > 0)
                _exit(wait_status(pid));

        /* Now PID != 1 inside the machine's PID namespace.  (The parent-death
         * signal is set here, after the last change of credentials, which would
         * clear it.) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || chdir("/") < 0) {
                log_error_errno(errno, "Failed to prepare the command: %m");
                _exit(EXIT_EXEC_FAIL);
        }
        r = caps_apply_bounding(bounding);
        if (r < 0) {
                log_error_errno(r, "Failed to apply the machine's capability bounding set: %m");
                _exit(EXIT_EXEC_FAIL);
        }
        r = syscall_filter_install();
        if (r < 0) {
                log_error_errno(r, "Failed to install the machine's system call filter: %m");
                _exit(EXIT_EXEC_FAIL);
        }
        const char *term = getenv("TERM");
        _cleanup_free_ char *term_env = term ? xasprintf("TERM=%s", term) : NULL;
        char *envp[] = {
                (char *) "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                (char *) "HOME=/root",
                (char *) "container=berth",
                term_env,
                NULL,
        };
        execvpe(cmd[0], cmd, envp);
        int e = errno;
        log_error_errno(e, "Failed to execute '%s' in the machine: %m", cmd[0]);
        _exit(e == ENOENT ? 127 : 126);
}

int verb_exec(Context *ctx, int argc, char **argv) {
        static const struct option opts[] = { {} };
        int c;
        /* "+": stop at the first non-option, the machine name. */
        while ((c = getopt_long(argc, argv, "+", opts, NULL)) >= 0)
                return EXIT_USAGE;
        if (argc - optind < 2) {
                log_error("Usage: berth exec NAME [--] COMMAND [ARGS...]");
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        int r = check_name(name);
        if (r != 0)
                return r;
        char **cmd = argv + optind + 1;
        if (streq(cmd[0], "--"))
                cmd++;
        if (!cmd[0]) {
                log_error("No command given. Usage: berth exec NAME [--] COMMAND [ARGS...]");
                return EXIT_USAGE;
        }

        if (context_open_store(ctx) < 0)
                return EXIT_EXEC_FAIL;
        if (store_machine_exists(&ctx->store, name) <= 0) {
                log_error("No machine '%s'. See 'berth list'.", name);
                return EXIT_EXEC_FAIL;
        }
        RuntimeState st;
        if (runtime_is_active(ctx->store.run_fd, name) <= 0 ||
            runtime_state_read(ctx->store.run_fd, name, &st) < 0) {
                log_error("Machine '%s' is not running. Start it with 'berth start %s'.", name, name);
                return EXIT_EXEC_FAIL;
        }
        _cleanup_close_ int pidfd = runtime_open_init_pidfd(&st);
        if (pidfd < 0) {
                log_error_errno(pidfd, "Cannot find the init of machine '%s': %m", name);
                return EXIT_EXEC_FAIL;
        }
        /* Nothing of ours may leak into the machine. */
        store_close(&ctx->store);
        int keep[] = { pidfd };
        (void) close_all_fds_except(keep, 1);

        pid_t pid = fork();
        if (pid < 0) {
                log_error_errno(errno, "fork failed: %m");
                return EXIT_EXEC_FAIL;
        }
        if (pid == 0)
                exec_child(st.init_pid, pidfd, cmd);
        closep(&pidfd);
        return wait_status(pid);
}
