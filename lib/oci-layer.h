/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Applying one image layer to a rootfs, as the OCI image spec describes it
 * (layer.md): whiteouts, opaque directories, hard links into lower layers,
 * owners, modes, xattrs, times.  Every name in the layer is resolved inside
 * the rootfs with openat2() and no symlink is ever followed on the way to
 * an entry: a layer that names "..", an absolute path, a path through a
 * symlink (its own or a lower layer's), or a hard link target outside the
 * tree is refused, naming the layer, the entry and the reason.
 *
 * The layer is read in one pass: the blob is hashed as it is read, then
 * decompressed, and the tar stream is hashed again as the tar reader takes
 * it, so the compressed digest and the diff_id are checked without a
 * temporary copy.
 *
 * Device nodes are made only when the machine device allow-list (devices.h)
 * has them; any other character or block device is skipped with a warning
 * naming it.  FIFOs are made as given. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "unpack-limit.h"

typedef enum LayerCompression {
        LAYER_COMPRESSION_NONE,
        LAYER_COMPRESSION_GZIP,
        LAYER_COMPRESSION_ZSTD,
        LAYER_COMPRESSION_DETECT, /* docker-archive and plain tars: sniff the stream */
        _LAYER_COMPRESSION_MAX,
} LayerCompression;

/* Read up to LEN bytes of the blob; 0 at its end, -errno on failure. */
typedef ssize_t (*LayerReadFunc)(void *userdata, void *buf, size_t len);

typedef struct LayerSpec {
        const char *label;          /* "layer 2/3 (sha256:0123abcd…)": names the layer in messages */
        unsigned index, count;      /* for progress, from 1 */
        LayerCompression compression;
        const char *digest;         /* the blob's digest, or NULL (docker-archive, plain tar) */
        int64_t size;               /* the blob's size, or -1 */
        const char *diff_id;        /* the uncompressed stream's digest, or NULL */
        bool whiteouts;             /* ".wh." names are whiteouts (image layers, not plain tars) */
        bool progress;              /* show progress on stderr */
        UnpackLimit *limit;         /* shared by all layers of an import; NULL: no limit */
        /* An overlayfs diff (create --image): the layer goes into an empty tree
         * of its own, which overlayfs stacks over LOWERS (the trees of the
         * layers below, top first).  Whiteouts become overlayfs whiteouts
         * (character device 0:0) where a lower layer has the path, opaque
         * markers the "user.overlay.opaque" xattr (berth mounts with
         * userxattr); a parent directory the layer does not list is made with
         * the owner and mode the lower layers give it, and refused where they
         * have something else than a directory.  A hard link to a file of a
         * lower layer cannot be made and is refused. */
        bool overlay_diff;
        const int *lowers;
        size_t n_lowers;
} LayerSpec;

/* The overlayfs opaque marker of a layer tree (userxattr mounts). */
#define OVERLAY_OPAQUE_XATTR "user.overlay.opaque"

/* Apply the layer read through READ to the tree at ROOTFD.  Returns 0, or
 * -errno after logging why: -EBADMSG for what is the image's fault (a
 * failed check, an entry refused as above: the message gives the entry's
 * own reason and error).  On failure the tree is left half-written: the
 * caller throws it away. */
int layer_apply(int rootfd, const LayerSpec *spec, LayerReadFunc read, void *userdata);
