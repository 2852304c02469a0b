/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "passwd.h"
#include "stub-init.h"
#include "util.h"

/* Resolve USER ("name", "uid", "name:group", "uid:gid") from the machine's
 * own files (we are inside it; no NSS). */
static int resolve_user(const char *user, uid_t *ret_uid, gid_t *ret_gid, char **ret_home) {
        _cleanup_free_ char *u = xstrdup(user);
        char *group = strchr(u, ':');
        if (group)
                *group++ = 0;
        /* The machine's files: a FIFO or a huge file there must not hang us. */
        _cleanup_fclose_ FILE *pf = NULL;
        PasswdEntry pw = {};
        int r = -ENOENT;
        if (passwd_file_open("/etc/passwd", &pf) >= 0)
                r = passwd_lookup(pf, u, &pw);
        else {
                unsigned n;
                if (safe_atou(u, &n) >= 0) {
                        pw = (PasswdEntry) { .uid = n, .gid = n };
                        r = 0;
                }
        }
        if (r < 0)
                return r;
        *ret_uid = pw.uid;
        *ret_gid = pw.gid;
        *ret_home = pw.home ? xstrdup(pw.home) : xstrdup("/");
        passwd_entry_done(&pw);
        if (group) {
                unsigned g;
                if (safe_atou(group, &g) >= 0) {
                        *ret_gid = g;
                        return 0;
                }
                /* A group name, from /etc/group. */
                _cleanup_fclose_ FILE *gf = NULL;
                (void) passwd_file_open("/etc/group", &gf);
                char *line = NULL;
                size_t len = 0;
                r = -ESRCH;
                while (gf && getline(&line, &len, gf) > 0) {
                        char *save = NULL, *name = strtok_r(line, ":", &save);
                        (void) strtok_r(NULL, ":", &save);
                        char *gid = strtok_r(NULL, ":", &save);
                        if (name && gid && streq(name, group) && safe_atou(gid, &g) >= 0) {
                                *ret_gid = g;
                                r = 0;
                                break;
                        }
                }
                free(line);
        }
        return r;
}

_Noreturn static void program_exec(const StubProgram *p, const sigset_t *oldmask) {
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        (void) sigprocmask(SIG_SETMASK, oldmask, NULL);
        /* Its own session and process group, so signals for it reach its children too. */
        (void) setsid();

        uid_t uid = 0;
        gid_t gid = 0;
        _cleanup_free_ char *home = xstrdup("/root");
        if (p->user) {
                free(home);
                home = NULL;
                if (resolve_user(p->user, &uid, &gid, &home) < 0) {
                        fprintf(stderr, "berth-stub: no user '%s' in the machine.\n", p->user);
                        _exit(126);
                }
        }
        /* berth's defaults, unless the image sets the same variable. */
        _cleanup_free_ char *h = xasprintf("HOME=%s", home);
        const char *defaults[] = {
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=berth", "TERM=vt220", h,
        };
        char **env = NULL;
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++) {
                size_t n = strcspn(defaults[i], "=") + 1;
                bool overridden = false;
                for (char **e = p->env; e && *e && !overridden; e++)
                        overridden = strncmp(*e, defaults[i], n) == 0;
                if (!overridden)
                        env = strv_append(env, defaults[i]);
        }
        for (char **e = p->env; e && *e; e++)
                env = strv_append(env, *e);

        if (p->user && (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)) {
                fprintf(stderr, "berth-stub: cannot become user %s: %m\n", p->user);
                _exit(126);
        }
        if (chdir(p->cwd ?: "/") < 0) {
                fprintf(stderr, "berth-stub: cannot change to %s: %m\n", p->cwd ?: "/");
                _exit(126);
        }
        execve(p->argv[0], p->argv, env);
        fprintf(stderr, "berth-stub: cannot execute %s: %m\n", p->argv[0]);
        _exit(127);
}

_Noreturn void stub_init_run(const StubProgram *program, bool dumpable) {
        /* Set either way: a change of credentials (becoming the namespace's
         * root) left it at the host's suid_dumpable, normally 0. */
        (void) prctl(PR_SET_DUMPABLE, dumpable ? 1 : 0);
        (void) prctl(PR_SET_NAME, "berth-stub");

        sigset_t set, old;
        sigfillset(&set);
        sigprocmask(SIG_BLOCK, &set, &old);

        pid_t main_pid = 0;
        if (program && program->argv && program->argv[0]) {
                main_pid = fork();
                if (main_pid < 0)
                        _exit(125);
                if (main_pid == 0)
                        program_exec(program, &old);
        }

        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&set, &si);
                if (sig < 0)
                        continue;
                if (sig == SIGCHLD) {
                        /* Adopted orphans and the program: reap them all. */
                        int status;
                        pid_t pid;
                        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                                if (pid == main_pid)
                                        /* The machine ends with its program; the
                                         * kernel ends every other process in it. */
                                        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
                        continue;
                }
                if (main_pid > 0) {
                        /* Everything else is for the program. */
                        (void) kill(main_pid, sig);
                        continue;
                }
                if (sig == SIGTERM || sig == SIGINT || sig == SIGUSR2 || sig == SIGRTMIN + 3 || sig == SIGRTMIN + 4)
                        _exit(0); /* the kernel ends every other process of the namespace */
        }
}
