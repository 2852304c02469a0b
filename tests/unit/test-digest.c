/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/digest: which descriptor digests are accepted, and known values. */
#include "digest.h"
#include "tap.h"
#include "util.h"

#define HEX64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_parse(void) {
        DigestAlgorithm alg = _DIGEST_ALGORITHM_MAX;
        const char *hex = NULL;
        TEST_ASSERT(digest_parse("sha256:" HEX64, &alg, &hex) == 0 && alg == DIGEST_SHA256 && streq(hex, HEX64),
                    "sha256 with 64 lowercase hex digits");
        TEST_ASSERT(digest_parse("sha512:" HEX64 HEX64, &alg, NULL) == 0 && alg == DIGEST_SHA512,
                    "sha512 with 128 hex digits");
        TEST_ASSERT(digest_parse("sha256:" HEX64 "0", NULL, NULL) == -EINVAL, "one digit too many");
        TEST_ASSERT(digest_parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", NULL,
                                 NULL) == -EINVAL,
                    "uppercase hex is refused (the spec wants lowercase)");
        TEST_ASSERT(digest_parse("sha256:../../../../etc/passwd", NULL, NULL) == -EINVAL,
                    "a path is not a digest");
        TEST_ASSERT(digest_parse("blake3:" HEX64, NULL, NULL) == -EOPNOTSUPP,
                    "a well-formed unknown algorithm is unsupported, not malformed");
        TEST_ASSERT(digest_parse("SHA256:" HEX64, NULL, NULL) == -EINVAL, "algorithm in uppercase");
        TEST_ASSERT(digest_parse(HEX64, NULL, NULL) == -EINVAL, "no algorithm");
        TEST_ASSERT(digest_parse(":" HEX64, NULL, NULL) == -EINVAL, "empty algorithm");
        TEST_ASSERT(digest_parse(NULL, NULL, NULL) == -EINVAL, "NULL");
}

static void test_values(void) {
        char out[DIGEST_STRING_MAX];
        digest_buffer(DIGEST_SHA256, "", 0, out);
        TEST_ASSERT_STREQ(out, "sha256:" HEX64, "sha256 of nothing");
        digest_buffer(DIGEST_SHA512, "abc", 3, out);
        TEST_ASSERT_STREQ(out,
                          "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                          "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
                          "sha512 of abc");
        Digest *d = digest_new(DIGEST_SHA256);
        digest_update(d, "a", 1);
        digest_update(d, "bc", 2);
        digest_finish(d, out);
        digest_free(d);
        TEST_ASSERT_STREQ(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                          "sha256 fed in pieces");
}

int main(void) {
        test_parse();
        test_values();
        return tap_finish();
}
