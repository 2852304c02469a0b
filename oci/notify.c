/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sd_notify through berth-oci, as runc does it: when the engine calls us
 * with NOTIFY_SOCKET (podman --sdnotify=container, a unit of Type=notify),
 * the container gets a socket of ours, ROOT/ID/notify/notify.sock, bound
 * into it at NOTIFY_CONTAINER_DIR; "start" listens on it and, when the
 * container's init says READY=1 (systemd does once it has booted), passes
 * READY=1 and MAINPID on to the engine's socket and returns.  Nothing
 * else stays behind to relay later messages. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "oci.h"
#include "util.h"

#define NOTIFY_CONTAINER_DIR "/run/.berth-notify"
#define NOTIFY_NAME "notify.sock"

const char *notify_socket_from_env(void) {
        const char *p = secure_getenv("NOTIFY_SOCKET");
        /* An abstract socket ("@...") cannot be bound into a container's mount namespace. */
        if (isempty(p) || p[0] != '/' || strlen(p) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return NULL;
        return p;
}

int notify_prepare(OciSpec *s, int statefd, uid_t uid, gid_t gid, const char *state_dir) {
        if (mkdirat(statefd, "notify", 0755) < 0 && errno != EEXIST)
                return -errno;
        if (fchownat(statefd, "notify", uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        OciMount *m = realloc(s->mounts, (s->n_mounts + 1) * sizeof(OciMount));
        if (!m)
                abort();
        s->mounts = m;
        char **opts = strv_append(strv_append(NULL, "bind"), "nosuid");
        opts = strv_append(strv_append(opts, "nodev"), "noexec");
        s->mounts[s->n_mounts++] = (OciMount) { .destination = xstrdup(NOTIFY_CONTAINER_DIR), .type = xstrdup("bind"),
                                                .source = xasprintf("%s/notify", state_dir), .options = opts };
        oci_env_set(&s->process, "NOTIFY_SOCKET", NOTIFY_CONTAINER_DIR "/" NOTIFY_NAME, true);
        return 0;
}

int notify_listen(int statefd, uid_t uid, gid_t gid, int *ret) {
        _cleanup_close_ int dir = openat(statefd, "notify", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        (void) unlinkat(dir, NOTIFY_NAME, 0);
        _cleanup_close_ int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s < 0)
                return -errno;
        /* Bound through /proc/self/fd: no path of the state dir is looked up again. */
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/" NOTIFY_NAME, dir);
        if (bind(s, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        /* The container's root (maybe a mapped ID) must be able to send to it. */
        if (fchownat(dir, NOTIFY_NAME, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 || fchmodat(dir, NOTIFY_NAME, 0600, 0) < 0)
                return -errno;
        *ret = TAKE_FD(s);
        return 0;
}

/* Send TEXT to the engine's socket PATH. */
static int notify_send(const char *path, const char *text) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        _cleanup_close_ int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -errno;
        return sendto(s, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *) &sa, sizeof sa) < 0 ? -errno : 0;
}

int notify_wait_ready(int sock, const char *engine_socket, pid_t pid, int pidfd) {
        for (;;) {
                struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
                if (poll(p, pidfd >= 0 ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[0].revents & POLLIN) {
                        char buf[4096];
                        ssize_t n = recv(sock, buf, sizeof buf - 1, 0);
                        if (n < 0)
                                continue;
                        buf[n] = 0;
                        /* Messages are newline-separated assignments; only READY=1 ends the wait. */
                        for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                                if (streq(l, "READY=1")) {
                                        char msg[64];
                                        snprintf(msg, sizeof msg, "READY=1\nMAINPID=%d\n", (int) pid);
                                        return notify_send(engine_socket, msg);
                                }
                }
                /* The init exited before it was ready: nothing will come. */
                if (pidfd >= 0 && (p[1].revents & POLLIN))
                        return -ECHILD;
        }
}
