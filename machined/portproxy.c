/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fs.h"
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

/* ----- Host ports in use ----- */

/* The first socket of the kind a forward of PROTOCOL/PORT would take over
 * in /proc/thread-self/net/FILE: a TCP listener, or a bound unconnected UDP
 * socket (a connected one only gets answers, which conntrack keeps away
 * from the forward).  Returns 1 with its address and inode, 0 if none. */
static int proc_net_find(const char *file, bool v6, PortProtocol protocol, uint16_t port, IPAddr *ret_addr,
                         uint64_t *ret_inode) {
        _cleanup_free_ char *path = xasprintf("/proc/thread-self/net/%s", file);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno; /* no IPv6 in this kernel */
        /* TCP_LISTEN; TCP_CLOSE is what an unconnected UDP socket shows. */
        unsigned want_state = protocol == PORT_TCP ? 0x0A : 0x07;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        for (bool header = true; getline(&line, &size, f) >= 0; header = false) {
                char addr[33];
                unsigned lport, state;
                uint64_t inode;
                /* "sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode" */
                if (header || sscanf(line, " %*u: %32[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*u %*u %" SCNu64, addr,
                                     &lport, &state, &inode) != 4)
                        continue;
                if (lport != port || state != want_state || strlen(addr) != (v6 ? 32 : 8))
                        continue;
                /* The kernel prints the address as 32-bit words in host order. */
                IPAddr a = { .family = v6 ? AF_INET6 : AF_INET };
                for (size_t w = 0; w < (v6 ? 4 : 1); w++) {
                        char word[9];
                        memcpy(word, addr + 8 * w, 8);
                        word[8] = 0;
                        uint32_t v = (uint32_t) strtoul(word, NULL, 16);
                        memcpy(a.bytes + 4 * w, &v, 4);
                }
                *ret_addr = a;
                *ret_inode = inode;
                return 1;
        }
        return 0;
}

/* The process holding socket INODE: "python3 (pid 42)", or NULL. */
static char *socket_owner(uint64_t inode) {
        _cleanup_closedir_ DIR *proc = opendir("/proc");
        if (!proc)
                return NULL;
        char want[64];
        snprintf(want, sizeof want, "socket:[%" PRIu64 "]", inode);
        struct dirent *de;
        while ((de = readdir(proc))) {
                int pid;
                if (safe_atoi(de->d_name, &pid) < 0 || pid <= 0)
                        continue;
                _cleanup_free_ char *fdpath = xasprintf("/proc/%d/fd", pid);
                _cleanup_closedir_ DIR *fds = opendir(fdpath);
                struct dirent *fe;
                while (fds && (fe = readdir(fds))) {
                        char target[64];
                        ssize_t l = readlinkat(dirfd(fds), fe->d_name, target, sizeof target - 1);
                        if (l <= 0)
                                continue;
                        target[l] = 0;
                        if (!streq(target, want))
                                continue;
                        char commpath[64];
                        snprintf(commpath, sizeof commpath, "/proc/%d/comm", pid);
                        _cleanup_free_ char *comm = NULL;
                        if (read_file_at(AT_FDCWD, commpath, 64, &comm, NULL) < 0)
                                return xasprintf("pid %d", pid);
                        comm[strcspn(comm, "\n")] = 0;
                        return xasprintf("%s (pid %d)", comm, pid);
                }
        }
        return NULL;
}

int portproxy_check_host_ports(const PortForward *ports, size_t n_ports) {
        for (size_t i = 0; i < n_ports; i++) {
                const PortForward *p = ports + i;
                bool tcp = p->protocol == PORT_TCP;
                IPAddr a;
                uint64_t inode = 0;
                int r = proc_net_find(tcp ? "tcp" : "udp", false, p->protocol, p->host_port, &a, &inode);
                if (r == 0)
                        r = proc_net_find(tcp ? "tcp6" : "udp6", true, p->protocol, p->host_port, &a, &inode);
                if (r < 0)
                        return log_error_errno(r, "Cannot check whether host port %s/%u is in use "
                                               "(/proc/net/%s): %m",
                                               port_protocol_to_string(p->protocol), p->host_port,
                                               tcp ? "tcp" : "udp");
                if (r == 0)
                        continue;
                char buf[INET6_ADDRSTRLEN];
                _cleanup_free_ char *owner = inode > 0 ? socket_owner(inode) : NULL;
                return log_error_errno(SYNTHETIC_ERRNO(EADDRINUSE),
                                       "Host port %s/%u is in use: %s %s %s%s%s:%u on the host, and a forward "
                                       "would take it over. Stop that service, or forward another host "
                                       "port (Port=, --port).",
                                       port_protocol_to_string(p->protocol), p->host_port,
                                       owner ?: "a process", tcp ? "listens on" : "is bound to",
                                       a.family == AF_INET6 ? "[" : "", ipaddr_format(&a, buf),
                                       a.family == AF_INET6 ? "]" : "", p->host_port);
        }
        return 0;
}
