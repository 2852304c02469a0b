/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "oci.h"
#include "util.h"

int sync_send(int sock, SyncType type, int value, const char *text) {
        SyncMsg m = { .type = (int) type, .value = value };
        if (text)
                snprintf(m.text, sizeof m.text, "%s", text);
        ssize_t n = send(sock, &m, sizeof m, MSG_NOSIGNAL);
        return n == (ssize_t) sizeof m ? 0 : n < 0 ? -errno : -EIO;
}

int sync_send_fd(int sock, SyncType type, const char *text, int fd) {
        SyncMsg m = { .type = (int) type };
        snprintf(m.text, sizeof m.text, "%s", text ?: "");
        struct iovec iov = { .iov_base = &m, .iov_len = sizeof m };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof control };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        return n == (ssize_t) sizeof m ? 0 : n < 0 ? -errno : -EIO;
}

int sync_recv(int sock, SyncMsg *ret, int *ret_fd) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = ret, .iov_len = sizeof *ret };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof control };
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                return -EPIPE;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        int fd = -EBADF;
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
                memcpy(&fd, CMSG_DATA(c), sizeof(int));
        if (n != (ssize_t) sizeof *ret || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                if (fd >= 0)
                        close(fd);
                return -EBADMSG;
        }
        ret->text[sizeof ret->text - 1] = 0;
        if (ret_fd)
                *ret_fd = fd;
        else if (fd >= 0)
                close(fd);
        return 0;
}

void sync_fail(int sock, int r, const char *fmt, ...) {
        char text[2048];
        int saved = errno;
        errno = r < 0 ? -r : r;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        errno = saved;
        (void) sync_send(sock, SYNC_ERROR, r < 0 ? r : -r, text);
        _exit(EXIT_FAILURE);
}

int console_socket_send(const char *path, int master, const char *name) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -errno;
        if (connect(s, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        /* One message, exactly one fd, the pty's name as the data: what
         * conmon and containerd's console package read. */
        struct iovec iov = { .iov_base = (void *) name, .iov_len = strlen(name) };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof control };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &master, sizeof(int));
        return sendmsg(s, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}
