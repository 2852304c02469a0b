/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "fs.h"
#include "log.h"
#include "userns.h"
#include "util.h"

static int parse_idmap(const char *text, uid_t *ret) {
        const char *v = startswith(text, "UID_BASE=");
        if (!v)
                return -EBADMSG;
        char buf[16];
        size_t n = strcspn(v, "\n");
        if (n == 0 || n >= sizeof buf)
                return -EBADMSG;
        memcpy(buf, v, n);
        buf[n] = 0;
        unsigned u;
        int r = safe_atou(buf, &u);
        if (r < 0)
                return r;
        if (u < USERNS_BASE_MIN || u > USERNS_BASE_MAX || u % USERNS_RANGE_SIZE != 0)
                return -ERANGE;
        *ret = (uid_t) u;
        return 0;
}

static int read_range_at(int dfd, uid_t *ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(dfd, "idmap", 256, &text, NULL);
        if (r < 0)
                return r;
        return parse_idmap(text, ret);
}

int userns_read_range(Store *s, const char *name, uid_t *ret_base) {
        _cleanup_close_ int dfd = open_dir_nofollow(s->machines_fd, name);
        if (dfd < 0)
                return dfd;
        return read_range_at(dfd, ret_base);
}

static int cmp_uid(const void *a, const void *b) {
        uid_t x = *(const uid_t *) a, y = *(const uid_t *) b;
        return x < y ? -1 : x > y;
}

int userns_ensure_range(Store *s, int machine_dir_fd, uid_t *ret_base) {
        int r = read_range_at(machine_dir_fd, ret_base);
        if (r != -ENOENT)
                return r;

        /* One allocation at a time across all machines. */
        _cleanup_close_ int lock = lock_file_at(s->locks_fd, ".idmap", true, true);
        if (lock < 0)
                return lock;

        /* Collect the ranges in use: every machine dir, staging ones included. */
        _cleanup_closedir_ DIR *d = NULL;
        r = opendir_dup(s->machines_fd, &d);
        if (r < 0)
                return r;
        size_t n = 0, cap = 64;
        _cleanup_free_ uid_t *used = xmalloc(sizeof(uid_t) * cap);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_close_ int m = open_dir_nofollow(dirfd(d), de->d_name);
                uid_t b;
                if (m < 0)
                        continue;
                int k = read_range_at(m, &b);
                if (k == -ENOENT)
                        continue;
                /* A range we cannot read might be in use: never hand it out twice. */
                if (k < 0)
                        return log_error_errno(k, "Cannot read the UID range of %s (%s/idmap): %m. Fix or "
                                               "remove that file.", de->d_name, de->d_name);
                if (n == cap) {
                        cap *= 2;
                        uid_t *x = realloc(used, sizeof(uid_t) * cap);
                        if (!x)
                                abort();
                        used = x;
                }
                used[n++] = b;
        }
        if (n > 0)
                qsort(used, n, sizeof(uid_t), cmp_uid);

        /* The lowest free slot. */
        uid_t base = USERNS_BASE_MIN;
        for (size_t i = 0; i < n && base <= USERNS_BASE_MAX; i++) {
                if (used[i] < base)
                        continue;
                if (used[i] > base)
                        break;
                base += USERNS_RANGE_SIZE;
        }
        if (base > USERNS_BASE_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(ENOSPC), "No free UID range left for another machine.");

        _cleanup_free_ char *text = xasprintf("UID_BASE=%u\nUID_SIZE=%u\n", (unsigned) base, USERNS_RANGE_SIZE);
        r = write_file_atomic_at(machine_dir_fd, "idmap", text, strlen(text), 0644);
        if (r < 0)
                return r;
        *ret_base = base;
        return 0;
}
