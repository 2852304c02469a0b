/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Overlay-backed machines.  Where the filesystem has no reflinks, a clone or
 * snapshot does not copy a rootfs: it freezes it.  The machine's rootfs dir
 * is renamed (one rename, no copy) to an immutable, shared layer
 * ROOT/images/layers/ID/tree, and the machine keeps its own, empty upper dir
 * as machines/NAME/rootfs.  The machine's "layers" file lists the layers
 * below its rootfs, top first; a machine without one is a plain rootfs.
 * Snapshots record a layer list the same way (snapshots/SNAP/layers).
 *
 * Every start mounts overlayfs: the layers below, machines/NAME/rootfs as
 * the upper (work dir machines/NAME/.overlay-work), always with "userxattr"
 * so that the same upper works inside a user namespace and from the host.
 * Layers and uppers keep the guest's own IDs, like a plain rootfs.
 *
 * Layers are referenced by the layer lists of machines, snapshots,
 * unfinished creates and the run images of ROOT/images/bases; one that nothing references is removed by
 * layers_prune() (rm, gc).  Creating and referencing a layer, and pruning,
 * happen under one store-wide lock. */

#include <stdbool.h>

#include "store.h"

/* Deeper stacks must be flattened (berth clone --copy).  Overlayfs takes
 * 500 lower layers; an ephemeral start adds the machine's own upper. */
#define LAYERS_MAX 64

/* Image layers (create --image, oci-layered.c) are layers too, named by the
 * OCI ChainID of their stack; this file of the layer's dir holds it in full.
 * A frozen machine's layer has none. */
#define LAYER_CHAIN_FILE "chain"

/* The store-wide lock on layers (blocking).  Returns the lock fd. */
int layers_lock(Store *s);

/* The layer list in file NAME below DIRFD ("layers" of a machine dir or
 * snapshot dir), top first, as a NULL-terminated vector; a missing file is
 * an empty list (*ret NULL).  -EBADMSG for a malformed list (a bad ID, an ID
 * twice, a NUL byte, more than LAYERS_MAX). */
int layers_read(int dirfd, const char *name, char ***ret);

/* Write LAYERS as file NAME below DIRFD (atomically). */
int layers_write(int dirfd, const char *name, char *const *layers);

/* The host path of layer ID's tree (malloc'ed). */
char *layer_tree_path(Store *s, const char *id);

/* Whether the filesystem of DIRFD makes reflinks (FICLONE on a probe file):
 * 1 yes, 0 no, or -errno. */
int reflink_supported(int dirfd);

/* How a machine's rootfs is replaced, as one recoverable step (a killed
 * berth leaves either the old or the new state, completed by
 * rootfs_switch_recover()).  The machine is stopped and locked. */
typedef struct RootfsSwitch {
        char *const *layers;     /* the machine's layer list afterwards; NULL/empty: a plain rootfs */
        const char *conf;        /* machine.conf afterwards, or NULL: unchanged */
        bool populated;          /* ROOTFS_NEW below the machine dir, made and filled by the caller
                                  * (after rootfs_switch_recover()), becomes the rootfs; else a new
                                  * empty upper does */
        uid_t freeze_range;      /* not 0: the new layer is a user's, its tree range FREEZE_RANGE's
                                  * (LAYER_RANGE_FILE); the switch runs as that range's root */
        const char *freeze_id;   /* the old rootfs becomes layer ID's tree (created here); NULL: it is
                                  * removed */
} RootfsSwitch;

#define ROOTFS_NEW ".rootfs-new"
/* Overlayfs's work dir beside a layered machine's upper (same mount). */
#define OVERLAY_WORK ".overlay-work"

/* Replace the rootfs of the machine dir MFD as SW says.  Caller holds the
 * machine's lock and, when SW creates or references layers, layers_lock(). */
int rootfs_switch(Store *s, int mfd, const RootfsSwitch *sw);

/* Finish or undo a rootfs_switch() that was interrupted, in machine dir
 * MFD (caller holds the machine's lock).  0 or -errno. */
int rootfs_switch_recover(Store *s, int mfd);

/* Freeze the rootfs of machine dir MFD into a new layer (unless it holds no
 * change over its layers), leaving it an empty upper.  *ret gets the layer
 * list that now describes the machine's content.  Caller holds the
 * machine's lock and layers_lock(); the machine is stopped.  For a user
 * (RANGE: the machine's, not 0) this runs as root of the machine's user
 * namespace (userns_call()), and the new layer is made as a user's
 * machine dir is: the dir the user's, the tree the range's. */
int layers_freeze(Store *s, int mfd, uid_t range, char ***ret);

/* A user's layer frozen from a machine (clone, snapshot --overlay) names
 * its range in this file of its dir (idmap.h's format): its tree belongs
 * to that range, as a machine's rootfs does, and the machines on it run in
 * that range.  An image layer has none: its range is the image store's. */
#define LAYER_RANGE_FILE "idmap"


/* Give the new empty upper dir NAME below MFD the attributes of the root of
 * LAYERS' top layer (the root of the merged view comes from the upper). */
int layers_init_upper(Store *s, int mfd, const char *name, char *const *layers);

/* Remove every layer that no machine, snapshot or unfinished create lists;
 * for a user, when none is left, the image store's range goes back too
 * (userns_image_range_release()).  Caller holds layers_lock().  Returns
 * how many, or -errno. */
int layers_prune(Store *s);
/* Remove what a killed unpack left in the layer store: its hidden
 * entries (.staging-* of a layer not finished, .unpack-* of a pull), which
 * exist only while someone holds layers_lock().  Caller holds it. */
int layers_clean_stale(Store *s);
/* The images a layer of the store came from: their manifest digests, one a
 * line.  A layer an image of ROOT/images still has is kept by
 * layers_prune() after its last machine is gone. */
#define LAYER_IMAGES_FILE "images"
/* Record MANIFEST (a digest) in each of LAYERS.  Caller holds layers_lock().
 * 0 or -errno (-EINVAL for a malformed digest). */
int layers_mark_image(Store *s, char *const *layers, const char *manifest);
/* The same under layers_lock(), after an rm or a restore: a failure only
 * leaves them to the next rm or gc (logged as a warning). */
void layers_prune_or_warn(Store *s);

/* Mount the merged view of the stopped machine in dir MPATH (its rootfs
 * over its layers) on MPATH/rootfs, in this process's own mount namespace
 * (made here: nothing is seen outside this process and its children).
 * Nothing to do for a plain rootfs.  0 or -errno. */
int layers_mount_merged(Store *s, const char *mpath);

/* Drop the merged view layers_mount_merged() put on MPATH/rootfs (before
 * the directory is renamed or removed).  Nothing to do if there is none. */
void layers_umount_merged(const char *rootfs);

/* Call FN(USERDATA) as the root of the stopped machine in dir MPATH
 * (userns_call(): for a user in a namespace mapped like the machine's, whose
 * root may mount), with its merged view on MPATH/rootfs for a layered
 * machine (layers_mount_merged(), dropped after).  What works on a
 * machine's files from the host side: the tree is the machine's, for a user
 * its range's.  FN's result, or -errno (logged). */
int layers_call_merged(Store *s, const char *mpath, int (*fn)(void *userdata), void *userdata);

/* Before a start: the host paths of the layer trees of machine dir MPATH,
 * top first (*ret NULL: a plain rootfs), with overlayfs's work dir made. */
int layers_prepare_start(Store *s, const char *mpath, char ***ret);

/* rootfs_check() (rootfs.h) of machine dir MPATH's rootfs, merged with its
 * layers, without changing this process's mount namespace. */
int layers_rootfs_check(Store *s, const char *mpath, const char *init, char **ret_init_name);

/* Detached overlay mount: LOWERS (N O_PATH dir fds, top first), UPPER and
 * WORK (O_PATH dir fds on one mount, both -1: read-only), always
 * "userxattr".  Returns the mount fd or -errno. */
int overlay_make(const int *lowers, size_t n, int upper, int work, unsigned attrs);
