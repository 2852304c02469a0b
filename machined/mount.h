/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The machine's filesystem view, built inside the child's new mount
 * namespace: the rootfs, /proc (with read-only and masked parts), read-only
 * /sys, a cgroup2 /sys/fs/cgroup, a private /dev, /run, then pivot_root.
 * Every target inside the rootfs is opened with chase_in_root() and
 * CHASE_NO_SYMLINKS, and filesystems are attached with the new mount API to
 * that fd, so a guest symlink can never redirect a mount to the host. */

#include <stdbool.h>
#include <sys/types.h>

typedef struct MountPlan {
        const char *rootfs;     /* host path of the machine's rootfs dir (trusted: ours) */
        const char *console;    /* host path of the pty slave for /dev/console */
        int userns_fd;          /* >= 0: idmap the rootfs for this user namespace */
        bool own_netns;         /* sysfs shows only the machine's interfaces */
} MountPlan;

/* In the child: set up everything and pivot_root into the rootfs.  On
 * failure writes a message into ERRBUF and returns -errno. */
int mount_setup_machine(const MountPlan *plan, char *errbuf, size_t errlen);
