/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>

#include "console.h"
#include "log.h"
#include "runtime.h"
#include "util.h"

static int console_log_open(Console *c) {
        closep(&c->log_fd);
        closep(&c->times_fd);
        /* berth logs --since/-o short-iso: when each chunk came (best effort). */
        c->times_fd = openat(c->dir_fd, "console.times", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
                             0600);
        c->log_fd = openat(c->dir_fd, "console.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (c->log_fd < 0)
                return -errno;
        struct stat st;
        c->log_size = fstat(c->log_fd, &st) == 0 ? (size_t) st.st_size : 0;
        return 0;
}

/* The socket's path may be long (a test's --root): bind through the dir fd. */
static int console_listen(Console *c) {
        (void) unlinkat(c->dir_fd, "console.sock", 0);
        c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->listen_fd < 0)
                return -errno;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/console.sock", c->dir_fd);
        if (bind(c->listen_fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        if (fchmodat(c->dir_fd, "console.sock", 0600, 0) < 0)
                return -errno;
        return RET_NERRNO(listen(c->listen_fd, CONSOLE_VIEWERS_MAX));
}

int console_open(Console *c, int run_dir_fd) {
        c->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (c->master < 0)
                return log_error_errno(errno, "Failed to allocate a console pty: %m");
        if (grantpt(c->master) < 0 || unlockpt(c->master) < 0)
                return log_error_errno(errno, "Failed to unlock the console pty: %m");
        char name[64];
        if (ptsname_r(c->master, name, sizeof name) != 0)
                return log_error_errno(errno, "Failed to name the console pty: %m");
        c->slave_path = xstrdup(name);
        c->slave_keep = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (c->slave_keep < 0)
                return log_error_errno(errno, "Failed to open %s: %m", name);

        /* The size until a viewer sets theirs.  Wide on purpose: systemd (252)
         * shortens status lines to the console width and can cut an ANSI
         * sequence in half ("\e" + "…"), after which terminals such as tmux
         * swallow the rest of the output, login prompt included. */
        struct winsize ws = { .ws_row = 48, .ws_col = 160 };
        (void) ioctl(c->master, TIOCSWINSZ, &ws);

        c->dir_fd = fcntl(run_dir_fd, F_DUPFD_CLOEXEC, 3);
        if (c->dir_fd < 0)
                return log_error_errno(errno, "Failed to dup runtime dir fd: %m");
        int r = console_log_open(c);
        if (r < 0)
                return log_error_errno(r, "Failed to open console.log: %m");
        c->history = xmalloc(CONSOLE_HISTORY);
        r = console_listen(c);
        if (r < 0)
                return log_error_errno(r, "Failed to create the console socket: %m");
        return 0;
}

static void viewer_drop(Console *c, size_t i) {
        closep(&c->viewers[i]->fd);
        free(c->viewers[i]);
        c->viewers[i] = c->viewers[--c->n_viewers];
}

void console_close(Console *c) {
        while (c->n_viewers > 0)
                viewer_drop(c, c->n_viewers - 1);
        closep(&c->master);
        closep(&c->slave_keep);
        if (c->listen_fd >= 0 && c->dir_fd >= 0)
                (void) unlinkat(c->dir_fd, "console.sock", 0);
        closep(&c->listen_fd);
        closep(&c->dir_fd);
        closep(&c->log_fd);
        closep(&c->times_fd);
        free(c->slave_path);
        free(c->history);
        *c = (Console) CONSOLE_INIT;
}

static void history_add(Console *c, const char *buf, size_t n) {
        if (n >= CONSOLE_HISTORY) {
                buf += n - CONSOLE_HISTORY;
                n = CONSOLE_HISTORY;
        }
        for (size_t k = 0; k < n; k++) {
                size_t pos = (c->history_start + c->history_len) % CONSOLE_HISTORY;
                c->history[pos] = buf[k];
                if (c->history_len < CONSOLE_HISTORY)
                        c->history_len++;
                else
                        c->history_start = (c->history_start + 1) % CONSOLE_HISTORY;
        }
}

/* Best effort, never blocking: a viewer that cannot take it loses it. */
static void viewer_send(ConsoleViewer *v, const char *buf, size_t n) {
        (void) !send(v->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int console_drain(Console *c) {
        char buf[16384];
        for (;;) {
                ssize_t n = read(c->master, buf, sizeof buf);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        /* EIO: no slave open right now (between boots). */
                        return errno == EIO ? 0 : -errno;
                }
                if (n == 0)
                        return 0;
                if (c->log_size + (size_t) n > CONSOLE_LOG_MAX) {
                        (void) renameat(c->dir_fd, "console.log", c->dir_fd, "console.log.1");
                        (void) renameat(c->dir_fd, "console.times", c->dir_fd, "console.times.1");
                        (void) console_log_open(c); /* keep draining even if the log is gone */
                }
                if (c->log_fd >= 0) {
                        if (c->times_fd >= 0)
                                (void) dprintf(c->times_fd, "%zu %llu\n", c->log_size,
                                               (unsigned long long) now_usec(CLOCK_REALTIME));
                        ssize_t w = write(c->log_fd, buf, (size_t) n);
                        if (w > 0)
                                c->log_size += (size_t) w;
                }
                if (c->to_stdout)
                        (void) !write(STDOUT_FILENO, buf, (size_t) n);
                history_add(c, buf, (size_t) n);
                for (size_t i = 0; i < c->n_viewers; i++)
                        if (c->viewers[i]->greeted)
                                viewer_send(c->viewers[i], buf, (size_t) n);
        }
}

size_t console_fill_pollfds(Console *c, struct pollfd *p) {
        size_t n = 0;
        bool pending = false;
        for (size_t i = 0; i < c->n_viewers; i++)
                pending = pending || c->viewers[i]->pending_len > 0;
        p[n++] = (struct pollfd) { .fd = c->master, .events = POLLIN | (pending ? POLLOUT : 0) };
        p[n++] = (struct pollfd) { .fd = c->listen_fd, .events = POLLIN };
        for (size_t i = 0; i < c->n_viewers; i++)
                p[n++] = (struct pollfd) { .fd = c->viewers[i]->fd,
                                           .events = c->viewers[i]->pending_len > 0 ? 0 : POLLIN };
        return n;
}

static void viewer_send_history(Console *c, ConsoleViewer *v) {
        size_t first = CONSOLE_HISTORY - c->history_start;
        if (first > c->history_len)
                first = c->history_len;
        viewer_send(v, c->history + c->history_start, first);
        if (c->history_len > first)
                viewer_send(v, c->history, c->history_len - first);
}

/* Write what V has for the guest as far as the pty takes it; the rest
 * stays pending.  True when nothing is left. */
static bool viewer_flush(Console *c, ConsoleViewer *v) {
        while (v->pending_len > 0) {
                ssize_t w = write(c->master, v->pending, v->pending_len);
                if (w < 0 && errno == EINTR)
                        continue;
                /* EAGAIN: full, wait for POLLOUT; EIO: between boots, kept for
                 * the next init. */
                if (w < 0)
                        return false;
                memmove(v->pending, v->pending + w, v->pending_len - (size_t) w);
                v->pending_len -= (size_t) w;
        }
        return true;
}

/* Obey the complete frames a viewer sent, in order, until one's data does
 * not fit into the guest's pty; false if the viewer must be dropped. */
static bool viewer_parse(Console *c, ConsoleViewer *v) {
        size_t off = 0;
        if (!v->greeted) {
                if (v->in_len == 0)
                        return true;
                if (v->in[0] != CONSOLE_MODE_WRITE && v->in[0] != CONSOLE_MODE_READ)
                        return false;
                v->writer = v->in[0] == CONSOLE_MODE_WRITE;
                v->greeted = true;
                off = 1;
                viewer_send_history(c, v);
        }
        while (v->pending_len == 0) {
                ConsoleFrame f;
                int r = console_frame_decode(v->in + off, v->in_len - off, &f);
                if (r == -EAGAIN)
                        break;
                if (r < 0)
                        return false;
                /* A read-only viewer's frames are ignored, not obeyed. */
                if (v->writer && f.type == CONSOLE_FRAME_DATA) {
                        memcpy(v->pending, f.payload, f.len);
                        v->pending_len = f.len;
                        (void) viewer_flush(c, v);
                } else if (v->writer && f.type == CONSOLE_FRAME_WINSIZE && f.len == CONSOLE_WINSIZE_LEN) {
                        struct winsize ws = {};
                        console_winsize_decode(f.payload, &ws.ws_row, &ws.ws_col);
                        if (ws.ws_row > 0 && ws.ws_col > 0)
                                (void) ioctl(c->master, TIOCSWINSZ, &ws);
                } else if (f.type != CONSOLE_FRAME_DATA && f.type != CONSOLE_FRAME_WINSIZE)
                        return false;
                off += f.size;
        }
        memmove(v->in, v->in + off, v->in_len - off);
        v->in_len -= off;
        return true;
}

/* Read what a viewer sent and obey it; false if it must be dropped. */
static bool viewer_input(Console *c, ConsoleViewer *v) {
        ssize_t n = recv(v->fd, v->in + v->in_len, sizeof v->in - v->in_len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                return false;
        if (n > 0)
                v->in_len += (size_t) n;
        return viewer_parse(c, v);
}

void console_dispatch(Console *c, const struct pollfd *p, size_t n) {
        if (n < 2)
                return;
        if (p[0].revents & ~POLLOUT)
                (void) console_drain(c);

        /* Viewers first (their indices match the pollfds), then new ones. */
        for (size_t k = n; k > 2; k--) {
                size_t i = k - 3;
                if (i >= c->n_viewers || !p[k - 1].revents)
                        continue;
                if (!viewer_input(c, c->viewers[i]))
                        viewer_drop(c, i);
        }
        /* Room in the guest's pty: what viewers had pending, then their next
         * frames (after the loop above: the pollfds no longer matter). */
        if (p[0].revents & POLLOUT)
                for (size_t i = c->n_viewers; i > 0; i--) {
                        ConsoleViewer *v = c->viewers[i - 1];
                        if (v->pending_len > 0 && viewer_flush(c, v) && !viewer_parse(c, v))
                                viewer_drop(c, i - 1);
                }
        if (p[1].revents & POLLIN) {
                int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd >= 0 && c->n_viewers < CONSOLE_VIEWERS_MAX) {
                        /* A big send buffer rides out bursts for slow viewers. */
                        int sz = 1 << 20;
                        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
                        ConsoleViewer *v = xmalloc(sizeof *v);
                        *v = (ConsoleViewer) { .fd = fd };
                        c->viewers[c->n_viewers++] = v;
                } else if (fd >= 0) {
                        /* Say so rather than leave the viewer hanging in the backlog. */
                        static const char full[] = "berth: too many viewers on this console, try again later.\r\n";
                        (void) !send(fd, full, sizeof full - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
                        close(fd);
                }
        }
}
