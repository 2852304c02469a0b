/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The image store: ROOT/images as an OCI image layout (oci-layout,
 * index.json, blobs/<alg>/<hex>), beside the bases/ and layers/ that
 * berth run and clone keep there.  berth-pull adds to it, berth images and
 * rmi read and prune it, berth import reads it as any OCI layout.
 *
 * index.json has one entry per reference: the manifest (one platform's, the
 * one pulled) with org.opencontainers.image.ref.name = the full reference
 * ("docker.io/library/debian:12"), org.opencontainers.image.created (the
 * config's) and io.berth.image.size (manifest, config and layers, in bytes
 * as stored).  A blob is stored once, whatever number of images use it.
 *
 * Writers (pull, rmi) hold the store's lock exclusively, readers that need
 * the blobs to stay (pull REF NAME's import) hold it shared. */

#include <stdbool.h>
#include <stdint.h>

#define IMAGE_STORE_LOCK ".store.lock"
#define IMAGE_STORE_INDEX_MAX (16u << 20)
#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOTATION_CREATED "org.opencontainers.image.created"
#define ANNOTATION_SIZE "io.berth.image.size"

typedef struct ImageEntry {
        char *ref;         /* full reference */
        char *digest;      /* the manifest's */
        char *media_type;
        int64_t size;      /* the manifest's */
        char *os, *arch, *variant; /* NULL when not known */
        char *created;     /* RFC 3339 text from the config; NULL if none */
        uint64_t total;    /* bytes of manifest, config and layers */
} ImageEntry;

void image_entries_free(ImageEntry *e, size_t n);

/* Block until the store's lock is ours; returns its fd. */
int image_store_lock(int images_fd, bool exclusive);

/* Make oci-layout, index.json and blobs/ if missing. */
int image_store_prepare(int images_fd);

/* Is blob DIGEST (validated by the caller) stored? */
bool image_store_has_blob(int images_fd, const char *digest);

/* "blobs/<alg>/<hex>" of a digest the caller has validated. */
char *image_store_blob_path(const char *digest);

/* index.json's entries (none if there is no index.json).  -EBADMSG
 * (logged) for an index berth cannot read. */
int image_store_read(int images_fd, ImageEntry **ret, size_t *ret_n);

/* The manifest digest index.json has for reference REF: *RET_DIGEST
 * (malloc'ed), NULL if it has none.  0 or -errno as image_store_read(). */
int image_store_find(int images_fd, const char *ref, char **ret_digest);

/* Add E, replacing an entry of the same reference.  Caller holds the lock. */
int image_store_set(int images_fd, const ImageEntry *e);

/* Drop reference REF: 0, or -ENOENT.  Caller holds the lock. */
int image_store_remove(int images_fd, const char *ref);

/* Remove the blobs no reference needs any more (the manifests of
 * index.json, their configs and layers, nested manifests).  Refuses
 * (-EBADMSG, logged) to remove anything if a manifest cannot be read.
 * Caller holds the lock.  *RET_FREED: bytes removed. */
int image_store_gc(int images_fd, uint64_t *ret_freed);
