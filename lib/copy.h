/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Recursive copy between two directory fds (berth cp).  The caller decides
 * once how the two top-level directories are found (a machine's side with
 * chase_in_root()); below them nothing is looked up by a path of more than
 * one component: every entry is opened relative to its parent's fd with
 * O_NOFOLLOW, so no symlink in either tree can lead the copy elsewhere.
 *
 * Regular files, directories and symlinks are copied with their mode, owner
 * and timestamps; symlinks as symlinks (the target text verbatim, never
 * followed).  Device nodes, FIFOs and sockets are skipped with a warning and
 * never created.  Other mounts below the source (st_dev differs) are not
 * entered.  Hard links, ACLs and extended attributes (file capabilities
 * included) are not preserved. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* How owners are renumbered between the source's and the destination's view.
 * An ID in [from, from + size) becomes to + (id - from); any other ID becomes
 * the destination range's overflow ID, to + 65534 ("nobody").  size 0 copies
 * IDs unchanged. */
typedef struct IdShift {
        uid_t from;
        uid_t to;
        uid_t size;
        bool collapse; /* every ID becomes TO: a user's copy-out, which the user owns whole */
} IdShift;

#define ID_SHIFT_OVERFLOW 65534U

/* UIDs and GIDs are shifted alike (the ranges are the same for both). */
uid_t id_shift(const IdShift *s, uid_t id) _pure_;

typedef enum CopyFlags {
        COPY_STRIP_SUID = 1 << 0, /* copy no S_ISUID/S_ISGID bit */
} CopyFlags;

typedef struct CopyStats {
        unsigned regular;
        unsigned directories;
        unsigned symlinks;
        unsigned skipped;  /* special files and mount points left out */
        unsigned stripped; /* files and dirs that lost S_ISUID/S_ISGID */
} CopyStats;

/* Nesting deeper than this is refused (-ELOOP), which bounds the fds in use
 * (two per level) and the stack. */
#define COPY_DEPTH_MAX 128

/* A source file whose size reads as 0 (as /proc files do) is read until EOF,
 * but at most this much: a file that never ends cannot fill the destination. */
#define COPY_UNSIZED_MAX (64U * 1024U * 1024U)

/* Copy SRC_NAME (one path component, not followed if a symlink) below
 * SRC_DIRFD to DST_NAME (one component) below DST_DIRFD.
 *
 * A regular file or symlink is written under a temporary name and renamed
 * over DST_NAME, so a failed copy leaves nothing behind; an existing directory
 * there is an error.  A directory is copied recursively: if DST_NAME does not
 * exist, it is built under a temporary name and renamed into place at the
 * end (removed on failure); if it is a directory already, the source is merged
 * into it (cp -a).  Within the tree errors are reported and the copy goes on
 * with the next entry; the first error is returned.
 *
 * SRC_DISPLAY names the source in messages.  All errors and warnings are
 * logged here; a caller only turns the return value into an exit status.
 * Returns 0 or the first -errno; STATS (optional) counts what was done. */
int copy_tree_at(int src_dirfd, const char *src_name, const char *src_display, int dst_dirfd,
                 const char *dst_name, const IdShift *shift, CopyFlags flags, CopyStats *stats);
