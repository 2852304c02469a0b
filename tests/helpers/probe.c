/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe: a static helper the security tests copy into a machine.  Each
 * subcommand attempts one thing a contained root must not be able to do and
 * prints "denied <errno name>" or "allowed", exiting 0 either way (exit 2 on
 * bad usage).  The test decides which outcome is safe. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/keyctl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
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
        fprintf(stderr, "probe: unknown test '%s'\n", w);
        return 2;
}
