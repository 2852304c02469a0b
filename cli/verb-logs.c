/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth logs NAME [-f] [-n N] [--since T] [--until T] [-o short-iso] [--raw]:
 * the machine's console output and its supervisor's messages.  On a systemd host, from the journal of its unit
 * (console output goes there in unit mode); otherwise from the files in
 * RUN/NAME/.  What the guest wrote is shown escaped on a terminal, so that
 * none of it is taken for a command by the terminal (a title, the
 * clipboard, a query whose answer would end up as the shell's input). */

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "berth.h"
#include "fs.h"
#include "log.h"
#include "runtime.h"
#include "terminal.h"
#include "time-spec.h"
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

/* What to show: the last LINES lines (0: all) of those between SINCE and
 * UNTIL (0: no bound), each with its time if STAMPS. */
typedef struct LogsFilter {
        unsigned lines;
        uint64_t since, until;
        bool stamps;
} LogsFilter;

static bool filter_active(const LogsFilter *f) {
        return f->since > 0 || f->until > 0;
}

/* A line's time against the bounds; a line of unknown time (0) passes
 * only when there are none. */
static bool filter_keep(const LogsFilter *f, uint64_t usec) {
        if (usec == 0)
                return !filter_active(f);
        return (f->since == 0 || usec >= f->since) && (f->until == 0 || usec <= f->until);
}

/* "2026-12-07T10:00:00+0100 ", local time, as journalctl -o short-iso. */
static void output_stamp(LogsOutput *o, uint64_t usec) {
        char buf[64] = "-";
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;
        if (usec > 0 && localtime_r(&t, &tm))
                strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
        output_text(o, buf);
        output_text(o, " ");
}

/* One line of a log, with its time. */
typedef struct LogLine {
        const char *text; /* its start, without the supervisor's stamp */
        size_t len;       /* with its newline, if it has one */
        uint64_t usec;    /* 0: unknown */
} LogLine;

typedef struct LogLines {
        LogLine *v;
        size_t n, cap;
} LogLines;

static void log_lines_add(LogLines *l, LogLine line) {
        if (l->n == l->cap) {
                l->cap = l->cap ? 2 * l->cap : 256;
                l->v = realloc(l->v, l->cap * sizeof *l->v);
                if (!l->v)
                        abort();
        }
        l->v[l->n++] = line;
}

/* The lines of L that F keeps, the last F->lines of them. */
static void print_lines(LogsOutput *o, const LogLines *l, const LogsFilter *f) {
        size_t kept = 0;
        for (size_t i = 0; i < l->n; i++)
                kept += filter_keep(f, l->v[i].usec);
        size_t skip = f->lines > 0 && kept > f->lines ? kept - f->lines : 0;
        for (size_t i = 0; i < l->n; i++) {
                if (!filter_keep(f, l->v[i].usec))
                        continue;
                if (skip > 0) {
                        skip--;
                        continue;
                }
                if (f->stamps)
                        output_stamp(o, l->v[i].usec);
                output_write(o, l->v[i].text, l->v[i].len);
        }
}

/* supervisor.log: each line stamped by the supervisor (log_set_stamps());
 * a line without one (a helper's output) has its predecessor's time. */
static void supervisor_lines(char *text, LogLines *l) {
        uint64_t last = 0;
        for (char *line = text, *e; *line; line = e) {
                e = strchrnul(line, '\n');
                if (*e)
                        e++;
                uint64_t usec;
                const char *start = line;
                if ((size_t) (e - line) > LOG_STAMP_LEN && log_stamp_parse(line, &usec) >= 0) {
                        last = usec;
                        start += LOG_STAMP_LEN;
                }
                log_lines_add(l, (LogLine) { start, (size_t) (e - start), last });
        }
}

/* console.log (TEXT, LEN bytes) with its times file (TIMES, "OFFSET USEC"
 * lines of the supervisor, console.c): a line has the time of the chunk it
 * began in. */
static void console_lines(const char *text, size_t len, const char *times, LogLines *l) {
        const char *t = times;
        uint64_t cur = 0, next_off = UINT64_MAX, next_usec = 0;
        /* The next record of TIMES into next_off/next_usec (UINT64_MAX at the end). */
#define NEXT_RECORD()                                                                                          do {                                                                                                           unsigned long long a, b;                                                                               int used = 0;                                                                                          if (t && *t && sscanf(t, "%llu %llu\n%n", &a, &b, &used) == 2 && used > 0) {                                  next_off = a;                                                                                          next_usec = b;                                                                                         t += used;                                                                                     } else                                                                                                         next_off = UINT64_MAX;                                                                 } while (0)
        NEXT_RECORD();
        for (size_t pos = 0; pos < len;) {
                while (next_off != UINT64_MAX && next_off <= pos) {
                        cur = next_usec;
                        NEXT_RECORD();
                }
                const char *nl = memchr(text + pos, '\n', len - pos);
                size_t end = nl ? (size_t) (nl - text) + 1 : len;
                log_lines_add(l, (LogLine) { text + pos, end - pos, cur });
                pos = end;
        }
#undef NEXT_RECORD
}

static int logs_from_files(Context *ctx, const char *name, bool follow, const LogsFilter *f, LogsOutput *o) {
        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.run_fd, name);
        if (dfd < 0) {
                log_error("Machine '%s' has no logs yet (it never ran since the host booted).", name);
                return ERR_FAILED;
        }
        _cleanup_free_ char *sup = NULL, *old = NULL, *con = NULL, *old_times = NULL, *times = NULL;
        if (read_file_at(dfd, "supervisor.log", 1 << 20, &sup, NULL) >= 0 && !isempty(sup)) {
                LogLines l = {};
                supervisor_lines(sup, &l);
                output_text(o, "-- supervisor --\n");
                print_lines(o, &l, f);
                free(l.v);
        }
        output_text(o, "-- console --\n");
        LogLines l = {};
        size_t old_len = 0, off = 0;
        /* The rotated part only for all of it, or for a time range. */
        if ((f->lines == 0 || filter_active(f)) && read_file_at(dfd, "console.log.1", 2 << 20, &old, &old_len) >= 0) {
                (void) read_file_at(dfd, "console.times.1", 4 << 20, &old_times, NULL);
                console_lines(old, old_len, old_times, &l);
        }
        if (read_file_at(dfd, "console.log", 2 << 20, &con, &off) >= 0) {
                (void) read_file_at(dfd, "console.times", 4 << 20, &times, NULL);
                console_lines(con, off, times, &l);
        }
        print_lines(o, &l, f);
        free(l.v);
        if (!follow) {
                output_done(o);
                return 0;
        }
        (void) fflush(stdout);

        /* Follow: poll for growth (and for the rotation to console.log.1)
         * until a signal says stop.  What comes now is stamped now. */
        bool at_line_start = off == 0 || (con && con[off - 1] == '\n');
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
                        off += (size_t) n;
                        if (!f->stamps) {
                                output_write(o, buf, (size_t) n);
                                continue;
                        }
                        uint64_t now = now_usec(CLOCK_REALTIME);
                        for (size_t i = 0; i < (size_t) n;) {
                                if (at_line_start)
                                        output_stamp(o, now);
                                const char *nl = memchr(buf + i, '\n', (size_t) n - i);
                                size_t end = nl ? (size_t) (nl - buf) + 1 : (size_t) n;
                                output_write(o, buf + i, end - i);
                                at_line_start = nl != NULL;
                                i = end;
                        }
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
        { "since", 'S', 'S', "TIME", "only lines from TIME on: \"2026-12-07 10:00\", today, -5min, @EPOCH" },
        { "until", 'U', 'U', "TIME", "only lines up to TIME (same forms)" },
        { "output", 'o', 'o', "FORMAT", "short (direct mode: no times, as before) or short-iso (each line's time)" },
        { "raw", 0, 'r', NULL, "print the guest's bytes as they are, also on a terminal (else escaped)" },
        {},
};

const VerbSpec logs_verb = {
        .name = "logs",
        .func = verb_logs,
        .args = "NAME",
        .summary = "Console output and supervisor messages of a machine (escaped on a terminal)",
        .example = "logs -f -n 50 web\nlogs -o short-iso --since -10min web\nlogs --since \"2026-12-07 10:00\" "
                   "--until today web",
        .options = logs_options,
        .complete = COMPLETE_MACHINE,
        .rootless = true,
};

/* A --since/--until value as journalctl takes it too, "@SECONDS.USEC",
 * so both modes read it the same. */
static int time_option(const char *opt, const char *arg, uint64_t *ret) {
        if (time_spec_parse(arg, now_usec(CLOCK_REALTIME), ret) < 0 || *ret == 0) {
                log_error("Invalid %s '%s': give a time like \"2026-12-07 10:00\", \"10:00\", today, yesterday, "
                          "-5min, -2h, \"1h ago\" or @EPOCH.", opt, arg);
                return ERR_USAGE;
        }
        return 0;
}

int verb_logs(Context *ctx, int argc, char **argv) {
        bool follow = false, raw = false;
        LogsFilter filter = {};
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
                case 'S':
                case 'U': {
                        int r = time_option(c == 'S' ? "--since" : "--until", p.arg,
                                            c == 'S' ? &filter.since : &filter.until);
                        if (r != 0)
                                return r;
                        break;
                }
                case 'o':
                        if (!streq(p.arg, "short") && !streq(p.arg, "short-iso"))
                                return usage_error(&logs_verb, "--output takes short or short-iso, not '%s'.", p.arg);
                        filter.stamps = streq(p.arg, "short-iso");
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        filter.lines = lines;
        if (filter.since > 0 && filter.until > 0 && filter.since > filter.until)
                return usage_error(&logs_verb, "--since is after --until: nothing could be shown.");
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
                return logs_from_files(ctx, name, follow, &filter, &out);

        /* The journal of either unit the machine may run as. */
        _cleanup_free_ char *cgname = store_cgroup_name(&ctx->store, name);
        _cleanup_free_ char *transient = unit_name_for(cgname);
        _cleanup_free_ char *persistent = xasprintf("berth@%s.service", name);
        const char *args[19];
        char since[32], until[32];
        size_t k = 0;
        args[k++] = "journalctl";
        args[k++] = "--no-pager";
        /* Lines with control characters whole, not "[N blob data]": they are
         * escaped here like console.log is. */
        args[k++] = "--all";
        /* A user's machines are units of their own manager. */
        const char *unit_opt = geteuid() == 0 ? "-u" : "--user-unit";
        args[k++] = unit_opt;
        args[k++] = transient;
        args[k++] = unit_opt;
        args[k++] = persistent;
        if (follow)
                args[k++] = "-f";
        if (lines_arg) {
                args[k++] = "-n";
                args[k++] = lines_arg;
        }
        if (filter.since > 0) {
                snprintf(since, sizeof since, "@%llu.%06llu", (unsigned long long) (filter.since / 1000000),
                         (unsigned long long) (filter.since % 1000000));
                args[k++] = "--since";
                args[k++] = since;
        }
        if (filter.until > 0) {
                snprintf(until, sizeof until, "@%llu.%06llu", (unsigned long long) (filter.until / 1000000),
                         (unsigned long long) (filter.until % 1000000));
                args[k++] = "--until";
                args[k++] = until;
        }
        /* The journal's lines have their times already ("short"); short-iso as asked. */
        if (filter.stamps) {
                args[k++] = "-o";
                args[k++] = "short-iso";
        }
        args[k] = NULL;
        store_close(&ctx->store);
        return logs_from_journal((char **) args, &out);
}
