/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "fs.h"
#include "passwd.h"
#include "util.h"

void passwd_entry_done(PasswdEntry *e) {
        free(e->name);
        free(e->home);
        free(e->shell);
        *e = (PasswdEntry) {};
}

int passwd_file_open(const char *path, FILE **ret) {
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;
        /* No magic links: /proc/self/fd/N there would be one of our own fds,
         * maybe a host file.  O_NONBLOCK: a FIFO must not make us wait. */
        _cleanup_close_ int fd = chase_in_root(root, path, CHASE_NOFOLLOW, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file_fd(fd, PASSWD_FILE_MAX, &text, &len);
        if (r < 0)
                return r;
        /* A stream over a copy that fclose() frees (fmemopen wants room for 1 byte at least). */
        FILE *f = fmemopen(NULL, len + 1, "w+");
        if (!f)
                return -errno;
        if (fwrite(text, 1, len, f) != len || fseek(f, 0, SEEK_SET) < 0) {
                r = -errno ?: -EIO;
                fclose(f);
                return r;
        }
        *ret = f;
        return 0;
}

const char *passwd_file_problem(int r) {
        switch (r) {
        case -ELOOP:
                return "it is a symbolic link";
        case -EBADFD:
                return "it is not a regular file";
        case -EFBIG:
                return "it is larger than 16 MiB";
        default:
                return strerror(-r);
        }
}

/* Split LINE at ':' into at most N fields in place; returns the count. */
static size_t split_fields(char *line, char **fields, size_t n) {
        size_t k = 0;
        line[strcspn(line, "\n")] = 0;
        for (char *p = line; k < n;) {
                fields[k++] = p;
                char *c = strchr(p, ':');
                if (!c)
                        break;
                *c = 0;
                p = c + 1;
        }
        return k;
}

static int parse_id(const char *s, unsigned *ret) {
        unsigned v;
        int r = safe_atou(s, &v);
        if (r < 0)
                return r;
        /* (uid_t) -1 means "no change" to the set*id calls: never a real ID. */
        if (v == (unsigned) -1)
                return -ERANGE;
        *ret = v;
        return 0;
}

int passwd_lookup(FILE *f, const char *user, PasswdEntry *ret) {
        if (isempty(user))
                return -EINVAL;
        unsigned want_uid = 0;
        bool numeric = parse_id(user, &want_uid) >= 0;

        _cleanup_free_ char *line = NULL;
        size_t sz = 0;
        while (getline(&line, &sz, f) > 0) {
                if (line[0] == '#' || line[0] == '+' || line[0] == '-')
                        continue;
                char *fld[7];
                if (split_fields(line, fld, 7) != 7)
                        continue;
                unsigned uid, gid;
                bool match = numeric ? (parse_id(fld[2], &uid) >= 0 && uid == want_uid) : streq(fld[0], user);
                if (!match)
                        continue;
                if (parse_id(fld[2], &uid) < 0 || parse_id(fld[3], &gid) < 0)
                        return -EBADMSG;
                *ret = (PasswdEntry) {
                        .name = xstrdup(fld[0]),
                        .uid = uid,
                        .gid = gid,
                        .home = xstrdup(isempty(fld[5]) ? "/" : fld[5]),
                        .shell = xstrdup(isempty(fld[6]) ? "/bin/sh" : fld[6]),
                };
                return 0;
        }
        if (!numeric)
                return -ESRCH;
        *ret = (PasswdEntry) {
                .name = xstrdup(user), .uid = want_uid, .gid = want_uid, .home = xstrdup("/"),
                .shell = xstrdup("/bin/sh"),
        };
        return 0;
}

int group_list_for(FILE *f, const char *user, gid_t primary, gid_t **ret, size_t *ret_n) {
        size_t n = 1, cap = 8;
        _cleanup_free_ gid_t *l = xmalloc(sizeof(gid_t) * cap);
        l[0] = primary;

        _cleanup_free_ char *line = NULL;
        size_t sz = 0;
        while (f && getline(&line, &sz, f) > 0) {
                char *fld[4];
                if (line[0] == '#' || split_fields(line, fld, 4) != 4)
                        continue;
                unsigned gid;
                if (parse_id(fld[2], &gid) < 0 || gid == primary)
                        continue;
                char *save = NULL;
                for (char *m = strtok_r(fld[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
                        if (!streq(m, user))
                                continue;
                        if (n == cap) {
                                cap *= 2;
                                gid_t *x = realloc(l, sizeof(gid_t) * cap);
                                if (!x)
                                        abort();
                                l = x;
                        }
                        /* NGROUPS_MAX bounds what setgroups() takes. */
                        if (n < 65536)
                                l[n++] = gid;
                        break;
                }
        }
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}
