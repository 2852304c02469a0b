/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fs.h"
#include "idmap.h"
#include "kv.h"
#include "util.h"

bool idmap_base_valid(unsigned long base) {
        /* A user's ranges are wherever the admin put their subordinate IDs
         * (useradd starts at 100000, unaligned); newuidmap, setuid, holds them
         * to /etc/subuid, so any range that fits is one berth could pick. */
        if (geteuid() != 0)
                return base >= 1 && base <= UINT32_MAX - USERNS_RANGE_SIZE;
        return base >= USERNS_BASE_MIN && base <= USERNS_BASE_MAX && base % USERNS_RANGE_SIZE == 0;
}

int idmap_read_at(int machine_dir_fd, uid_t *ret_base) {
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(machine_dir_fd, "idmap", 256, &kv);
        if (r < 0)
                return r;
        const char *v = key_values_get(&kv, "UID_BASE");
        if (!v)
                return -EBADMSG;
        uint64_t u;
        r = safe_atou64_n(v, strlen(v), &u);
        if (r == -EINVAL)
                return -EBADMSG;
        if (r < 0)
                return r;
        if (u > UINT32_MAX || !idmap_base_valid((unsigned long) u))
                return -ERANGE;
        *ret_base = (uid_t) u;
        return 0;
}

int idmap_write_at(int machine_dir_fd, uid_t base) {
        _cleanup_free_ char *text = xasprintf("UID_BASE=%u\nUID_SIZE=%u\n", (unsigned) base, USERNS_RANGE_SIZE);
        return write_file_atomic_at(machine_dir_fd, "idmap", text, strlen(text), 0644);
}
