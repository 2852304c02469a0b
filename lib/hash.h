/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* FNV-1a (http://www.isthe.com/chongo/tech/comp/fnv/): a small, stable
 * string hash.  Some of its values are persistent: store.c puts the 32-bit
 * hash of the state root into cgroup and unit names, the network code
 * (machined/net-addr.c, network.c) derives MAC addresses, where a machine's
 * address search starts and veth names from the 64-bit one, so the
 * constants must never change. */

#include <stdint.h>

#define FNV1A64_OFFSET UINT64_C(14695981039346656037)
#define FNV1A64_PRIME UINT64_C(1099511628211)
#define FNV1A32_OFFSET UINT32_C(2166136261)
#define FNV1A32_PRIME UINT32_C(16777619)

static inline uint64_t fnv1a64(const char *s) {
        uint64_t h = FNV1A64_OFFSET;
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * FNV1A64_PRIME;
        return h;
}

static inline uint32_t fnv1a32(const char *s) {
        uint32_t h = FNV1A32_OFFSET;
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * FNV1A32_PRIME;
        return h;
}
