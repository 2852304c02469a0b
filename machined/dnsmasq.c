/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "fs.h"
#include "hash.h"
#include "log.h"
#include "net-internal.h"
#include "spawn.h"
#include "unit.h"
#include "util.h"

#define DNSMASQ_PATH "/usr/sbin/dnsmasq"
/* dnsmasq's own state, outside the root-only namespace dirs: see dnsmasq_dir_open(). */
#define DNSMASQ_RUN_DIR NETWORK_RUN_DIR "/dnsmasq"
#define DNSMASQ_USER "nobody"
#define DNSMASQ_STOP_TIMEOUT_MS 3000
/* One file per machine, which dnsmasq reads as it appears (inotify): a
 * start adds one file and signals nothing (see dnsmasq_update()). */
#define DNSMASQ_HOSTS_DIR "hosts.d"

/* ----- dnsmasq: DHCP (the same addresses berth assigns) and DNS ----- */

/* The dir of bridge BRIDGE's dnsmasq in the namespace whose state dir is
 * NS_PATH: DNSMASQ_RUN_DIR/COOKIE-BRIDGE. */
char *dnsmasq_dir_path(const char *ns_path, const char *bridge) {
        const char *cookie = strrchr(ns_path, '/');
        return xasprintf(DNSMASQ_RUN_DIR "/%s-%s", cookie ? cookie + 1 : ns_path, bridge);
}

/* The user dnsmasq drops to, and its group.  Returns 0 or -ENOENT, logged. */
static int dnsmasq_user(gid_t *ret_gid, char **ret_group) {
        struct passwd *pw = getpwnam(DNSMASQ_USER);
        struct group *gr = pw ? getgrgid(pw->pw_gid) : NULL;
        if (!gr)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT),
                                       "No user \"" DNSMASQ_USER "\" (or no group of it) on this host: dnsmasq "
                                       "runs as that user; add it.");
        if (ret_gid)
                *ret_gid = gr->gr_gid;
        if (ret_group)
                *ret_group = xstrdup(gr->gr_name);
        return 0;
}

/* dnsmasq reads its hosts file after dropping root (on every SIGHUP too),
 * so it cannot live in the root-only namespace dir: it gets a dir of its
 * own for its pid, hosts, leases and log, owned by root and readable by
 * dnsmasq's group only (0750; the hosts file 0640), so that it can read
 * but not write there, and root never works in a dir that an unprivileged
 * process can change.  With CREATE, made (and its mode fixed) when
 * missing.  Returns the dir fd, -ENOENT. */
int dnsmasq_dir_open(const char *path, bool create) {
        if (create) {
                if (mkdir(DNSMASQ_RUN_DIR, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", DNSMASQ_RUN_DIR);
                if (mkdir(path, 0750) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", path);
        }
        _cleanup_close_ int fd = open_dir_nofollow(AT_FDCWD, path);
        if (fd < 0) {
                if (fd == -ENOENT && !create)
                        return fd;
                return log_error_errno(fd, "Cannot open %s: %m", path);
        }
        if (!create)
                return TAKE_FD(fd);
        gid_t gid;
        int r = dnsmasq_user(&gid, NULL);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Cannot inspect %s: %m", path);
        if ((st.st_uid != 0 || st.st_gid != gid) && fchown(fd, 0, gid) < 0)
                return log_error_errno(errno, "Cannot give %s to group %u: %m", path, (unsigned) gid);
        if ((st.st_mode & 07777) != 0750 && fchmod(fd, 0750) < 0)
                return log_error_errno(errno, "Cannot set the mode of %s: %m", path);
        return TAKE_FD(fd);
}

static pid_t dnsmasq_running(int dfd) {
        _cleanup_free_ char *text = NULL;
        int pid;
        if (read_file_at(dfd, "pid", 64, &text, NULL) < 0)
                return 0;
        text[strcspn(text, "\n")] = 0;
        if (safe_atoi(text, &pid) < 0 || pid <= 1)
                return 0;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/comm", pid);
        _cleanup_free_ char *comm = NULL;
        if (read_file_at(AT_FDCWD, path, 64, &comm, NULL) < 0 || !startswith(comm, "dnsmasq"))
                return 0;
        /* Guests' processes are visible here too, and a guest may well run a
         * dnsmasq under a recycled pid: ours lives in our network namespace. */
        return same_namespace(pid, "net") ? pid : 0;
}

/* Stop the bridge's dnsmasq and wait for it to go, so that a new one can
 * bind the same addresses right away. */
void dnsmasq_stop(int dfd) {
        pid_t pid = dnsmasq_running(dfd);
        if (pid > 0) {
                _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                (void) kill(pid, SIGTERM);
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                if (pidfd >= 0 && poll(&p, 1, DNSMASQ_STOP_TIMEOUT_MS) == 0)
                        (void) kill(pid, SIGKILL);
        }
        (void) unlinkat(dfd, "pid", 0);
}

static int dnsmasq_start(const char *dir, const BridgeView *b) {
        char gw[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN], net6[INET6_ADDRSTRLEN], mask[INET6_ADDRSTRLEN];
        IPAddr g = ipnet_host(&b->subnet, 1);
        IPAddr m = { .family = AF_INET };
        m.v4.s_addr = htonl(b->subnet.prefixlen == 0 ? 0 : ~UINT32_C(0) << (32 - b->subnet.prefixlen));
        ipaddr_format(&g, gw);
        ipaddr_format(&b->subnet.addr, net);
        ipaddr_format(&b->subnet6.addr, net6);
        ipaddr_format(&m, mask);

        _cleanup_free_ char *group = NULL;
        int r = dnsmasq_user(NULL, &group);
        if (r < 0)
                return r;
        _cleanup_free_ char *a_group = xasprintf("--group=%s", group),
                            *a_pid = xasprintf("--pid-file=%s/pid", dir),
                            *a_if = xasprintf("--interface=%s", b->name),
                            *a_range = xasprintf("--dhcp-range=%s,static,%s", net, mask),
                            *a_range6 = xasprintf("--dhcp-range=%s,static,%u", net6, b->subnet6.prefixlen),
                            *a_hosts = xasprintf("--dhcp-hostsdir=%s/" DNSMASQ_HOSTS_DIR, dir),
                            *a_leases = xasprintf("--dhcp-leasefile=%s/leases", dir),
                            *a_router = xasprintf("--dhcp-option=option:router,%s", gw),
                            *a_dns = xasprintf("--dhcp-option=option:dns-server,%s", gw),
                            *a_log = xasprintf("--log-facility=%s/log", dir),
                            /* dnsmasq's own default is 1000 leases: a fleet on a
                             * large subnet would get no address past that. */
                            *a_leasemax = xasprintf("--dhcp-lease-max=%u", ipnet_host_max(&b->subnet));
        char *argv[] = { (char *) DNSMASQ_PATH, (char *) "--conf-file=/dev/null", (char *) "--user=" DNSMASQ_USER,
                         a_group, a_pid, a_if,
                         (char *) "--bind-interfaces", (char *) "--except-interface=lo", a_hosts, a_leases, a_router, a_dns, (char *) "--dhcp-authoritative",
                         (char *) "--quiet-dhcp", (char *) "--quiet-ra", a_log, a_leasemax, a_range,
                         /* Stateful DHCPv6 with each machine's own address, and
                          * router advertisements with the "managed" flag and no
                          * SLAAC: a guest's DHCPv6 client (networkd's) gets the
                          * very address berth configured, never another one. */
                         a_range6, (char *) "--enable-ra", NULL };

        /* Under systemd (and in its network namespace) dnsmasq is a unit of
         * its own: forked from a supervisor it would live in that machine's
         * unit and die with it, leaving the other machines without DHCP/DNS. */
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        if (same_namespace(1, "net") && sd_booted() > 0 && sd_bus_open_system(&bus) >= 0) {
                uint64_t cookie = 0;
                (void) netns_cookie(&cookie);
                _cleanup_free_ char *unit = xasprintf("berth-dnsmasq-%s-%" PRIu64 ".service", b->name, cookie),
                                    *desc = xasprintf("DHCP and DNS for berth bridge %s", b->name),
                                    *pidfile = xasprintf("%s/pid", dir);
                return unit_start_daemon(bus, unit, desc, pidfile, argv);
        }

        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0) {
                /* A clean slate: the supervisor blocks and ignores signals. */
                sigset_t none;
                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                (void) signal(SIGPIPE, SIG_DFL);
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0)
                        (void) dup2(null, STDIN_FILENO);
                int keep[] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };
                (void) close_all_fds_except(keep, ELEMENTSOF(keep));
                execv(argv[0], argv);
                _exit(127);
        }
        /* dnsmasq daemonizes: its first process exits once the server runs,
         * with a status and a message on stderr if it cannot. */
        r = wait_child(pid);
        if (r < 0)
                return log_error_errno(r, "waitpid failed: %m");
        if (r != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO),
                                       r == 127
                                               ? "Cannot run " DNSMASQ_PATH " (install dnsmasq-base)."
                                               : "dnsmasq failed to start for bridge %s (see %s/log).",
                                       b->name, dir);
        return 0;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A machine's dhcp-host line and its file's name, ID-HASH: the hash of the
 * line, so that a file of the right name has the right content, and a
 * machine whose address changed gets a new file (dnsmasq keeps what it
 * read from a changed file until a SIGHUP). */
static char *host_line(const Entry *e, char **ret_name) {
        char a[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
        /* The same addresses as in network_attach(), over DHCPv4 and DHCPv6. */
        char *line = xasprintf("%02x:%02x:%02x:%02x:%02x:%02x,%s,[%s]\n", e->mac[0], e->mac[1], e->mac[2],
                               e->mac[3], e->mac[4], e->mac[5], ipaddr_format(&e->addr, a),
                               ipaddr_format(&e->addr6, a6));
        *ret_name = xasprintf("%s-%016" PRIx64, e->id, fnv1a64(line));
        return line;
}

/* The hosts dir, group-readable for dnsmasq like its parent
 * (dnsmasq_dir_open()). */
static int hosts_dir_open(int dfd, const char *dir) {
        struct stat st;
        if (fstat(dfd, &st) < 0)
                return log_error_errno(errno, "Cannot inspect %s: %m", dir);
        if (mkdirat(dfd, DNSMASQ_HOSTS_DIR, 0750) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create %s/" DNSMASQ_HOSTS_DIR ": %m", dir);
        _cleanup_close_ int hfd = open_dir_nofollow(dfd, DNSMASQ_HOSTS_DIR);
        if (hfd < 0)
                return log_error_errno(hfd, "Cannot open %s/" DNSMASQ_HOSTS_DIR ": %m", dir);
        struct stat hst;
        if (fstat(hfd, &hst) < 0)
                return log_error_errno(errno, "Cannot inspect %s/" DNSMASQ_HOSTS_DIR ": %m", dir);
        if ((hst.st_uid != 0 || hst.st_gid != st.st_gid) && fchown(hfd, 0, st.st_gid) < 0)
                return log_error_errno(errno, "Cannot give %s/" DNSMASQ_HOSTS_DIR " to dnsmasq's group: %m", dir);
        /* Set-group-ID: a file made here is dnsmasq's group's from the
         * start, so dnsmasq, told of it by inotify, can read it at once. */
        if ((hst.st_mode & 07777) != 02750 && fchmod(hfd, 02750) < 0)
                return log_error_errno(errno, "Cannot set the mode of %s/" DNSMASQ_HOSTS_DIR ": %m", dir);
        return TAKE_FD(hfd);
}

/* A bridge's dnsmasq dir DIR and its hosts dir, into *RET_DFD and *RET_HFD.
 * With CREATE, made (and their modes fixed) where missing; without, a
 * hosts dir that cannot be opened is not logged (nothing to take out of
 * it).  0 or -errno. */
static int dnsmasq_dirs_open(const char *dir, bool create, int *ret_dfd, int *ret_hfd) {
        _cleanup_close_ int dfd = dnsmasq_dir_open(dir, create);
        if (dfd < 0)
                return dfd;
        int hfd = create ? hosts_dir_open(dfd, dir) : open_dir_nofollow(dfd, DNSMASQ_HOSTS_DIR);
        if (hfd < 0)
                return hfd;
        *ret_dfd = TAKE_FD(dfd);
        *ret_hfd = hfd;
        return 0;
}

/* Bring the hosts dir in line with the bridge's machines: a file written
 * for each machine that has none (a start: one), the files of machines
 * gone removed, and only then a SIGHUP (dnsmasq forgets hosts only on
 * one).  No file is read: the names say what they hold (host_line()). */
int dnsmasq_update(const char *dir, const BridgeView *b) {
        _cleanup_close_ int dfd = -EBADF, hfd = -EBADF;
        int r = dnsmasq_dirs_open(dir, true, &dfd, &hfd);
        if (r < 0)
                return r;
        /* The single hosts file of berth before hosts.d. */
        (void) unlinkat(dfd, "hosts", 0);

        char **names = xcalloc(b->n + 1, sizeof *names);
        for (size_t i = 0; i < b->n; i++) {
                _cleanup_free_ char *line = host_line(b->entries + i, &names[i]);
                if (r < 0 || faccessat(hfd, names[i], F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                        continue;
                /* Group-readable: dnsmasq's group is the dir's (hosts_dir_open()). */
                r = write_file_atomic_at(hfd, names[i], line, strlen(line), 0640);
                if (r < 0)
                        log_error_errno(r, "Cannot write %s/" DNSMASQ_HOSTS_DIR "/%s: %m", dir, names[i]);
        }
        qsort(names, b->n, sizeof *names, strcmp_ptr);
        bool removed = false;
        _cleanup_closedir_ DIR *d = NULL;
        int k = opendir_dup(hfd, &d);
        struct dirent *de;
        while (k >= 0 && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                const char *key = de->d_name;
                if (bsearch(&key, names, b->n, sizeof *names, strcmp_ptr))
                        continue;
                if (unlinkat(hfd, de->d_name, 0) >= 0)
                        removed = true;
        }
        strv_free(names);
        if (r < 0)
                return r;
        pid_t pid = dnsmasq_running(dfd);
        if (pid > 0)
                return removed ? RET_NERRNO(kill(pid, SIGHUP)) : 0;
        return dnsmasq_start(dir, b);
}

/* A start's part of dnsmasq_update(): this machine's file only (dnsmasq
 * reads it as it appears), and dnsmasq started where none runs yet. */
int dnsmasq_host_add(const char *dir, const BridgeView *b, const Entry *e) {
        _cleanup_close_ int dfd = -EBADF, hfd = -EBADF;
        int r = dnsmasq_dirs_open(dir, true, &dfd, &hfd);
        if (r < 0)
                return r;
        _cleanup_free_ char *name = NULL, *line = host_line(e, &name);
        if (faccessat(hfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
                r = write_file_atomic_at(hfd, name, line, strlen(line), 0640);
                if (r < 0)
                        return log_error_errno(r, "Cannot write %s/" DNSMASQ_HOSTS_DIR "/%s: %m", dir, name);
        }
        return dnsmasq_running(dfd) > 0 ? 0 : dnsmasq_start(dir, b);
}

/* A stop's (or a dead machine's reclaim's) part: its file, and a SIGHUP,
 * without which dnsmasq keeps the host it read. */
void dnsmasq_host_remove(const char *dir, const Entry *e) {
        _cleanup_close_ int dfd = -EBADF, hfd = -EBADF;
        if (dnsmasq_dirs_open(dir, false, &dfd, &hfd) < 0)
                return;
        _cleanup_free_ char *name = NULL;
        free(host_line(e, &name)); /* the name only: it carries the line's hash */
        if (unlinkat(hfd, name, 0) < 0)
                return;
        pid_t pid = dnsmasq_running(dfd);
        if (pid > 0)
                (void) kill(pid, SIGHUP);
}
