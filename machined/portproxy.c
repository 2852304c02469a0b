/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <netinet/in.h>
#include <sys/socket.h>

#include "log.h"
#include "portproxy.h"
#include "util.h"

#define PROXY_BUFFER 16384

/* One relayed connection: side 0 the client on ::1, side 1 the machine. */
struct ProxyConnection {
        int fd[2];
        bool connecting;           /* side 1's connect() is under way */
        char buf[2][PROXY_BUFFER]; /* buf[i]: read from side i, not yet written to the other */
        size_t len[2], off[2];
        bool eof[2];               /* side i said EOF */
        bool shut[2];              /* we shut side i's writing half */
        int poll_index;            /* of side 0 in the last fill, -1: not polled yet */
};

static void connection_free(ProxyConnection *c) {
        if (!c)
                return;
        closep(&c->fd[0]);
        closep(&c->fd[1]);
        free(c);
}

void portproxy_open(PortProxy *p, const PortForward *ports, size_t n_ports, const IPAddr *target) {
        for (size_t i = 0; i < n_ports && p->n_listeners < PORTPROXY_LISTENERS_MAX; i++) {
                if (ports[i].protocol != PORT_TCP)
                        continue;
                _cleanup_close_ int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        log_warning_errno(errno, "No forward on [::1]:%u (socket: %m).", ports[i].host_port);
                        continue;
                }
                int one = 1;
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
                struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(ports[i].host_port),
                                           .sin6_addr = IN6ADDR_LOOPBACK_INIT };
                if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
                        log_warning_errno(errno, "No forward on [::1]:%u (%m); it works on every other address.",
                                          ports[i].host_port);
                        continue;
                }
                size_t k = p->n_listeners++;
                p->listen_fd[k] = TAKE_FD(fd);
                p->target[k] = *target;
                p->target_port[k] = ports[i].guest_port;
        }
}

void portproxy_close(PortProxy *p) {
        for (size_t i = 0; i < p->n_listeners; i++)
                closep(&p->listen_fd[i]);
        p->n_listeners = 0;
        for (size_t i = 0; i < PORTPROXY_CONNECTIONS_MAX; i++) {
                connection_free(p->conns[i]);
                p->conns[i] = NULL;
        }
}

size_t portproxy_fill_pollfds(PortProxy *p, struct pollfd *fds) {
        size_t n = 0;
        for (size_t i = 0; i < p->n_listeners; i++)
                fds[n++] = (struct pollfd) { .fd = p->listen_fd[i], .events = POLLIN };
        for (size_t i = 0; i < PORTPROXY_CONNECTIONS_MAX; i++) {
                ProxyConnection *c = p->conns[i];
                if (!c)
                        continue;
                c->poll_index = (int) n;
                for (int s = 0; s < 2; s++) {
                        short ev = 0;
                        if (!c->connecting && !c->eof[s] && c->len[s] == 0)
                                ev |= POLLIN;
                        if (c->len[!s] > 0 || (s == 1 && c->connecting))
                                ev |= POLLOUT;
                        /* A side that said EOF and has nothing to receive is done:
                         * not polled, or its POLLHUP would wake us forever. */
                        int fd = c->eof[s] && c->len[!s] == 0 && !c->connecting ? -1 : c->fd[s];
                        fds[n++] = (struct pollfd) { .fd = fd, .events = ev };
                }
        }
        return n;
}

static void accept_one(PortProxy *p, size_t listener) {
        _cleanup_close_ int client = accept4(p->listen_fd[listener], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0)
                return;
        size_t slot = 0;
        while (slot < PORTPROXY_CONNECTIONS_MAX && p->conns[slot])
                slot++;
        if (slot == PORTPROXY_CONNECTIONS_MAX)
                return; /* full: the client sees the connection close */

        _cleanup_close_ int up = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (up < 0)
                return;
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(p->target_port[listener]) };
        memcpy(&sa.sin6_addr, p->target[listener].bytes, 16);
        bool connecting = false;
        if (connect(up, (struct sockaddr *) &sa, sizeof sa) < 0) {
                if (errno != EINPROGRESS)
                        return;
                connecting = true;
        }
        ProxyConnection *c = xcalloc(1, sizeof *c);
        c->fd[0] = TAKE_FD(client);
        c->fd[1] = TAKE_FD(up);
        c->connecting = connecting;
        c->poll_index = -1;
        p->conns[slot] = c;
}

/* Move what side S has read to the other side; false when the connection is done. */
static bool connection_flush(ProxyConnection *c, int s) {
        while (c->len[s] > c->off[s]) {
                ssize_t k = send(c->fd[!s], c->buf[s] + c->off[s], c->len[s] - c->off[s], MSG_NOSIGNAL);
                if (k < 0)
                        return errno == EAGAIN || errno == EINTR;
                c->off[s] += (size_t) k;
        }
        c->len[s] = c->off[s] = 0;
        if (c->eof[s] && !c->shut[!s]) {
                (void) shutdown(c->fd[!s], SHUT_WR);
                c->shut[!s] = true;
        }
        return true;
}

static bool connection_step(ProxyConnection *c, const struct pollfd *fds) {
        /* poll() reports errors and hangups whatever we asked for: an error
         * ends the connection, and so does a hangup of a side we still owe
         * data (it can never be delivered), or of the client while we connect. */
        for (int s = 0; s < 2; s++) {
                if (fds[s].revents & POLLERR)
                        return false;
                if ((fds[s].revents & POLLHUP) && (c->len[!s] > 0 || (s == 0 && c->connecting)))
                        return false;
        }
        if (c->connecting) {
                if (!(fds[1].revents & (POLLOUT | POLLERR | POLLHUP)))
                        return true;
                int err = 0;
                socklen_t l = sizeof err;
                if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0)
                        return false;
                c->connecting = false;
        }
        for (int s = 0; s < 2; s++) {
                if (c->len[s] == 0 && !c->eof[s] && (fds[s].revents & (POLLIN | POLLHUP | POLLERR))) {
                        ssize_t k = recv(c->fd[s], c->buf[s], sizeof c->buf[s], 0);
                        if (k < 0 && errno != EAGAIN && errno != EINTR)
                                return false;
                        if (k == 0)
                                c->eof[s] = true;
                        if (k > 0)
                                c->len[s] = (size_t) k;
                }
                if (!connection_flush(c, s))
                        return false;
        }
        return !(c->eof[0] && c->eof[1] && c->len[0] == 0 && c->len[1] == 0);
}

void portproxy_dispatch(PortProxy *p, const struct pollfd *fds, size_t n) {
        /* Connections first, by the indexes of the fill: accepting below
         * may take free slots, which were not polled. */
        for (size_t i = 0; i < PORTPROXY_CONNECTIONS_MAX; i++) {
                ProxyConnection *c = p->conns[i];
                if (!c || c->poll_index < 0 || (size_t) c->poll_index + 1 >= n)
                        continue;
                if (!connection_step(c, fds + c->poll_index)) {
                        connection_free(c);
                        p->conns[i] = NULL;
                }
        }
        for (size_t i = 0; i < p->n_listeners && i < n; i++)
                if (fds[i].revents & POLLIN)
                        accept_one(p, i);
}
