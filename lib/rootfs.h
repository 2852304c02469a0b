/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Check that a rootfs is fit to boot, before anything is started: a
 * directory; proc, sys, dev, run absent or real directories (never symlinks);
 * INIT resolvable inside the rootfs (never on the host) to an executable
 * regular file.  Logs a precise error with a hint.  On success
 * *ret_init_name gets the basename the init resolves to ("systemd",
 * "busybox", ...), which decides the poweroff and reboot signals.  INIT NULL
 * (berth's stub init runs instead) checks the directories only. */
int rootfs_check(const char *rootfs, const char *init, char **ret_init_name);

/* Make etc/hostname in ROOTFS say HOSTNAME, as the templates write it: the
 * guest's init (systemd, busybox's rcS) sets the hostname from that file
 * after berth-machined has set Hostname=, so a tree from anywhere else (a
 * tarball, a directory, an image, a clone's source) would boot with what
 * its own file says ("localhost" in a Debian tree).  Every way of making a
 * machine calls this.  Nothing in the tree is followed: etc/ is resolved
 * inside ROOTFS, a regular etc/hostname is rewritten in place (owner and
 * mode kept), a symlink there is replaced, a missing one created (0644,
 * owned like etc/).  A tree without etc/, or with something else than a
 * file there, is left as it is (with a warning for the latter).  Logs;
 * returns 0 or -errno. */
int rootfs_write_hostname(const char *rootfs, const char *hostname);

/* The same as the machine's root, for the machine whose dir is
 * MACHINE_DIR_FD (userns_call(), newidmap.h): without root only a namespace
 * mapping its range may write in its tree. */
int rootfs_write_hostname_as_machine(int machine_dir_fd, const char *rootfs, const char *hostname);

/* rootfs_write_hostname() of a HostnameArgs, for userns_call() and
 * layers_call_merged() (rename writes through a layered machine's merged
 * view). */
typedef struct HostnameArgs {
        const char *rootfs, *hostname;
} HostnameArgs;
int rootfs_write_hostname_call(void *userdata);
