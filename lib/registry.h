/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A client of the OCI distribution protocol (GET of manifests and blobs)
 * over libcurl, for berth-pull only: the one program that links curl.
 *
 * Transport: HTTPS with certificate verification (the system's CAs, or
 * CA_FILE); plain HTTP only for a loopback registry or with INSECURE (which
 * also skips verification), and then only when the registry does not speak
 * TLS.  Redirects (blob storage) are followed at most REGISTRY_REDIRECTS_MAX
 * times, never from HTTPS to HTTP, and credentials go only to the
 * registry's own scheme://host:port.
 *
 * Authentication: anonymous first; on a 401 the WWW-Authenticate challenge
 * decides: Basic with the credentials of the auth file, or a bearer token
 * from the challenge's realm (asked with those credentials when there are
 * any; the realm must be HTTPS unless it is the registry itself or
 * loopback).  Credentials and tokens are never logged.
 *
 * Integrity: everything is checked as it streams: a body may not exceed
 * its declared size (manifests: REGISTRY_MANIFEST_MAX), and its digest must
 * be the one asked for.  A blob download that breaks off is resumed with an
 * HTTP Range request (a few times), its digest carried on. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image-ref.h"

#define REGISTRY_REDIRECTS_MAX 5
#define REGISTRY_MANIFEST_MAX (4u << 20)
#define REGISTRY_RETRIES 3

typedef struct RegistryOptions {
        const char *ca_file;   /* NULL: the system's CAs */
        bool insecure;         /* plain HTTP allowed, TLS not verified */
        const char *username;  /* NULL: anonymous only */
        const char *password;
        bool progress;         /* per blob, on stderr */
} RegistryOptions;

typedef struct Registry Registry;

/* A client for REF's registry and repository.  0 or -errno (logged). */
int registry_new(const ImageRef *ref, const RegistryOptions *o, Registry **ret);
Registry *registry_free(Registry *r);
static inline void registry_freep(Registry **r) {
        registry_free(*r);
}

/* GET manifest REFERENCE (a tag or a digest) of the repository, with
 * Accept: the OCI index and manifest, Docker's manifest list and schema 2.
 * With EXPECT_DIGEST set the body must have that digest (and at most
 * EXPECT_SIZE bytes if >= 0); otherwise its sha256 is computed (and a
 * Docker-Content-Digest header must agree).  Returns the body
 * (NUL-terminated), its media type (Content-Type, or NULL) and digest.
 * -ENOENT (logged) when the registry does not know it, -EACCES when it
 * refused our credentials or wants some, -EBADMSG for a body that fails
 * its checks, -EIO otherwise. */
int registry_get_manifest(Registry *r, const char *reference, const char *expect_digest, int64_t expect_size,
                          char **ret_body, size_t *ret_len, char **ret_media_type, char **ret_digest);

/* GET blob DIGEST of SIZE bytes into FD (empty, at offset 0), checking
 * size and digest as it streams.  LABEL names it in messages ("layer 2/3").
 * 0 or -errno (logged); on failure FD's content is garbage. */
int registry_get_blob(Registry *r, const char *digest, uint64_t size, int fd, const char *label);
