/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe: a static helper the security tests copy into a machine.  Each
 * subcommand attempts one thing a contained root must not be able to do and
 * prints "denied <errno name>" or "allowed", exiting 0 either way (exit 2 on
 * bad usage).  The test decides which outcome is safe. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/keyctl.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static int report(long r) {
        if (r < 0)
                printf("denied %s\n", strerrorname_np(errno) ?: "?");
        else
                printf("allowed\n");
        return 0;
}

/* The network cases (test-spoof.sh) are what a guest may try on its bridge
 * with its own CAP_NET_RAW: they print what they did, exit 1 on a local
 * error; whether it got anywhere is for the test to see on the host. */

static int parse_sockaddr(const char *s, uint16_t port, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct sockaddr_in *a = (struct sockaddr_in *) ret;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) ret;
        memset(ret, 0, sizeof *ret);
        if (inet_pton(AF_INET, s, &a->sin_addr) == 1) {
                a->sin_family = AF_INET;
                a->sin_port = htons(port);
                *ret_len = sizeof *a;
                return 0;
        }
        if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
                a6->sin6_family = AF_INET6;
                a6->sin6_port = htons(port);
                *ret_len = sizeof *a6;
                return 0;
        }
        return -1;
}

/* udp-from SRC DST PORT: one datagram "probe SRC" from address SRC (any:
 * a transparent socket, as the guest's root may make) to DST:PORT. */
static int udp_from(const char *src, const char *dst, const char *port) {
        struct sockaddr_storage s, d;
        socklen_t sl, dl;
        if (parse_sockaddr(src, 0, &s, &sl) < 0 || parse_sockaddr(dst, (uint16_t) atoi(port), &d, &dl) < 0 ||
            s.ss_family != d.ss_family)
                return 2;
        int fd = socket(s.ss_family, SOCK_DGRAM, 0), one = 1;
        if (fd >= 0)
                (void) (s.ss_family == AF_INET ? setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one)
                                               : setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one));
        if (fd < 0 || bind(fd, (struct sockaddr *) &s, sl) < 0) {
                perror("probe: udp-from");
                return 1;
        }
        char msg[128];
        snprintf(msg, sizeof msg, "probe %s", src);
        if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *) &d, dl) < 0) {
                perror("probe: udp-from: sendto");
                return 1;
        }
        printf("sent\n");
        return 0;
}

/* send-na IFNAME TARGET: an unsolicited neighbour advertisement with the
 * override flag to all nodes, claiming TARGET for IFNAME's MAC. */
static int send_na(const char *ifname, const char *target) {
        unsigned ifindex = if_nametoindex(ifname);
        int fd = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
        if (ifindex == 0 || fd < 0) {
                perror("probe: send-na");
                return 1;
        }
        struct ifreq ifr = {};
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
        int hops = 255; /* NDP is only believed from the link itself */
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 ||
            setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0 ||
            setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) < 0) {
                perror("probe: send-na: setup");
                return 1;
        }
        struct {
                struct nd_neighbor_advert na;
                uint8_t opt[8];
        } pkt = { .na.nd_na_type = ND_NEIGHBOR_ADVERT, .na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE,
                  .opt = { ND_OPT_TARGET_LINKADDR, 1 } };
        memcpy(pkt.opt + 2, ifr.ifr_hwaddr.sa_data, 6);
        struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_scope_id = ifindex };
        if (inet_pton(AF_INET6, target, &pkt.na.nd_na_target) != 1 || inet_pton(AF_INET6, "ff02::1", &to.sin6_addr) != 1)
                return 2;
        if (sendto(fd, &pkt, sizeof pkt, 0, (struct sockaddr *) &to, sizeof to) < 0) {
                perror("probe: send-na: sendto");
                return 1;
        }
        printf("sent\n");
        return 0;
}

/* sniff IFNAME SECONDS MAC: count the frames IFNAME receives for MAC (some
 * other host's) in SECONDS; prints "frames N". */
static int sniff(const char *ifname, const char *seconds, const char *mac) {
        unsigned char want[6];
        if (sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &want[0], &want[1], &want[2], &want[3], &want[4],
                   &want[5]) != 6)
                return 2;
        int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
        struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                                  .sll_ifindex = (int) if_nametoindex(ifname) };
        if (fd < 0 || ll.sll_ifindex == 0 || bind(fd, (struct sockaddr *) &ll, sizeof ll) < 0) {
                perror("probe: sniff");
                return 1;
        }
        printf("listening\n");
        fflush(stdout);
        struct timespec end, now;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += atoi(seconds);
        unsigned n = 0;
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                long ms = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
                if (ms <= 0)
                        break;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, (int) ms) <= 0)
                        continue;
                unsigned char buf[2048];
                struct sockaddr_ll from;
                socklen_t fl = sizeof from;
                ssize_t k = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *) &from, &fl);
                /* Incoming only: what the bridge delivered to this port. */
                if (k >= 6 && from.sll_pkttype != PACKET_OUTGOING && !memcmp(buf, want, 6))
                        n++;
        }
        printf("frames %u\n", n);
        return 0;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: probe WHAT [ARG]\n");
                return 2;
        }
        const char *w = argv[1];
        errno = 0;
        if (!strcmp(w, "init_module"))
                return report(syscall(SYS_init_module, NULL, 0, ""));
        if (!strcmp(w, "finit_module"))
                return report(syscall(SYS_finit_module, 0, "", 0));
        if (!strcmp(w, "delete_module"))
                return report(syscall(SYS_delete_module, "nosuchmodule", 0));
        if (!strcmp(w, "kexec_load"))
                return report(syscall(SYS_kexec_load, 0, 0, NULL, 0));
        if (!strcmp(w, "open_by_handle_at")) {
                /* The handle of the root inode of the host's root fs (the shocker attack
                 * brute-forces these); any success means access outside the tree. */
                struct {
                        struct file_handle fh;
                        unsigned char f[8];
                } h = { .fh = { .handle_bytes = 8, .handle_type = 1 } };
                unsigned ino = 2;
                memcpy(h.fh.f_handle, &ino, sizeof ino);
                return report(syscall(SYS_open_by_handle_at, AT_FDCWD, &h.fh, O_RDONLY));
        }
        if (!strcmp(w, "keyctl"))
                return report(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));
        if (!strcmp(w, "add_key"))
                return report(syscall(SYS_add_key, "user", "berth-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING));
        if (!strcmp(w, "swapon"))
                return report(syscall(SYS_swapon, "/nonexistent", 0));
        if (!strcmp(w, "clock_settime")) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                return report(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts));
        }
        if (!strcmp(w, "settimeofday"))
                return report(syscall(SYS_settimeofday, NULL, NULL));
        if (!strcmp(w, "bpf"))
                return report(syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0));
        if (!strcmp(w, "perf_event_open"))
                return report(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
        if (!strcmp(w, "io_uring_setup"))
                return report(syscall(SYS_io_uring_setup, 1, NULL));
        if (!strcmp(w, "syslog"))
                return report(syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0));
        if (!strcmp(w, "acct"))
                return report(syscall(SYS_acct, NULL));
        if (!strcmp(w, "iopl"))
                return report(syscall(SYS_iopl, 3));
        if (!strcmp(w, "userfaultfd"))
                return report(syscall(SYS_userfaultfd, 0));
        if (!strcmp(w, "tiocsti") || !strcmp(w, "tiocsti-high")) {
                /* Push a byte into the input of the terminal named by ARG. */
                int fd = open(argc > 2 ? argv[2] : "/dev/console", O_RDWR | O_NOCTTY);
                if (fd < 0)
                        return report(-1);
                char c = '\n';
                unsigned long req = TIOCSTI;
                if (!strcmp(w, "tiocsti-high"))
                        req |= 0x100000000UL; /* junk in the upper half */
                return report(syscall(SYS_ioctl, fd, req, &c));
        }
        if (!strcmp(w, "mknod-disk")) {
                /* ARG: "MAJOR:MINOR" of a host block device; create and read it. */
                unsigned maj, min;
                if (argc < 3 || sscanf(argv[2], "%u:%u", &maj, &min) != 2)
                        return 2;
                (void) unlink("/tmp/probe-disk");
                if (mknod("/tmp/probe-disk", S_IFBLK | 0600, makedev(maj, min)) < 0)
                        return report(-1);
                int fd = open("/tmp/probe-disk", O_RDONLY);
                if (fd < 0)
                        return report(-1);
                char b;
                return report(read(fd, &b, 1));
        }
        if (!strcmp(w, "mknod-open")) {
                /* ARGS: PATH, "b" or "c", "MAJOR:MINOR": make the node where the
                 * caller chose (a mount without nodev), then open it. */
                unsigned maj, min;
                if (argc < 5 || sscanf(argv[4], "%u:%u", &maj, &min) != 2)
                        return 2;
                (void) unlink(argv[2]);
                mode_t type = !strcmp(argv[3], "b") ? S_IFBLK : S_IFCHR;
                if (mknod(argv[2], type | 0600, makedev(maj, min)) < 0)
                        return report(-1);
                int fd = open(argv[2], O_RDONLY | O_NONBLOCK);
                (void) unlink(argv[2]);
                return report(fd);
        }
        if (!strcmp(w, "mount-sysfs-rw"))
                return report(mount(NULL, "/sys", NULL, MS_REMOUNT | MS_BIND, NULL));
        if (!strcmp(w, "write")) {
                /* ARG: a file to write a byte to. */
                int fd = open(argv[2], O_WRONLY);
                if (fd < 0)
                        return report(-1);
                return report(write(fd, "1", 1));
        }
        if (!strcmp(w, "open") && argc > 2) /* a device node: open it read-write */
                return report(open(argv[2], O_RDWR | O_CLOEXEC));
        if (!strcmp(w, "tun")) { /* make a tun interface (it lives as long as the fd) */
                int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
                struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
                strcpy(ifr.ifr_name, "probe0");
                return report(fd < 0 ? -1 : ioctl(fd, TUNSETIFF, &ifr));
        }
        if (!strcmp(w, "read")) {
                int fd = open(argv[2], O_RDONLY);
                if (fd < 0)
                        return report(-1);
                char buf[64];
                ssize_t n = read(fd, buf, sizeof buf);
                return report(n > 0 ? 0 : -1);
        }
        if (!strcmp(w, "fds")) {
                /* Print every open fd >= 3 of this process (a leak from berth). */
                for (int fd = 3; fd < 1024; fd++)
                        if (fcntl(fd, F_GETFD) >= 0)
                                printf("%d\n", fd);
                return 0;
        }
        if (!strcmp(w, "udp-from") && argc == 5)
                return udp_from(argv[2], argv[3], argv[4]);
        if (!strcmp(w, "send-na") && argc == 4)
                return send_na(argv[2], argv[3]);
        if (!strcmp(w, "sniff") && argc == 5)
                return sniff(argv[2], argv[3], argv[4]);
        fprintf(stderr, "probe: unknown test '%s'\n", w);
        return 2;
}
