/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/nsfs.h>
#include <signal.h>
#include <linux/sched.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>

#include "fs.h"
#include "log.h"
#include "pasta-leftover.h"
#include "pasta.h"
#include "runtime.h"
#include "spawn.h"
#include "util.h"

/* How long pasta may take to configure the machine's network. */
#define PASTA_READY_TIMEOUT_USEC (30 * 1000000ULL)

void pasta_stop(Pasta *p) {
        if (p->pidfd < 0)
                return;
        /* Our child: reaped here, not left a zombie for the main loop. */
        (void) syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
        siginfo_t si;
        (void) waitid(P_PIDFD, (id_t) p->pidfd, &si, WEXITED);
        closep(&p->pidfd);
}

/* "-t" or "-u" with "HOST:GUEST" for each forward of PROTOCOL; "none"
 * without one: pasta's default forwards every port the machine binds. */
static void add_ports(char **argv, size_t *n, char *bufs, const PortForward *ports, size_t n_ports,
                      PortProtocol protocol, const char *opt) {
        bool any = false;
        for (size_t i = 0; i < n_ports; i++) {
                if (ports[i].protocol != protocol)
                        continue;
                char *b = bufs + 16 * (*n);
                snprintf(b, 16, "%u:%u", ports[i].host_port, ports[i].guest_port);
                argv[(*n)++] = (char *) opt;
                argv[(*n)++] = b;
                any = true;
        }
        if (!any) {
                argv[(*n)++] = (char *) opt;
                argv[(*n)++] = (char *) "none";
        }
}

/* pasta's pid from RUN_FD/pasta.pid, once written (0: not yet). */
static uint64_t read_pid(int run_fd) {
        _cleanup_free_ char *text = NULL;
        uint64_t v = 0;
        if (read_file_at(run_fd, PASTA_PID_FILE, 64, &text, NULL) < 0 || !strchr(text, '\n') ||
            safe_atou64_n(text, strcspn(text, "\n"), &v) < 0 || v > INT32_MAX)
                return 0;
        return v;
}

/* Until pasta (the child PIDFD) has written its pid file: 0 with the pid,
 * -ECHILD if it exited first (the caller reaps it), -ETIMEDOUT. */
static int wait_ready(int run_fd, int ino, int pidfd, uint64_t *ret_pid) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + PASTA_READY_TIMEOUT_USEC;
        for (;;) {
                uint64_t v = read_pid(run_fd);
                if (v > 0) {
                        *ret_pid = v;
                        return 0;
                }
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd pf[2] = { { .fd = ino, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
                int n = poll(pf, 2, (int) ((deadline - now) / 1000 + 1));
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n > 0 && (pf[1].revents & POLLIN) && read_pid(run_fd) == 0)
                        return -ECHILD;
                char buf[4096];
                while (read(ino, buf, sizeof buf) > 0)
                        ;
        }
}

int pasta_start(Pasta *p, int run_fd, int netns_fd, const PortForward *ports, size_t n_ports,
                char **ret_resolv_conf) {
        pasta_stop(p);
        _cleanup_close_ int userns = ioctl(netns_fd, NS_GET_USERNS);
        if (userns < 0)
                return log_error_errno(errno, "Failed to find the user namespace of the machine's network: %m");
        _cleanup_free_ char *run = NULL;
        int r = fd_get_path(run_fd, &run);
        if (r < 0)
                return log_error_errno(r, "Failed to find the runtime directory: %m");
        _cleanup_free_ char *pidfile = xasprintf("%s/" PASTA_PID_FILE, run);
        /* One an older supervisor of this machine left (pasta-leftover.h). */
        (void) pasta_leftover_kill(run_fd);

        size_t max = 24 + 4 * n_ports;
        _cleanup_free_ char **argv = xcalloc(max, sizeof *argv);
        _cleanup_free_ char *bufs = xcalloc(max, 16);
        size_t n = 0;
        argv[n++] = (char *) PASTA_PATH;
        argv[n++] = (char *) "--config-net";
        argv[n++] = (char *) "--quiet";
        argv[n++] = (char *) "--foreground";
        argv[n++] = (char *) "--no-map-gw";
        argv[n++] = (char *) "--dns-forward";
        argv[n++] = (char *) PASTA_DNS;
        argv[n++] = (char *) "--netns";
        argv[n++] = (char *) "/proc/self/fd/3";
        argv[n++] = (char *) "--userns";
        argv[n++] = (char *) "/proc/self/fd/4";
        argv[n++] = (char *) "--pid";
        argv[n++] = pidfile;
        add_ports(argv, &n, bufs, ports, n_ports, PORT_TCP, "-t");
        add_ports(argv, &n, bufs, ports, n_ports, PORT_UDP, "-u");
        argv[n++] = (char *) "-T";
        argv[n++] = (char *) "none";
        argv[n++] = (char *) "-U";
        argv[n++] = (char *) "none";
        argv[n] = NULL;

        /* Watched before pasta starts: it writes its pid there once the
         * namespace is configured, our sign that the machine may boot. */
        _cleanup_close_ int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ino < 0 || inotify_add_watch(ino, run, IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
                return log_error_errno(errno, "Failed to watch %s for pasta's pid: %m", run);

        pid_t parent = getpid();
        int pidfd = -EBADF;
        struct clone_args args = {
                .flags = CLONE_PIDFD,
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
                .exit_signal = SIGCHLD,
        };
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0)
                return log_error_errno(errno, "Failed to start pasta: %m");
        if (pid == 0) {
                /* In the foreground, our child: it dies with us, SIGKILL
                 * included, rather than keep the forwards and the
                 * machine's network namespace alive. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                /* Our signalfd's blocked signals and ignored SIGPIPE are not pasta's. */
                sigset_t none;
                sigemptyset(&none);
                for (int sig = 1; sig < _NSIG; sig++)
                        (void) signal(sig, SIG_DFL);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                /* The namespaces as fds 3 and 4, named by /proc/self/fd paths. */
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(netns_fd, 3) < 0 || dup2(userns, 4) < 0)
                        _exit(127);
                (void) syscall(SYS_close_range, 5U, ~0U, 0U);
                execv(argv[0], argv);
                fprintf(stderr, "berth-machined: failed to execute %s: %m\n", argv[0]);
                _exit(127);
        }
        _cleanup_close_ int child = pidfd;
        uint64_t v = 0;
        r = wait_ready(run_fd, ino, child, &v);
        if (r < 0) {
                (void) syscall(SYS_pidfd_send_signal, child, SIGKILL, NULL, 0);
                siginfo_t si = {};
                (void) waitid(P_PIDFD, (id_t) child, &si, WEXITED);
                if (r == -ECHILD) {
                        int st = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
                        return log_error_errno(SYNTHETIC_ERRNO(EIO),
                                               "pasta failed (exit status %d) to give the machine a network; see "
                                               "above. It needs /dev/net/tun readable and writable by you (mode "
                                               "0666, as udev makes it), or set [Network] Mode=none.", st);
                }
                return log_error_errno(r, "pasta did not report its pid in %s: %m", pidfile);
        }
        if (v != (uint64_t) pid)
                log_debug("pasta wrote pid %llu, started as %ld.", (unsigned long long) v, pid);
        p->pidfd = TAKE_FD(child);
        *ret_resolv_conf = xstrdup("nameserver " PASTA_DNS "\n");
        return 0;
}
