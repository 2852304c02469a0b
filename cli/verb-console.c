/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth console: attach to a machine's /dev/console through its supervisor
 * (protocol in lib/console-frame.h).  Ctrl-] pressed three times within a
 * second detaches; the machine keeps running. */

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "berth.h"
#include "console-frame.h"
#include "fs.h"
#include "log.h"
#include "runtime.h"
#include "terminal.h"
#include "util.h"

#define ESCAPE_BYTE 0x1d /* Ctrl-] */
#define ESCAPE_COUNT 3
#define ESCAPE_WINDOW_USEC 1000000

static void send_winsize(int sock) {
        struct winsize ws;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
                return;
        uint8_t b[CONSOLE_WINSIZE_LEN];
        console_winsize_encode(b, ws.ws_row, ws.ws_col);
        (void) console_frame_write(sock, CONSOLE_FRAME_WINSIZE, b, sizeof b);
}

/* Count Ctrl-] presses; true when the third falls within the window. */
static bool escape_seen(const char *buf, size_t n, unsigned *count, uint64_t *first) {
        for (size_t i = 0; i < n; i++) {
                if ((unsigned char) buf[i] != ESCAPE_BYTE)
                        continue;
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (*count == 0 || now - *first > ESCAPE_WINDOW_USEC) {
                        *count = 0;
                        *first = now;
                }
                if (++*count >= ESCAPE_COUNT)
                        return true;
        }
        return false;
}

static const OptionSpec console_options[] = {
        { "read-only", 0, 'r', NULL, "watch only: nothing typed reaches the console" },
        {},
};

const VerbSpec console_verb = {
        .name = "console",
        .func = verb_console,
        .args = "NAME",
        .summary = "Attach to a running machine's console (last 64 KiB, then live; Ctrl-] three times detaches)",
        .example = "console --read-only web",
        .options = console_options,
        .complete = COMPLETE_RUNNING,
        .rootless = true,
};

int verb_console(Context *ctx, int argc, char **argv) {
        bool read_only = false;
        OptionParser op;
        option_parser_init(&op, &console_verb, argc, argv);
        int c;
        while ((c = option_next(&op)) > 0)
                switch (c) {
                case 'r':
                        read_only = true;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        const char *name;
        int r = one_name(&op, &name);
        if (r != 0)
                return r;
        r = look_up_machine(ctx, name);
        if (r != 0)
                return r;
        if (runtime_is_active(ctx->store.run_fd, name) <= 0) {
                log_error("Machine '%s' is not running.", name);
                return ERR_NOT_RUNNING;
        }

        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.run_fd, name);
        _cleanup_close_ int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (dfd < 0 || sock < 0) {
                log_error_errno(dfd < 0 ? dfd : errno, "Failed to prepare the console connection: %m");
                return ERR_FAILED;
        }
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/console.sock", dfd);
        if (connect(sock, (struct sockaddr *) &sa, sizeof sa) < 0) {
                log_error_errno(errno, "Failed to connect to the console of '%s': %m", name);
                return ERR_FAILED;
        }
        char mode = read_only ? CONSOLE_MODE_READ : CONSOLE_MODE_WRITE;
        if (write_all(sock, &mode, 1) < 0) {
                log_error_errno(errno, "Failed to talk to the console of '%s': %m", name);
                return ERR_FAILED;
        }

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

        bool tty = isatty(STDIN_FILENO);
        if (!ctx->quiet)
                fprintf(stderr, "Connected to the console of machine %s.%s\n", name,
                        read_only ? " Read-only; press Ctrl-C to detach."
                                  : " Press Ctrl-] three times within 1s to detach.");
        _cleanup_(term_restorep) TermState ts = TERM_STATE_INIT;
        if (!read_only && tty) {
                (void) term_make_raw(STDIN_FILENO, &ts);
                send_winsize(sock);
        }

        bool to_terminal = isatty(STDOUT_FILENO), may_answer = false;
        unsigned presses = 0;
        uint64_t first = 0;
        bool stdin_open = !read_only;
        const char *why = "detached";
        for (;;) {
                struct pollfd p[] = {
                        { .fd = sock, .events = POLLIN },
                        { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                };
                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                char buf[16384];
                if (p[0].revents) {
                        ssize_t n = read(sock, buf, sizeof buf);
                        if (n <= 0) {
                                why = "the machine's console closed (machine stopped)";
                                break;
                        }
                        /* Console output is data: written as it came, never interpreted. */
                        (void) write_all(STDOUT_FILENO, buf, (size_t) n);
                        if (to_terminal && !may_answer)
                                may_answer = term_may_answer(buf, (size_t) n);
                }
                if (p[1].revents) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
                        if (n <= 0)
                                stdin_open = false;
                        else {
                                if (escape_seen(buf, (size_t) n, &presses, &first))
                                        break;
                                for (ssize_t off = 0; off < n; off += CONSOLE_FRAME_MAX) {
                                        size_t len = (size_t) (n - off) < CONSOLE_FRAME_MAX ? (size_t) (n - off) : CONSOLE_FRAME_MAX;
                                        if (console_frame_write(sock, CONSOLE_FRAME_DATA, buf + off, len) < 0)
                                                break;
                                }
                        }
                }
                if (p[2].revents) {
                        struct signalfd_siginfo si;
                        bool leave = false;
                        while (read(sfd, &si, sizeof si) == (ssize_t) sizeof si) {
                                if (si.ssi_signo == SIGWINCH) {
                                        if (!read_only)
                                                send_winsize(sock);
                                } else
                                        leave = true;
                        }
                        if (leave)
                                break;
                }
        }
        term_restore(&ts);
        if (may_answer)
                term_discard_answers();
        if (!ctx->quiet)
                fprintf(stderr, "\nDisconnected from machine %s: %s.\n", name, why);
        return 0;
}
