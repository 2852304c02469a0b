/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "fdpass.h"

typedef union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
} FdControl;

int send_fds(int sock, const int *fds, size_t n) {
        if (n < 1 || n > FDPASS_MAX)
                return -EINVAL;
        char dummy = (char) n;
        struct iovec iov = { .iov_base = &dummy, .iov_len = 1 };
        FdControl control = {};
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
        return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int recv_fds(int sock, int *fds, size_t n) {
        if (n < 1 || n > FDPASS_MAX)
                return -EINVAL;
        char dummy;
        struct iovec iov = { .iov_base = &dummy, .iov_len = 1 };
        FdControl control = {};
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof control };
        ssize_t r;
        do
                r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        if (r == 0)
                return -EPIPE; /* the peer failed before it could send anything */
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len != CMSG_LEN(sizeof(int) * n))
                return -EBADMSG;
        memcpy(fds, CMSG_DATA(c), sizeof(int) * n);
        return 0;
}
