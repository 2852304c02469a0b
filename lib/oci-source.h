/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where an image comes from, and reading named files ("index.json",
 * "blobs/sha256/<hex>", a docker-archive's "<hex>.tar") out of it: an OCI
 * layout directory, an OCI runtime bundle, or a tar archive (oci-archive,
 * docker-archive, plain rootfs tar).  Archives are never copied: a member is
 * read straight out of the archive, found by a (seeking) scan. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum SourceKind {
        SOURCE_OCI_LAYOUT,
        SOURCE_OCI_ARCHIVE,
        SOURCE_DOCKER_ARCHIVE,
        SOURCE_ROOTFS_TAR,
        SOURCE_BUNDLE,
        _SOURCE_KIND_MAX,
} SourceKind;

const char *source_kind_to_string(SourceKind k);

typedef struct Source {
        SourceKind kind;
        char *path;
        int dirfd;          /* layout directory or bundle; -EBADF for archives */
} Source;

#define SOURCE_INIT { .dirfd = -EBADF }

/* Open PATH and find out what it is.  Logs; -EMEDIUMTYPE if it is none of
 * the kinds above. */
int source_open(const char *path, Source *ret);
void source_done(Source *s);

/* A member being read. */
typedef struct SourceFile SourceFile;
SourceFile *source_file_free(SourceFile *f);
static inline void source_file_freep(SourceFile **f) {
        source_file_free(*f);
}

/* Open member NAME ("" for a plain rootfs tar: the whole file) (one level of symlink inside an archive is followed, as
 * docker-archive's legacy layer.tar links need).  *ret_size is its size.
 * -ENOENT if there is no such member. */
int source_open_file(const Source *s, const char *name, SourceFile **ret, uint64_t *ret_size);
/* Read from it: bytes, 0 at the end, -errno.  Fits LayerReadFunc. */
ssize_t source_file_read(void *f, void *buf, size_t len);

/* Read all of member NAME, at most MAX bytes, NUL-terminated.  -EFBIG if larger. */
int source_read_file(const Source *s, const char *name, size_t max, char **ret, size_t *ret_len);
