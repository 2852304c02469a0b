/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ready-wait SOCKET SECONDS COMMAND [ARG...]: start COMMAND (in a session of
 * its own, NOTIFY_SOCKET=SOCKET in its environment, output to /dev/null),
 * print its pid, and exit 0 as soon as a datagram on SOCKET carries the line
 * READY=1.  Exits 1 after SECONDS, or when COMMAND fails (a COMMAND that
 * exits 0, like lxc-start daemonizing, is waited past).  The bench's way to
 * learn that a guest's systemd has booted without polling it: polling costs
 * every tool CPU time that the booting guest would otherwise get. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int has_ready_line(const char *msg) {
        for (const char *p = msg; p; p = strchr(p, '\n')) {
                if (*p == '\n')
                        p++;
                if (strncmp(p, "READY=1", 7) == 0 && (p[7] == '\n' || p[7] == '\0'))
                        return 1;
        }
        return 0;
}

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
        if (argc < 4) {
                fprintf(stderr, "usage: ready-wait SOCKET SECONDS COMMAND [ARG...]\n");
                return 2;
        }
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(argv[1]) >= sizeof sa.sun_path) {
                fprintf(stderr, "ready-wait: socket path too long: %s\n", argv[1]);
                return 2;
        }
        strcpy(sa.sun_path, argv[1]);
        long long deadline = now_ms() + atol(argv[2]) * 1000LL;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        (void) unlink(argv[1]);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                fprintf(stderr, "ready-wait: cannot bind %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        pid_t pid = fork();
        if (pid < 0)
                return 1;
        if (pid == 0) {
                setsid();
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0) {
                        (void) dup2(null, STDOUT_FILENO);
                        (void) dup2(null, STDERR_FILENO);
                }
                setenv("NOTIFY_SOCKET", argv[1], 1);
                execvp(argv[3], argv + 3);
                _exit(127);
        }
        printf("%d\n", (int) pid);
        fflush(stdout);
        int ret = 1;
        for (;;) {
                int status;
                if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
                        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                                break;
                        pid = 0; /* daemonized: its guest still reports */
                }
                long long left = deadline - now_ms();
                if (left <= 0)
                        break;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                /* Short slices while COMMAND may still exit: a failed start must not cost the timeout. */
                if (poll(&p, 1, pid > 0 && left > 50 ? 50 : (int) left) <= 0)
                        continue;
                char buf[4096];
                ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
                if (n < 0)
                        continue;
                buf[n] = '\0';
                if (has_ready_line(buf)) {
                        ret = 0;
                        break;
                }
        }
        (void) unlink(argv[1]);
        return ret;
}
