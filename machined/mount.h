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

#include "binds.h"
#include "devices.h"
#include "layers.h"

typedef struct MountPlan {
        const char *rootfs;     /* host path of the machine's rootfs dir (trusted: ours) */
        const char *console;    /* host path of the pty slave for /dev/console */
        const DeviceList *devices; /* the machine's allow-list: its nodes go into /dev */
        int rootfs_tree_fd;     /* >= 0: a detached (idmapped) clone of the rootfs (layered:
                                 * of MACHINE_DIR) prepared by the supervisor; else the child
                                 * clones it itself */
        const char *machine_dir; /* layered machine (layers.h): its dir, holding the upper
                                 * (rootfs) and overlayfs's work dir; NULL: a plain rootfs */
        char *const *layers;    /* layered: host paths of the layer trees, top first */
        size_t n_layers;
        int *layer_tree_fds;    /* layered: N_LAYERS detached (idmapped) clones of LAYERS from
                                 * the supervisor, or NULL: the child clones them */
        bool own_netns;         /* sysfs shows only the machine's interfaces */
        bool ephemeral;         /* changes go to a tmpfs overlay and vanish with the machine */
        const char *scratch;    /* ephemeral: a host dir (trusted: ours, owned by the machine's
                                 * root) for the layers instead of a tmpfs; NULL: tmpfs */
        bool userns;            /* the child runs in a user namespace of its own */
        const char *stage;      /* with a user namespace: the supervisor's mount stage
                                 * (mount-lock.h), where the finished tree comes back locked */
        int stage_fd;           /* opened by the child while it can still reach it */
        const char *notify_dir; /* host dir with the notify socket, bound to /run/host */
        int notify_dir_fd;      /* opened by the child while it can still reach it */
        int notify_tree_fd;     /* a user's machine: NOTIFY_DIR as a detached read-only tree
                                 * whose flags are locked (bind_tree_lock()), or -1 */
        const BindSpec *binds;  /* [Files] Bind=, BindReadOnly=, --bind, --bind-ro */
        size_t n_binds;
        int *bind_tree_fds;     /* N_BINDS detached clones of their sources, made read-only and
                                 * idmapped as asked, opened once (bind_tree_make()) */
        const TmpfsSpec *tmpfs; /* [Files] TemporaryFileSystem=, --tmpfs */
        size_t n_tmpfs;
} MountPlan;

/* The root being built.  Persistent plain machines: ROOT is the rootfs
 * clone.  Ephemeral or layered ones: SCRATCH is a tmpfs over the rootfs path
 * holding the overlay's layers, LOWER the (idmapped) rootfs clone (layered:
 * of the machine dir), LAYERS the layer clones, and ROOT the overlay, made by
 * mount_finish_root().  Ephemeral layered machines stack their tmp upper on
 * the machine's upper and layers. */
typedef struct RootMount {
        int root;
        int scratch;
        int lower;              /* layered: the machine dir's clone */
        int layers[LAYERS_MAX]; /* layered: the layer trees' clones */
        size_t n_layers;
} RootMount;

#define ROOT_MOUNT_INIT { .root = -1, .scratch = -1, .lower = -1 }

/* In the child, first: make all mounts slaves and mount the rootfs clone
 * (or, ephemeral, the scratch tmpfs) over the rootfs path.  Done before
 * taking a user namespace's root identity, while the host path (below 0700
 * state dirs) can still be traversed.  -errno with a message in ERRBUF. */
int mount_attach_root(const MountPlan *plan, RootMount *rm, char *errbuf, size_t errlen);

/* Then, as the machine's root: for an ephemeral machine, stack the overlay
 * (the rootfs below, an upper layer on the scratch tmpfs) and make it
 * RM->root.  Nothing to do otherwise. */
int mount_finish_root(const MountPlan *plan, RootMount *rm, char *errbuf, size_t errlen);

/* Then: every filesystem inside ROOTFD.  On failure writes a message into
 * ERRBUF and returns -errno. */
int mount_setup_machine(const MountPlan *plan, int rootfd, char *errbuf, size_t errlen);

/* Last: pivot_root into ROOTFD (the tree above, or its locked copy from the
 * stage, mount-lock.h) and drop the host's mounts. */
int mount_pivot_root(int rootfd, char *errbuf, size_t errlen);
