/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "passwd.h"
#include "util.h"

void passwd_entry_done(PasswdEntry *e) {
        free(e->name);
        free(e->home);
        free(e->shell);
        *e = (PasswdEntry) {};
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
