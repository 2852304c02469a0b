/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

/* Unpack a rootfs tarball (plain, gzip, xz, zstd, bzip2: whatever libarchive
 * detects) into the empty directory DIRFD.  Entries with absolute names or
 * "..", links pointing out of the tree and writes through symlinks are
 * refused (libarchive's SECURE_* flags, with the tree as the only root);
 * owners, modes, times, ACLs and xattrs are kept.  Device nodes not on the
 * machine device allow-list (devices.h) are skipped with a warning; FIFOs
 * are kept.  The unpacked size is capped at MAX_SIZE
 * (UINT64_MAX: no cap) and a free-space reserve is kept, as unpack-limit.h
 * says.  Progress goes to stderr when it is a terminal.  Returns 0 or
 * -errno (logged); on failure the caller throws DIR away. */
int archive_unpack_rootfs(const char *tarball, const char *dir, uint64_t max_size);
