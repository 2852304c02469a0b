/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fs.h"
#include "log.h"
#include "notify.h"
#include "util.h"

int notify_open(Notify *n, int run_dir_fd, const char *run_dir_path) {
        (void) rm_rf_at(run_dir_fd, "notify");
        /* 0755: the machine's root (an unprivileged host UID) must reach the socket. */
        if (mkdirat(run_dir_fd, "notify", 0755) < 0)
                return log_error_errno(errno, "Failed to create the notify directory: %m");
        _cleanup_close_ int dfd = open_dir_nofollow(run_dir_fd, "notify");
        if (dfd < 0)
                return log_error_errno(dfd, "Failed to open the notify directory: %m");
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (n->fd < 0)
                return log_error_errno(errno, "Failed to create the notify socket: %m");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/notify", dfd);
        if (bind(n->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return log_error_errno(errno, "Failed to bind the notify socket: %m");
        /* The kernel tells us the sender (as a host PID). */
        int one = 1;
        if (setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return log_error_errno(errno, "Failed to enable SO_PASSCRED on the notify socket: %m");
        /* Only this machine sees the directory (RUN/NAME is 0700 on the host). */
        if (fchmodat(dfd, "notify", 0666, 0) < 0)
                return log_error_errno(errno, "Failed to open up the notify socket: %m");
        n->dir = xasprintf("%s/notify", run_dir_path);
        return 0;
}

void notify_close(Notify *n) {
        closep(&n->fd);
        free(n->dir);
        *n = (Notify) NOTIFY_INIT;
}

bool notify_read_ready(Notify *n, pid_t init_pid) {
        bool ready = false;
        for (;;) {
                char buf[4096];
                union {
                        struct cmsghdr h;
                        char b[CMSG_SPACE(sizeof(struct ucred))];
                } control = {};
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                     .msg_controllen = sizeof control };
                ssize_t k = recvmsg(n->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (k < 0)
                        break;
                buf[k] = 0;
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                struct ucred cred = {};
                if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                    c->cmsg_len == CMSG_LEN(sizeof cred))
                        memcpy(&cred, CMSG_DATA(c), sizeof cred);
                if (cred.pid != init_pid)
                        continue;
                /* Newline-separated assignments; only READY=1 matters here. */
                for (char *line = buf, *e; *line; line = e) {
                        e = strchrnul(line, '\n');
                        if (*e)
                                *e++ = 0;
                        if (streq(line, "READY=1"))
                                ready = true;
                }
        }
        return ready;
}
