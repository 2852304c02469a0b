/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "binds.h"
#include "util.h"

static const char *const idmap_names[_BIND_IDMAP_MAX] = {
        [BIND_IDMAP_ROOT] = "rootidmap",
        [BIND_IDMAP_ID] = "idmap",
        [BIND_IDMAP_NONE] = "noidmap",
};

const char *bind_idmap_to_string(BindIdmap m) {
        return m >= 0 && m < _BIND_IDMAP_MAX ? idmap_names[m] : NULL;
}

static int fail(const char **ret_reason, const char *reason) {
        if (ret_reason)
                *ret_reason = reason;
        return -EINVAL;
}

/* An absolute path without "." or ".." components, control characters or
 * ':' (the separator of the value). */
static int check_path(const char *p, size_t n, const char *what_missing, const char **ret_reason) {
        if (n == 0)
                return fail(ret_reason, what_missing);
        if (p[0] != '/')
                return fail(ret_reason, "has a path that is not absolute");
        /* A configuration file's line loses its trailing blanks. */
        if (isspace((unsigned char) p[n - 1]))
                return fail(ret_reason, "has a path ending in a blank, which machine.conf cannot keep");
        for (size_t i = 0; i < n; i++) {
                if (iscntrl((unsigned char) p[i]))
                        return fail(ret_reason, "has a control character in a path");
                /* ...and reads a ';' after a blank as the start of a comment. */
                if (p[i] == ';' && i > 0 && isspace((unsigned char) p[i - 1]))
                        return fail(ret_reason, "has ' ;' in a path, which machine.conf would read as a comment");
        }
        for (size_t i = 0; i < n;) {
                while (i < n && p[i] == '/')
                        i++;
                size_t j = i;
                while (j < n && p[j] != '/')
                        j++;
                if ((j - i == 1 && p[i] == '.') || (j - i == 2 && p[i] == '.' && p[i + 1] == '.'))
                        return fail(ret_reason, "has a '.' or '..' component in a path");
                i = j;
        }
        return 0;
}

/* Whether component number IDX (from 0) of P is NAME, and how many components P has. */
static size_t components(const char *p, const char **c, size_t *len, size_t max) {
        size_t k = 0;
        for (size_t i = 0; p[i];) {
                while (p[i] == '/')
                        i++;
                if (!p[i])
                        break;
                size_t j = i;
                while (p[j] && p[j] != '/')
                        j++;
                if (k < max) {
                        c[k] = p + i;
                        len[k] = j - i;
                }
                k++;
                i = j;
        }
        return k;
}

static bool comp_is(const char *c, size_t len, const char *name) {
        return len == strlen(name) && memcmp(c, name, len) == 0;
}

/* The machine's own API filesystems and berth's /run/host: a bind over them
 * (or below) would hide or replace what the machine's safety rests on. */
static int check_destination(const char *dst, const char **ret_reason) {
        const char *c[2];
        size_t len[2];
        size_t n = components(dst, c, len, 2);
        if (n == 0)
                return fail(ret_reason, "would mount over the machine's root directory");
        if (comp_is(c[0], len[0], "proc") || comp_is(c[0], len[0], "sys") || comp_is(c[0], len[0], "dev") ||
            (n >= 2 && comp_is(c[0], len[0], "run") && comp_is(c[1], len[1], "host")) ||
            (n == 1 && comp_is(c[0], len[0], "run")))
                return fail(ret_reason, "would mount over /proc, /sys, /dev, /run or /run/host, which berth sets up");
        return 0;
}

int bind_destination_check(const char *dst, const char **ret_reason) {
        int r = check_path(dst, strlen(dst), "has no destination path", ret_reason);
        return r < 0 ? r : check_destination(dst, ret_reason);
}

void bind_spec_done(BindSpec *b) {
        free(b->source);
        free(b->destination);
        *b = (BindSpec) {};
}

/* Split S at each ':' that is not escaped into at most MAX fields (each
 * malloc'ed), unescaped: "\:" is a ':' of a path and "\\" a backslash, as
 * nspawn takes them.  Returns how many, or -E2BIG if there are more. */
static int split_fields(const char *s, char **fields, size_t max) {
        size_t n = 0;
        _cleanup_free_ char *buf = xmalloc(strlen(s) + 1);
        char *o = buf;
        for (const char *p = s;; p++) {
                if (*p == '\\' && (p[1] == ':' || p[1] == '\\')) {
                        *o++ = *++p;
                        continue;
                }
                if (*p && *p != ':') {
                        *o++ = *p;
                        continue;
                }
                if (n == max) {
                        for (size_t i = 0; i < n; i++)
                                free(fields[i]);
                        return -E2BIG;
                }
                fields[n] = strndup(buf, (size_t) (o - buf));
                if (!fields[n++])
                        abort();
                o = buf;
                if (!*p)
                        return (int) n;
        }
}

char *bind_path_escape(const char *path) {
        char *e = xmalloc(strlen(path) * 2 + 1), *o = e;
        for (const char *p = path; *p; p++) {
                if (*p == ':' || *p == '\\')
                        *o++ = '\\';
                *o++ = *p;
        }
        *o = 0;
        return e;
}

int bind_spec_parse(const char *s, bool read_only, BindSpec *ret, const char **ret_reason) {
        char *f[3] = {};
        int n = split_fields(s, f, ELEMENTSOF(f));
        if (n < 0)
                return fail(ret_reason, "has more than SRC:DST:OPTIONS (write a ':' in a path as \\:)");
        _cleanup_free_ char *src = f[0], *dst = f[1], *options = f[2];
        int r = check_path(src, strlen(src), "has no source path", ret_reason);
        if (r < 0)
                return r;
        if (isempty(dst)) {
                /* "SRC" or "SRC::OPTIONS": DST defaults to SRC */
                free(dst);
                dst = xstrdup(src);
        }
        r = check_path(dst, strlen(dst), "has no destination path", ret_reason);
        if (r < 0)
                return r;
        r = check_destination(dst, ret_reason);
        if (r < 0)
                return r;

        BindSpec b = { .read_only = read_only, .recursive = true, .idmap = BIND_IDMAP_ROOT };
        bool seen_ro = false, seen_rec = false, seen_idmap = false;
        if (options) {
                if (!*options)
                        return fail(ret_reason, "has an empty list of options after ':'");
                char *save = NULL;
                for (char *o = strtok_r(options, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
                        bool *seen;
                        if (streq(o, "ro") || streq(o, "rw")) {
                                seen = &seen_ro;
                                b.read_only = read_only || streq(o, "ro");
                        } else if (streq(o, "rbind") || streq(o, "norbind")) {
                                seen = &seen_rec;
                                b.recursive = streq(o, "rbind");
                        } else if (streq(o, "idmap") || streq(o, "rootidmap") || streq(o, "noidmap")) {
                                seen = &seen_idmap;
                                b.idmap = streq(o, "idmap") ? BIND_IDMAP_ID
                                          : streq(o, "rootidmap") ? BIND_IDMAP_ROOT : BIND_IDMAP_NONE;
                        } else
                                return fail(ret_reason, "has an unknown option (known: ro, rw, rbind, norbind, "
                                                        "idmap, rootidmap, noidmap)");
                        if (*seen)
                                return fail(ret_reason, "has two options of one kind (ro/rw, rbind/norbind or "
                                                        "idmap/rootidmap/noidmap)");
                        *seen = true;
                }
                if (!seen_ro && !seen_rec && !seen_idmap)
                        return fail(ret_reason, "has an empty list of options after ':'");
        }
        b.idmap_set = seen_idmap;
        b.source = TAKE_PTR(src);
        b.destination = TAKE_PTR(dst);
        *ret = b;
        return 0;
}

void tmpfs_spec_done(TmpfsSpec *t) {
        free(t->destination);
        free(t->mode);
        free(t->size);
        *t = (TmpfsSpec) {};
}

static bool mode_valid(const char *m) {
        size_t n = strlen(m);
        if (n == 0 || n > 4)
                return false;
        for (size_t i = 0; i < n; i++)
                if (m[i] < '0' || m[i] > '7')
                        return false;
        return true;
}

static bool size_valid(const char *s) {
        size_t n = strspn(s, "0123456789");
        if (n == 0 || n > 18)
                return false;
        return s[n] == 0 || (strchr("kKmMgG%", s[n]) && s[n + 1] == 0);
}

int tmpfs_spec_parse(const char *s, TmpfsSpec *ret, const char **ret_reason) {
        char *f[2] = {};
        int n = split_fields(s, f, ELEMENTSOF(f));
        if (n < 0)
                return fail(ret_reason, "has more than DST:OPTIONS (write a ':' in a path as \\:)");
        _cleanup_free_ char *dst = f[0], *opts = f[1];
        int r = check_path(dst, strlen(dst), "has no destination path", ret_reason);
        if (r < 0)
                return r;
        _cleanup_(tmpfs_spec_done) TmpfsSpec t = {};
        t.destination = TAKE_PTR(dst);
        r = check_destination(t.destination, ret_reason);
        if (r < 0)
                return r;
        if (opts) {
                if (!*opts)
                        return fail(ret_reason, "has an empty list of options after ':'");
                char *save = NULL;
                for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
                        if (streq(o, "ro") || streq(o, "rw"))
                                t.read_only = streq(o, "ro");
                        else if (startswith(o, "mode=") && mode_valid(o + 5)) {
                                free(t.mode);
                                t.mode = xstrdup(o + 5);
                        } else if (startswith(o, "size=") && size_valid(o + 5)) {
                                free(t.size);
                                t.size = xstrdup(o + 5);
                        } else
                                return fail(ret_reason, "has an unknown or malformed option (known: ro, rw, "
                                                        "mode=OCTAL, size=SIZE with k, m, g or %)");
                }
        }
        *ret = t;
        t = (TmpfsSpec) {};
        return 0;
}
