/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "util.h"

static const struct {
        const char *name;
        size_t hex_len;
} algorithms[_DIGEST_ALGORITHM_MAX] = {
        [DIGEST_SHA256] = { "sha256", 64 },
        [DIGEST_SHA512] = { "sha512", 128 },
};

struct Digest {
        DigestAlgorithm alg;
        EVP_MD_CTX *ctx;
};

int digest_parse(const char *s, DigestAlgorithm *ret_alg, const char **ret_hex) {
        const char *colon = s ? strchr(s, ':') : NULL;
        if (!colon || colon == s)
                return -EINVAL;
        /* The spec's grammar for the algorithm part. */
        for (const char *p = s; p < colon; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("+._-", *p)))
                        return -EINVAL;
        for (DigestAlgorithm a = 0; a < _DIGEST_ALGORITHM_MAX; a++) {
                size_t n = strlen(algorithms[a].name);
                if ((size_t) (colon - s) != n || strncmp(s, algorithms[a].name, n) != 0)
                        continue;
                const char *hex = colon + 1;
                if (strlen(hex) != algorithms[a].hex_len)
                        return -EINVAL;
                for (const char *p = hex; *p; p++)
                        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                                return -EINVAL;
                if (ret_alg)
                        *ret_alg = a;
                if (ret_hex)
                        *ret_hex = hex;
                return 0;
        }
        return -EOPNOTSUPP;
}

Digest *digest_new(DigestAlgorithm alg) {
        Digest *d = xmalloc(sizeof *d);
        d->alg = alg;
        d->ctx = EVP_MD_CTX_new();
        if (!d->ctx || EVP_DigestInit_ex(d->ctx, alg == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256(), NULL) != 1)
                abort();
        return d;
}

Digest *digest_free(Digest *d) {
        if (d) {
                EVP_MD_CTX_free(d->ctx);
                free(d);
        }
        return NULL;
}

void digest_update(Digest *d, const void *buf, size_t len) {
        if (len > 0 && EVP_DigestUpdate(d->ctx, buf, len) != 1)
                abort();
}

void digest_finish(Digest *d, char buf[static DIGEST_STRING_MAX]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (EVP_DigestFinal_ex(d->ctx, md, &n) != 1)
                abort();
        char *p = stpcpy(buf, algorithms[d->alg].name);
        *p++ = ':';
        for (unsigned i = 0; i < n; i++)
                p += sprintf(p, "%02x", md[i]);
}

void digest_buffer(DigestAlgorithm alg, const void *buf, size_t len, char out[static DIGEST_STRING_MAX]) {
        _cleanup_(digest_freep) Digest *d = digest_new(alg);
        digest_update(d, buf, len);
        digest_finish(d, out);
}
