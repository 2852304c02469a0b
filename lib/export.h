/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Writing a machine's root file system out as an archive (berth export,
 * through the berth-export helper: libarchive stays out of berth).  The
 * tree is a guest's: it is walked physically (no symlink is ever followed,
 * a symlink is archived as one) from a directory fd, names are relative
 * ("./etc/passwd"), and user and group names are never looked up on the
 * host (a host's names for a guest's IDs would be wrong).  Owners are
 * written as the guest sees them: IDs in [shift, shift+65536) lose SHIFT
 * (a rootfs chowned into its machine's range, PrivateUsersOwnership=chown),
 * others are kept.  Hard links stay hard links; sockets are left out (no
 * tar format holds them); overlayfs's own xattrs ("*.overlay.*") are left
 * out, the others and ACLs kept. */

#include <errno.h>
#include <sys/types.h>

typedef enum ExportFormat {
        EXPORT_TAR,
        EXPORT_TAR_GZ,
        EXPORT_TAR_ZST,
        EXPORT_TAR_XZ,
        EXPORT_OCI_ARCHIVE, /* an OCI image layout in a tar: one image of one (uncompressed) layer */
        EXPORT_OCI_STORE,   /* the same image added to berth's image store (image-store.h) as REF */
        _EXPORT_FORMAT_MAX,
        _EXPORT_FORMAT_INVALID = -EINVAL,
} ExportFormat;

/* "tar", "tar.gz", "tar.zst", "tar.xz", "oci-archive", "oci-store". */
ExportFormat export_format_from_string(const char *s);
const char *export_format_to_string(ExportFormat f);
/* The format FILE's name says: ".tar", ".tar.gz"/".tgz", ".tar.zst"/".tzst",
 * ".tar.xz"/".txz"; _EXPORT_FORMAT_INVALID for anything else (an
 * oci-archive is only ever asked for with --format). */
ExportFormat export_format_from_path(const char *path);

typedef struct ExportOptions {
        ExportFormat format;
        uid_t shift;      /* 0: the tree holds the guest's own IDs */
        const char *ref;  /* oci-archive: org.opencontainers.image.ref.name of the image */
        int layer_fd;       /* oci-archive: the empty read-write file (an unnamed one of the caller's,
                             * beside the archive) where the layer waits until its digest is known */
        int scratch_dir_fd; /* oci-store: where the layer waits instead (an unnamed O_TMPFILE made here) */
        int store_fd;       /* oci-store: ROOT/images, prepared, its lock held by the caller; the
                             * scratch dir must be on its file system */
} ExportOptions;

/* Archive the tree at ROOT_FD into the file OUT_FD (empty, writable, seekable
 * not needed).  Progress and skipped entries go to the log.  0 or -errno
 * (logged). */
int export_rootfs(int root_fd, int out_fd, const ExportOptions *o);
