/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Unpack a rootfs tarball (plain, gzip, xz, zstd, bzip2: whatever libarchive
 * detects) into the empty directory DIRFD.  Entries with absolute names or
 * "..", links pointing out of the tree and writes through symlinks are
 * refused (libarchive's SECURE_* flags, with the tree as the only root);
 * owners, modes, times, ACLs and xattrs are kept.  Progress goes to stderr
 * when it is a terminal.  Returns 0 or -errno (logged). */
int archive_unpack_rootfs(const char *tarball, const char *dir);
