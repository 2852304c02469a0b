/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "fs.h"
#include "idrange.h"
#include "util.h"

/* Host id files are small; a bigger one is not a plain local file. */
#define HOST_ID_FILE_MAX (16U * 1024 * 1024)

void id_intervals_done(IdIntervals *l) {
        free(l->v);
        *l = (IdIntervals) {};
}

void id_intervals_add(IdIntervals *l, uint64_t start, uint64_t count) {
        if (count == 0)
                return;
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 64;
                IdInterval *x = realloc(l->v, sizeof(IdInterval) * l->cap);
                if (!x)
                        abort();
                l->v = x;
        }
        l->v[l->n++] = (IdInterval) { start, start + count };
}

static int cmp_interval(const void *a, const void *b) {
        const IdInterval *x = a, *y = b;
        return x->start < y->start ? -1 : x->start > y->start;
}

int id_intervals_first_free(IdIntervals *l, uint64_t min, uint64_t max, uint64_t size, uint64_t *ret) {
        if (l->n > 0)
                qsort(l->v, l->n, sizeof(IdInterval), cmp_interval);
        uint64_t base = (min + size - 1) / size * size;
        for (size_t i = 0; i < l->n && base <= max; i++) {
                if (l->v[i].end <= base)
                        continue;
                if (l->v[i].start >= base + size)
                        break;
                /* Overlaps: the next aligned slot after this interval. */
                base = (l->v[i].end + size - 1) / size * size;
        }
        if (base > max)
                return -ENOSPC;
        *ret = base;
        return 0;
}

/* Field number FIELD (0-based) of a ':'-separated LINE as a number. */
static int line_field_u64(const char *line, unsigned field, uint64_t *ret) {
        for (unsigned i = 0; i < field; i++) {
                line = strchr(line, ':');
                if (!line)
                        return -EBADMSG;
                line++;
        }
        int r = safe_atou64_n(line, strcspn(line, ":"), ret);
        return r == -EINVAL ? -EBADMSG : r;
}

/* RANGES: "name:start:count" lines; else "name:x:id:..." lines. */
static int add_file(IdIntervals *l, int etc_fd, const char *name, bool ranges) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(etc_fd, name, HOST_ID_FILE_MAX, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                uint64_t a, b = 1;
                if (line_field_u64(line, ranges ? 1 : 2, &a) < 0)
                        continue;
                if (ranges && (line_field_u64(line, 2, &b) < 0 || b > UINT32_MAX))
                        continue;
                id_intervals_add(l, a, b);
        }
        return 0;
}

int id_intervals_add_host(IdIntervals *l, int etc_fd) {
        static const struct {
                const char *name;
                bool ranges;
        } files[] = { { "passwd", false }, { "group", false }, { "subuid", true }, { "subgid", true } };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                int r = add_file(l, etc_fd, files[i].name, files[i].ranges);
                if (r < 0)
                        return r;
        }
        return 0;
}

int id_intervals_add_subids(IdIntervals *l, int etc_fd, const char *file, const char *user, uid_t uid) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(etc_fd, file, HOST_ID_FILE_MAX, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        _cleanup_free_ char *num = xasprintf("%u", (unsigned) uid);
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                size_t n = strcspn(line, ":");
                /* newuidmap accepts a line naming the user or their UID. */
                bool ours = (n == strlen(user) && strncmp(line, user, n) == 0) ||
                            (n == strlen(num) && strncmp(line, num, n) == 0);
                uint64_t a, b;
                if (!ours || line_field_u64(line, 1, &a) < 0 || line_field_u64(line, 2, &b) < 0 ||
                    a > UINT32_MAX || b > UINT32_MAX - a)
                        continue;
                id_intervals_add(l, a, b);
        }
        return 0;
}

static bool intervals_cover(const IdIntervals *l, uint64_t start, uint64_t end) {
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].start <= start && end <= l->v[i].end)
                        return true;
        return false;
}

bool id_intervals_overlap(const IdIntervals *l, uint64_t start, uint64_t end) {
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].start < end && start < l->v[i].end)
                        return true;
        return false;
}

int id_intervals_first_free_within(IdIntervals *uids, const IdIntervals *gids, const IdIntervals *used,
                                   uint64_t size, uint64_t *ret) {
        if (uids->n > 0)
                qsort(uids->v, uids->n, sizeof(IdInterval), cmp_interval);
        for (size_t i = 0; i < uids->n; i++)
                for (uint64_t b = uids->v[i].start; b + size <= uids->v[i].end; b += size)
                        if (b > 0 && intervals_cover(gids, b, b + size) && !id_intervals_overlap(used, b, b + size)) {
                                *ret = b;
                                return 0;
                        }
        return -ENOSPC;
}
