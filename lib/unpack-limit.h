/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What an unpack (berth-import's layers, berth-unpack's tarball) may write
 * to the host: a cap on the unpacked size, and a free-space reserve kept on
 * the file system that receives the tree.  A few KiB of gzip can expand to
 * terabytes; both checks stop it before the disk fills, and the caller
 * throws the half-made tree away.
 *
 * The unpacked size counts every entry as UNPACK_ENTRY_COST bytes (the
 * inode, the tar header it came from) plus the size its header declares:
 * the apparent size, holes included, charged before a byte is written.  A
 * sparse 1 TiB file counts as 1 TiB, as cp or a clone may materialise it
 * later.  Entries replaced or whited out by a later layer still count.
 *
 * The reserve is measured, not estimated: statvfs() of the target, at least
 * every UNPACK_CHECK_INTERVAL bytes written, must show more than 5% of the
 * file system (at most 1 GiB) free, and free inodes likewise. */

#include <stdint.h>
#include <stddef.h>

/* The cap when neither --max-size nor [Import] MaxSize= sets one: above the
 * largest real images (CUDA and ML images unpack to 10-30 GiB). */
#define UNPACK_MAX_SIZE_DEFAULT (UINT64_C(64) << 30)
#define UNPACK_ENTRY_COST UINT64_C(512)
#define UNPACK_CHECK_INTERVAL (UINT64_C(1) << 20)

typedef struct UnpackLimit {
        uint64_t max_size;    /* cap on the unpacked size; UINT64_MAX: none */
        int dirfd;            /* a directory on the target file system */
        uint64_t charged;     /* unpacked size so far */
        uint64_t unchecked;   /* bytes and entry costs since the last statvfs() */
} UnpackLimit;

#define UNPACK_LIMIT_INIT(max, fd) { .max_size = (max), .dirfd = (fd), .unchecked = UNPACK_CHECK_INTERVAL }

/* Parse a --max-size value: a size with K, M, G, T (powers of 1024) or
 * "infinity".  0 or -EINVAL. */
int unpack_max_size_parse(const char *s, uint64_t *ret);

/* Charge an entry named ENTRY (untrusted, made printable here) that declares
 * SIZE bytes of data, before creating it.  -EFBIG past the cap, -ENOSPC when
 * the reserve is reached: logged, naming LABEL (the layer or tarball) and
 * how to raise the cap. */
int unpack_limit_charge(UnpackLimit *l, const char *label, const char *entry, int64_t size);

/* Before writing LEN bytes of ENTRY's data: -ENOSPC (logged) when that would
 * eat into the reserve. */
int unpack_limit_write(UnpackLimit *l, const char *label, const char *entry, size_t len);
