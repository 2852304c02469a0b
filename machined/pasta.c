/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/nsfs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "fs.h"
#include "log.h"
#include "pasta.h"
#include "spawn.h"
#include "util.h"

void pasta_stop(Pasta *p) {
        if (p->pidfd < 0)
                return;
        (void) syscall(SYS_pidfd_send_signal, p->pidfd, SIGTERM, NULL, 0);
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
        _cleanup_free_ char *pidfile = xasprintf("%s/pasta.pid", run);
        (void) unlinkat(run_fd, "pasta.pid", 0);

        size_t max = 24 + 4 * n_ports;
        _cleanup_free_ char **argv = xcalloc(max, sizeof *argv);
        _cleanup_free_ char *bufs = xcalloc(max, 16);
        size_t n = 0;
        argv[n++] = (char *) PASTA_PATH;
        argv[n++] = (char *) "--config-net";
        argv[n++] = (char *) "--quiet";
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

        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0) {
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
        /* pasta goes to the background once the namespace is configured. */
        int st = wait_child(pid);
        if (st < 0)
                return log_error_errno(st, "waitid failed: %m");
        if (st != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO),
                                       "pasta failed (exit status %d) to give the machine a network; see above. "
                                       "It needs /dev/net/tun readable and writable by you (mode 0666, as udev "
                                       "makes it), or set [Network] Mode=none.", st);
        _cleanup_free_ char *text = NULL;
        r = read_file_at(run_fd, "pasta.pid", 64, &text, NULL);
        uint64_t v = 0;
        if (r >= 0)
                r = safe_atou64_n(text, strcspn(text, "\n"), &v);
        if (r < 0 || v == 0 || v > INT32_MAX)
                return log_error_errno(r < 0 ? r : -EBADMSG, "Cannot read the pid of pasta from %s: %m", pidfile);
        p->pidfd = (int) syscall(SYS_pidfd_open, (pid_t) v, 0);
        if (p->pidfd < 0)
                return log_error_errno(errno, "pasta (pid %llu) is gone: %m", (unsigned long long) v);
        *ret_resolv_conf = xstrdup("nameserver " PASTA_DNS "\n");
        return 0;
}
