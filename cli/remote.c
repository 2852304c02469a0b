/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "remote.h"
#include "spawn.h"
#include "util.h"

/* The verbs that want a terminal on the remote side when we have one:
 * without it ssh hands them pipes, their programs see no terminal, and ^C
 * ends only the local ssh (see berth(1), REMOTE HOSTS). */
static bool wants_pty(const VerbSpec *verb, int argc, char **argv) {
        bool local_tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        if (streq(verb->name, "shell") || streq(verb->name, "console"))
                return local_tty;
        if (!streq(verb->name, "exec") && !streq(verb->name, "run"))
                return false;

        /* exec -t, run -t (run also takes a terminal when it has one).  The
         * parser moves words around, so it reads a copy of the array. */
        _cleanup_free_ char **copy = argv_dup(argc, argv);
        OptionParser p;
        option_parser_init(&p, verb, argc, copy);
        int c;
        while ((c = option_next(&p)) > 0)
                if (c == 't')
                        return true;
        return streq(verb->name, "run") && local_tty;
}

/* The verbs that read our stdin: the rest get /dev/null, or ssh would read
 * it all away from the caller (`... | while read m; do berth -H h list;
 * done` would loop once).  As locally: exec only with -i or -t, run always,
 * shell and console as sessions; cp - NAME:PATH goes its own way
 * (remote_cp()). */
static bool reads_stdin(const VerbSpec *verb, int argc, char **argv) {
        if (streq(verb->name, "shell") || streq(verb->name, "console") || streq(verb->name, "run"))
                return true;
        if (!streq(verb->name, "exec"))
                return false;
        _cleanup_free_ char **copy = argv_dup(argc, argv);
        OptionParser p;
        option_parser_init(&p, verb, argc, copy);
        int c;
        while ((c = option_next(&p)) > 0)
                if (c == 'i' || c == 't')
                        return true;
        return false;
}

char **argv_dup(int argc, char **argv) {
        char **copy = xcalloc((size_t) argc + 1, sizeof(char *));
        memcpy(copy, argv, (size_t) argc * sizeof(char *));
        return copy;
}

int remote_spawn(const Remote *r, bool pty, char *const *words, int in_fd, int out_fd, pid_t *ret_pid) {
        const Context *ctx = r->ctx;
        _cleanup_strv_free_ char **remote = NULL;
        if (ctx->root)
                remote = strv_append(remote, "--root"), remote = strv_append(remote, ctx->root);
        if (ctx->config)
                remote = strv_append(remote, "--config"), remote = strv_append(remote, ctx->config);
        if (ctx->json)
                remote = strv_append(remote, "--json");
        if (ctx->quiet)
                remote = strv_append(remote, "--quiet");
        for (size_t i = 0; words[i]; i++)
                remote = strv_append(remote, words[i]);

        /* The remote command is the admin's own shell text; only the
         * arguments are quoted.  A $BERTH_HOST in the remote login's
         * environment would send the remote berth out over ssh again (to
         * us, perhaps, in a loop): emptied, it means this host there. */
        const char *command = secure_getenv("BERTH_REMOTE_COMMAND");
        _cleanup_free_ char *args = shell_join(remote);
        _cleanup_free_ char *line = xasprintf("BERTH_HOST= %s %s", isempty(command) ? "berth" : command, args);

        const char *ssh = secure_getenv("BERTH_SSH");
        _cleanup_strv_free_ char **argv = strv_append(NULL, isempty(ssh) ? "ssh" : ssh);
        char port[8];
        if (r->host.port) {
                snprintf(port, sizeof port, "%u", r->host.port);
                argv = strv_append(argv, "-p");
                argv = strv_append(argv, port);
        }
        /* The shell completions ask the remote host for machine names while
         * the user waits at a prompt: no password or host key question. */
        if (!isempty(secure_getenv("BERTH_SSH_BATCH"))) {
                argv = strv_append(argv, "-o");
                argv = strv_append(argv, "BatchMode=yes");
        }
        /* -T too: ssh's default for a command is no pty anyway, but a
         * RequestTTY in its configuration must not give us one. */
        argv = strv_append(argv, pty ? "-t" : "-T");
        argv = strv_append(argv, "--");
        argv = strv_append(argv, r->host.destination);
        argv = strv_append(argv, line);
        log_debug("Running on %s: %s", r->host.destination, line);
        _cleanup_close_ int null = -EBADF;
        if (in_fd == REMOTE_NO_STDIN) {
                null = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (null < 0)
                        return log_error_errno(errno, "Failed to open /dev/null: %m");
                in_fd = null;
        }
        return spawn_piped(argv, in_fd, out_fd, ret_pid);
}

int remote_wait(const Remote *r, pid_t pid, bool runs_command) {
        siginfo_t si;
        while (waitid(P_PID, (id_t) pid, &si, WEXITED) < 0)
                if (errno != EINTR) {
                        log_error_errno(errno, "Failed to wait for ssh: %m");
                        return runs_command ? EXIT_EXEC_FAIL : EXIT_FAIL;
                }
        if (si.si_code != CLD_EXITED) {
                char sig[16];
                log_error("ssh was killed by %s.", signal_to_string(si.si_status, sig));
                return 128 + si.si_status;
        }
        /* ^C or ^\ on our terminal while ssh ran without a pty: it reached
         * ssh (and us, blocked), never the remote command. */
        sigset_t pending;
        if (sigpending(&pending) == 0 && (sigismember(&pending, SIGINT) || sigismember(&pending, SIGQUIT))) {
                log_error("Interrupted: ssh ended. Without a pty the remote command gets no signal and may still "
                          "run on '%s' until it reads or writes its closed connection (-t, shell and console "
                          "pass ^C on).",
                          r->arg);
                return 128 + (sigismember(&pending, SIGINT) ? SIGINT : SIGQUIT);
        }
        if (si.si_status == 255) {
                char port[8];
                snprintf(port, sizeof port, "%u", r->host.port);
                /* ssh's own failure.  A remote command that exits 255 or is
                 * killed by a signal looks the same to ssh's caller. */
                log_error("ssh to '%s' failed (status 255): the host could not be reached or did not let us in "
                          "(see ssh's message above), or the remote command was killed. Check the host, port "
                          "and keys with 'ssh%s%s %s true'.",
                          r->arg, r->host.port ? " -p " : "", r->host.port ? port : "", r->host.destination);
                return runs_command ? EXIT_EXEC_FAIL : EXIT_FAIL;
        }
        return si.si_status;
}

int remote_main(const Context *ctx, const char *host_arg, const VerbSpec *verb, int argc, char **argv) {
        _cleanup_free_ char *shown = strdup_printable(host_arg);
        const char *reason;
        Remote r = { .ctx = ctx, .arg = host_arg };
        if (remote_host_parse(host_arg, &r.host, &reason) < 0) {
                log_set_prefix("berth");
                log_error("Invalid host '%s' (-H or $BERTH_HOST): %s. Give [USER@]HOST[:PORT].", shown, reason);
                return EXIT_USAGE;
        }
        _cleanup_free_ char *prefix = xasprintf("berth -H %s %s", shown, verb->name);
        log_set_prefix(prefix);

        /* While ssh runs, ^C and ^\ are for it (and through a pty, for the
         * remote command), not for us: blocked, we wait for its status, then
         * see whether one came (remote_wait()).  cp too: its children end,
         * and it removes its staging directory. */
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGQUIT);
        sigprocmask(SIG_BLOCK, &block, &old);
        int code;
        if (verb == &cp_verb)
                code = remote_cp(&r, argc, argv);
        else {
                pid_t pid;
                int in_fd = reads_stdin(verb, argc, argv) ? STDIN_FILENO : REMOTE_NO_STDIN;
                if (remote_spawn(&r, wants_pty(verb, argc, argv), argv, in_fd, -1, &pid) < 0)
                        code = verb->runs_command ? EXIT_EXEC_FAIL : EXIT_FAIL;
                else
                        code = remote_wait(&r, pid, verb->runs_command);
        }
        /* Taken here: the status says it; unblocked it would kill us. */
        static const struct timespec now = {};
        while (sigtimedwait(&block, NULL, &now) > 0)
                ;
        sigprocmask(SIG_SETMASK, &old, NULL);
        remote_host_done(&r.host);
        log_set_prefix("berth");
        return code;
}
