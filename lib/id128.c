/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "id128.h"
#include "util.h"

int id128_randomize(Id128 *ret) {
        Id128 id;
        ssize_t n;
        do
                n = getrandom(id.bytes, sizeof id.bytes, 0);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof id.bytes)
                return n < 0 ? -errno : -EIO;
        /* RFC 4122: version 4, variant 10xx. */
        id.bytes[6] = (id.bytes[6] & 0x0f) | 0x40;
        id.bytes[8] = (id.bytes[8] & 0x3f) | 0x80;
        *ret = id;
        return 0;
}

int id128_parse(const char *s, Id128 *ret) {
        Id128 id = {};
        bool uuid = strnlen(s, 9) > 8 && s[8] == '-', nonzero = false;
        size_t i = 0;
        for (unsigned b = 0; b < sizeof id.bytes; b++) {
                /* A UUID has dashes before bytes 4, 6, 8 and 10. */
                if (uuid && (b == 4 || b == 6 || b == 8 || b == 10) && s[i++] != '-')
                        return -EINVAL;
                int hi = unhexchar(s[i]), lo = hi < 0 ? -1 : unhexchar(s[i + 1]);
                if (lo < 0)
                        return -EINVAL;
                i += 2;
                id.bytes[b] = (uint8_t) (hi << 4 | lo);
                nonzero = nonzero || id.bytes[b];
        }
        if (s[i] == '\n')
                i++;
        if (s[i] || !nonzero)
                return -EINVAL;
        *ret = id;
        return 0;
}

char *id128_to_uuid(const Id128 *id, char buf[static ID128_UUID_STRING_MAX]) {
        const uint8_t *b = id->bytes;
        snprintf(buf, ID128_UUID_STRING_MAX,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
                 b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return buf;
}
