/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "kv.h"
#include "name.h"
#include "oci-record.h"
#include "util.h"

#define RECORD_MAX 65536

void oci_record_done(OciRecord *r) {
        free(r->id);
        free(r->name);
        free(r->state_dir);
        free(r->engine);
        free(r->rootfs);
        free(r->registered);
        *r = (OciRecord) {};
}

const char *oci_record_dir(bool *ret_explicit) {
        const char *e = secure_getenv("BERTH_OCI_RECORDS");
        if (ret_explicit)
                *ret_explicit = !isempty(e);
        return isempty(e) ? OCI_RECORD_DIR : e;
}

/* A value is one line: no newline may sneak in a second key. */
static bool value_ok(const char *v) {
        return !v || !strchr(v, '\n');
}

int oci_record_write(const char *dir, const OciRecord *r) {
        if (!value_ok(r->name) || !value_ok(r->state_dir) || !value_ok(r->engine) || !value_ok(r->rootfs) ||
            !value_ok(r->registered) || strchr(r->id, '/'))
                return -EINVAL;
        int k = mkdir_p_at(AT_FDCWD, dir, 0755);
        if (k < 0)
                return k;
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        if (dfd < 0)
                return dfd;
        _cleanup_free_ char *text = xasprintf("NAME=%s\nSTATE_DIR=%s\nENGINE=%s\nROOTFS=%s\nPID=%d\nSTARTTIME=%llu\n",
                                              r->name, r->state_dir, r->engine, r->rootfs ?: "", (int) r->pid,
                                              r->starttime);
        if (r->registered)
                strextendf(&text, "REGISTERED=%s\n", r->registered);
        return write_file_atomic_at(dfd, r->id, text, strlen(text), 0644);
}

int oci_record_remove(const char *dir, const char *id) {
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        if (dfd < 0)
                return dfd == -ENOENT ? 0 : dfd;
        if (unlinkat(dfd, id, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int record_read_at(int dfd, const char *id, OciRecord *ret) {
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int k = key_values_read_at(dfd, id, RECORD_MAX, &kv);
        if (k < 0)
                return k;
        const char *name = key_values_get(&kv, "NAME"), *sd = key_values_get(&kv, "STATE_DIR"),
                   *engine = key_values_get(&kv, "ENGINE"), *pid = key_values_get(&kv, "PID"),
                   *start = key_values_get(&kv, "STARTTIME"), *rootfs = key_values_get(&kv, "ROOTFS"),
                   *reg = key_values_get(&kv, "REGISTERED");
        int p;
        uint64_t t;
        if (!name || !machine_name_is_valid(name) || !sd || !engine || !pid || safe_atoi(pid, &p) < 0 || p <= 0 ||
            !start || safe_atou64(start, &t) < 0)
                return -EBADMSG;
        *ret = (OciRecord) { .id = xstrdup(id), .name = xstrdup(name), .state_dir = xstrdup(sd),
                             .engine = xstrdup(engine), .rootfs = xstrdup(rootfs ?: ""),
                             .registered = reg ? xstrdup(reg) : NULL, .pid = p, .starttime = t };
        return 0;
}

int oci_record_read(const char *dir, const char *id, OciRecord *ret) {
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        if (dfd < 0)
                return dfd;
        return record_read_at(dfd, id, ret);
}

bool oci_record_alive(const OciRecord *r) {
        unsigned long long t;
        return r->pid > 0 && proc_starttime(r->pid, &t) >= 0 && t == r->starttime;
}

static int record_cmp(const void *a, const void *b) {
        return strcmp(((const OciRecord *) a)->name, ((const OciRecord *) b)->name);
}

int oci_record_list(const char *dir, OciRecord **ret, size_t *ret_n) {
        *ret = NULL;
        *ret_n = 0;
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        if (dfd == -ENOENT)
                return 0;
        if (dfd < 0)
                return dfd;
        _cleanup_closedir_ DIR *d = NULL;
        int k = opendir_dup(dfd, &d);
        if (k < 0)
                return k;
        OciRecord *v = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                /* ".x.tmp" and the like: a write on its way. */
                if (de->d_name[0] == '.')
                        continue;
                OciRecord r;
                if (record_read_at(dfd, de->d_name, &r) < 0)
                        continue;
                OciRecord *nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv)
                        abort();
                v = nv;
                v[n++] = r;
        }
        if (n > 0)
                qsort(v, n, sizeof *v, record_cmp);
        *ret = v;
        *ret_n = n;
        return 0;
}

void oci_record_list_free(OciRecord *r, size_t n) {
        for (size_t i = 0; i < n; i++)
                oci_record_done(&r[i]);
        free(r);
}

int oci_record_find(const char *dir, const char *name, OciRecord *ret) {
        OciRecord *v;
        size_t n;
        int k = oci_record_list(dir, &v, &n);
        if (k < 0)
                return k;
        k = -ENOENT;
        /* A live one first: a stale record may carry the same name. */
        for (int pass = 0; pass < 2 && k < 0; pass++)
                for (size_t i = 0; i < n; i++)
                        if (streq(v[i].name, name) && (pass == 1 || oci_record_alive(&v[i]))) {
                                *ret = v[i];
                                v[i] = (OciRecord) {};
                                k = 0;
                                break;
                        }
        oci_record_list_free(v, n);
        return k;
}

char *oci_record_name_from_id(const char *id) {
        char *s = xmalloc(MACHINE_NAME_MAX + 1);
        size_t n = 0;
        for (const char *p = id; *p && n < MACHINE_NAME_MAX; p++) {
                char c = *p;
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                /* No leading '-': it reads as an option. */
                if (!alnum && n == 0)
                        continue;
                s[n++] = alnum ? c : '-';
        }
        s[n] = 0;
        if (n == 0) {
                free(s);
                return xstrdup("oci-container");
        }
        return s;
}

char *oci_record_engine_of(pid_t parent) {
        char path[64], comm[64] = "";
        snprintf(path, sizeof path, "/proc/%d/comm", (int) parent);
        _cleanup_free_ char *buf = NULL;
        if (read_file_at(AT_FDCWD, path, 256, &buf, NULL) >= 0)
                snprintf(comm, sizeof comm, "%.*s", (int) strcspn(buf, "\n"), buf);
        if (streq(comm, "conmon"))
                return xstrdup("podman");
        if (startswith(comm, "containerd"))
                return xstrdup("containerd");
        /* One word, a valid value: whatever the name of the caller. */
        for (char *c = comm; *c; c++)
                if (*c == '\n' || *c == '=' || *c == ' ')
                        *c = '_';
        return xstrdup(isempty(comm) ? "unknown" : comm);
}

const char *oci_record_engine_tool(const char *engine) {
        if (streq(engine, "podman"))
                return "podman";
        if (streq(engine, "containerd"))
                return "ctr";
        return engine;
}
