/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <sys/statvfs.h>

#include "log.h"
#include "unpack-limit.h"
#include "util.h"

#define RESERVE_MAX (UINT64_C(1) << 30)
#define INODE_RESERVE_MAX UINT64_C(65536)

int unpack_max_size_parse(const char *s, uint64_t *ret) {
        if (streq_ptr(s, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        uint64_t v;
        if (parse_size(s, &v) < 0 || v == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}

/* "1.5 GiB", "16.0 MiB": sizes for messages. */
static char *format_size(uint64_t v) {
        if (v >= UINT64_C(1) << 30)
                return xasprintf("%.1f GiB", (double) v / (UINT64_C(1) << 30));
        return xasprintf("%.1f MiB", (double) v / (1 << 20));
}

/* Does the file system still have room for PENDING more bytes above the reserve? */
static int check_space(UnpackLimit *l, const char *label, const char *entry, uint64_t pending) {
        if (l->unchecked + pending < UNPACK_CHECK_INTERVAL) {
                l->unchecked += pending;
                return 0;
        }
        struct statvfs sv;
        if (fstatvfs(l->dirfd, &sv) < 0)
                return log_error_errno(errno, "%s: cannot check the free space of the target: %m", label);
        l->unchecked = 0;
        /* f_bfree/f_ffree: root's view (berth runs as root), as fs_is_full() has it. */
        uint64_t total = (uint64_t) sv.f_blocks * sv.f_frsize, avail = (uint64_t) sv.f_bfree * sv.f_frsize;
        uint64_t reserve = min_u64(total / 20, RESERVE_MAX);
        uint64_t inode_reserve = min_u64((uint64_t) sv.f_files / 20, INODE_RESERVE_MAX);
        bool no_space = avail < reserve || avail - reserve < pending;
        /* f_files 0: the file system has no fixed inode count (btrfs). */
        bool no_inodes = sv.f_files > 0 && (uint64_t) sv.f_ffree <= inode_reserve;
        if (!no_space && !no_inodes)
                return 0;
        _cleanup_free_ char *p = strdup_printable(entry), *f = format_size(avail), *res = format_size(reserve);
        if (no_inodes)
                return log_error_errno(SYNTHETIC_ERRNO(ENOSPC),
                                       "%s: stopped at entry '%s': the file system receiving the machine has %" PRIu64
                                       " free inodes left, and berth keeps %" PRIu64 " (5%%) for the host. Free some "
                                       "there and try again.",
                                       label, p, (uint64_t) sv.f_ffree, inode_reserve);
        return log_error_errno(SYNTHETIC_ERRNO(ENOSPC),
                               "%s: stopped at entry '%s': the file system receiving the machine has %s free, "
                               "and berth keeps %s (5%%, at most 1 GiB) of it for the host. Free some space "
                               "there and try again.",
                               label, p, f, res);
}

int unpack_limit_charge(UnpackLimit *l, const char *label, const char *entry, int64_t size) {
        uint64_t cost = UNPACK_ENTRY_COST + (size > 0 ? (uint64_t) size : 0);
        if (cost < UNPACK_ENTRY_COST || l->charged + cost < l->charged || l->charged + cost > l->max_size) {
                _cleanup_free_ char *p = strdup_printable(entry), *max = format_size(l->max_size),
                                    *so_far = format_size(l->charged), *declared = format_size(size > 0 ? (uint64_t) size : 0);
                return log_error_errno(SYNTHETIC_ERRNO(EFBIG),
                                       "%s: entry '%s' takes the unpacked size past the import size limit of %s "
                                       "(%s so far, the entry declares %s). If the image is right, raise the "
                                       "limit with --max-size SIZE (like --max-size 100G) or [Import] MaxSize= in "
                                       "berth.conf.",
                                       label, p, max, so_far, declared);
        }
        l->charged += cost;
        return check_space(l, label, entry, UNPACK_ENTRY_COST);
}

int unpack_limit_write(UnpackLimit *l, const char *label, const char *entry, size_t len) {
        return check_space(l, label, entry, len);
}
