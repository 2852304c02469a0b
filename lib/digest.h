/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Content digests as OCI descriptors spell them ("sha256:<hex>",
 * "sha512:<hex>"), computed incrementally with OpenSSL's EVP interface so a
 * stream can be hashed while it passes through. */

#include <stdbool.h>
#include <stddef.h>

typedef enum DigestAlgorithm {
        DIGEST_SHA256,
        DIGEST_SHA512,
        _DIGEST_ALGORITHM_MAX,
} DigestAlgorithm;

/* Longest "alg:hex" we produce or accept, with its NUL. */
#define DIGEST_STRING_MAX (sizeof("sha512:") + 128)

typedef struct Digest Digest;

/* Check that S is a digest we can verify: a known algorithm and exactly the
 * right number of lowercase hex digits.  -EINVAL if malformed,
 * -EOPNOTSUPP for a well-formed but unknown algorithm. */
int digest_parse(const char *s, DigestAlgorithm *ret_alg, const char **ret_hex);

Digest *digest_new(DigestAlgorithm alg);
Digest *digest_free(Digest *d);
void digest_update(Digest *d, const void *buf, size_t len);
/* "alg:hex" of everything passed so far, into BUF. */
void digest_finish(Digest *d, char buf[static DIGEST_STRING_MAX]);

static inline void digest_freep(Digest **d) {
        digest_free(*d);
}

/* Digest of a whole buffer. */
void digest_buffer(DigestAlgorithm alg, const void *buf, size_t len, char out[static DIGEST_STRING_MAX]);
