/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth logs NAME [-f] [-n N] [--raw]: the machine's console output and its
 * supervisor's messages.  On a systemd host, from the journal of its unit
 * (console output goes there in unit mode); otherwise from the files in
 * RUN/NAME/.  What the guest wrote is shown escaped on a terminal, so that
 * none of it is taken for a command by the terminal (a title, the
 * clipboard, a query whose answer would end up as the shell's input). */

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "berth.h"
#include "fs.h"
#include "log.h"
#include "runtime.h"
#include "terminal.h"
#include "unit.h"
#include "util.h"

/* Where the logs go: stdout, escaped or as they are. */
typedef struct LogsOutput {
        bool escape;
        bool to_terminal;
        bool may_answer; /* raw output to a terminal held a query */
        TermEscaper escaper;
} LogsOutput;

static void output_write(LogsOutput *o, const char *buf, size_t n) {
        if (o->escape) {
                term_escape(&o->escaper, buf, n, stdout);
                return;
        }
        (void) fwrite(buf, 1, n, stdout);
        if (o->to_terminal && !o->may_answer)
                o->may_answer = term_may_answer(buf, n);
}

static void output_text(LogsOutput *o, const char *text) {
        output_write(o, text, strlen(text));
}

static void output_done(LogsOutput *o) {
        if (o->escape)
                term_escape_finish(&o->escaper, stdout);
        (void) fflush(stdout);
        if (o->may_answer)
                term_discard_answers();
}

/* Signals that end "logs -f" (or a long listing), as events: it stops as
 * after the last line, with the terminal cleaned up. */
static int follow_signals(sigset_t *ret_old) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, ret_old);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) /* then they end us as before, at least */
                sigprocmask(SIG_SETMASK, ret_old, NULL);
        return sfd;
}

/* Take the signals off SFD: one left pending would strike when unblocked. */
static bool signal_received(int sfd) {
        struct signalfd_siginfo si;
        bool any = false;
        while (read(sfd, &si, sizeof si) == (ssize_t) sizeof si)
                any = true;
        return any;
}

/* Print the last N lines of TEXT (all with N == 0). */
static void print_tail(LogsOutput *o, const char *text, unsigned n) {
        const char *start = text;
        if (n > 0) {
                size_t len = strlen(text);
                unsigned seen = 0;
                for (size_t i = len; i > 0; i--)
                        if (text[i - 1] == '\n' && i != len && ++seen == n) {
                                start = text + i;
                                break;
                        }
        }
        output_text(o, start);
}

static int logs_from_files(Context *ctx, const char *name, bool follow, unsigned lines, LogsOutput *o) {
        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.run_fd, name);
        if (dfd < 0) {
                log_error("Machine '%s' has no logs yet (it never ran since the host booted).", name);
                return ERR_FAILED;
        }
        _cleanup_free_ char *sup = NULL, *old = NULL, *con = NULL;
        if (read_file_at(dfd, "supervisor.log", 1 << 20, &sup, NULL) >= 0 && !isempty(sup)) {
                output_text(o, "-- supervisor --\n");
                print_tail(o, sup, lines);
        }
        output_text(o, "-- console --\n");
        if (read_file_at(dfd, "console.log.1", 2 << 20, &old, NULL) >= 0 && lines == 0)
                output_text(o, old);
        size_t off = 0;
        if (read_file_at(dfd, "console.log", 2 << 20, &con, &off) >= 0)
                print_tail(o, con, lines);
        if (!follow) {
                output_done(o);
                return 0;
        }
        (void) fflush(stdout);

        /* Follow: poll for growth (and for the rotation to console.log.1)
         * until a signal says stop. */
        sigset_t old_mask;
        _cleanup_close_ int sfd = follow_signals(&old_mask);
        for (;;) {
                struct pollfd p = { .fd = sfd, .events = POLLIN };
                if (poll(&p, 1, 250) > 0 && signal_received(sfd))
                        break;
                _cleanup_close_ int fd = openat(dfd, "console.log", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0)
                        continue;
                if ((size_t) st.st_size < off)
                        off = 0; /* rotated */
                if ((size_t) st.st_size == off)
                        continue;
                char buf[65536];
                ssize_t n;
                while ((n = pread(fd, buf, sizeof buf, (off_t) off)) > 0) {
                        output_write(o, buf, (size_t) n);
                        off += (size_t) n;
                }
                (void) fflush(stdout);
        }
        output_done(o);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        return 0;
}

/* journalctl ARGS, its output passed through O (so it is escaped like the
 * files are: journalctl -a prints the guest's bytes as they are). */
static int logs_from_journal(char **args, LogsOutput *o) {
        int pp[2];
        if (pipe2(pp, O_CLOEXEC) < 0)
                return log_error_errno(errno, "pipe2 failed: %m");
        _cleanup_close_ int rd = pp[0], wr = pp[1];
        sigset_t old_mask;
        _cleanup_close_ int sfd = follow_signals(&old_mask);
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0) {
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                if (dup2(wr, STDOUT_FILENO) < 0)
                        _exit(EXIT_FAIL);
                (void) close_all_fds_except(NULL, 0);
                execvp(args[0], args);
                log_error_errno(errno, "Failed to run journalctl: %m");
                _exit(EXIT_FAIL);
        }
        closep(&wr);
        for (;;) {
                struct pollfd p[] = { { .fd = rd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
                if (poll(p, ELEMENTSOF(p), -1) < 0 && errno != EINTR)
                        break;
                if (p[1].revents && signal_received(sfd)) {
                        (void) kill(pid, SIGTERM);
                        break;
                }
                if (!p[0].revents)
                        continue;
                char buf[65536];
                ssize_t n = read(rd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                output_write(o, buf, (size_t) n);
                (void) fflush(stdout);
        }
        output_done(o);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        /* Ended by our SIGTERM or the terminal's Ctrl-C: that is how -f stops. */
        bool ok = (WIFEXITED(status) && WEXITSTATUS(status) == 0) || WIFSIGNALED(status);
        return ok ? 0 : ERR_FAILED;
}

static const OptionSpec logs_options[] = {
        { "follow", 'f', 'f', NULL, "keep printing what comes" },
        { "lines", 'n', 'n', "N", "only the last N lines" },
        { "raw", 0, 'r', NULL, "print the guest's bytes as they are, also on a terminal (else escaped)" },
        {},
};

const VerbSpec logs_verb = {
        .name = "logs",
        .func = verb_logs,
        .args = "NAME",
        .summary = "Console output and supervisor messages of a machine (escaped on a terminal)",
        .example = "logs -f -n 50 web",
        .options = logs_options,
        .complete = COMPLETE_MACHINE,
        .rootless = true,
};

int verb_logs(Context *ctx, int argc, char **argv) {
        bool follow = false, raw = false;
        unsigned lines = 0;
        const char *lines_arg = NULL;
        OptionParser p;
        option_parser_init(&p, &logs_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'f':
                        follow = true;
                        break;
                case 'n':
                        if (safe_atou(p.arg, &lines) < 0) {
                                log_error("Invalid --lines '%s': give a number.", p.arg);
                                return ERR_USAGE;
                        }
                        lines_arg = p.arg;
                        break;
                case 'r':
                        raw = true;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        const char *name;
        int r = one_name(&p, &name);
        if (r != 0)
                return r;
        r = look_up_machine(ctx, name);
        if (r != 0)
                return r;
        RunMode mode;
        if (context_run_mode(ctx, &mode) < 0)
                return ERR_FAILED;
        /* Escaped for a terminal; into a pipe or file, or with --raw, as written. */
        LogsOutput out = { .to_terminal = isatty(STDOUT_FILENO) };
        out.escape = out.to_terminal && !raw;
        if (mode != RUN_MODE_UNIT)
                return logs_from_files(ctx, name, follow, lines, &out);

        /* The journal of either unit the machine may run as. */
        _cleanup_free_ char *cgname = store_cgroup_name(&ctx->store, name);
        _cleanup_free_ char *transient = unit_name_for(cgname);
        _cleanup_free_ char *persistent = xasprintf("berth@%s.service", name);
        const char *args[13];
        size_t k = 0;
        args[k++] = "journalctl";
        args[k++] = "--no-pager";
        /* Lines with control characters whole, not "[N blob data]": they are
         * escaped here like console.log is. */
        args[k++] = "--all";
        args[k++] = "-u";
        args[k++] = transient;
        args[k++] = "-u";
        args[k++] = persistent;
        if (follow)
                args[k++] = "-f";
        if (lines_arg) {
                args[k++] = "-n";
                args[k++] = lines_arg;
        }
        args[k] = NULL;
        store_close(&ctx->store);
        return logs_from_journal((char **) args, &out);
}
