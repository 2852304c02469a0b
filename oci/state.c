/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "fs.h"
#include "idmap.h"
#include "log.h"
#include "oci.h"
#include "util.h"

#define STATE_MAX (1u << 20)

int oci_id_validate(const char *id) {
        /* Names the engines make: hex digests, "name-1", "k8s_pod.x". */
        size_t n = strlen(id);
        if (n == 0 || n > 1024 || id[0] == '.' || id[0] == '-')
                return -EINVAL;
        for (const char *p = id; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("_.-+", *p)))
                        return -EINVAL;
        return 0;
}

int oci_state_dir_open(const char *root, const char *id, int *ret) {
        _cleanup_close_ int rfd = open_dir_nofollow(AT_FDCWD, root);
        if (rfd < 0)
                return rfd;
        int fd = open_dir_nofollow(rfd, id);
        if (fd < 0)
                return fd;
        *ret = fd;
        return 0;
}

static void add_str(json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, json_object_new_string(v ?: ""));
}

int oci_state_write(int dirfd, const OciState *s) {
        json_object *o = json_object_new_object();
        add_str(o, "id", s->id);
        json_object_object_add(o, "pid", json_object_new_int(s->pid));
        json_object_object_add(o, "starttime", json_object_new_uint64(s->starttime));
        add_str(o, "bundle", s->bundle);
        add_str(o, "rootfs", s->rootfs);
        add_str(o, "created", s->created);
        add_str(o, "cgroup", s->cgroup);
        if (s->scope)
                add_str(o, "scope", s->scope);
        if (s->notify_socket)
                add_str(o, "notifySocket", s->notify_socket);
        if (s->profile == OCI_PROFILE_MACHINE) {
                add_str(o, "profile", "machine");
                json_object_object_add(o, "uidBase", json_object_new_int64(s->uid_base));
                if (s->machine_name)
                        add_str(o, "machineName", s->machine_name);
                if (s->registered)
                        add_str(o, "registered", s->registered);
        }
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        int r = write_file_atomic_at(dirfd, "state.json", text, strlen(text), 0600);
        json_object_put(o);
        return r;
}

static char *jdup(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return xstrdup(json_object_get_string(v));
}

/* A scope's name as create wrote it (what delete hands to systemd). */
static bool scope_name_valid(const char *u) {
        size_t n = strlen(u);
        return n > strlen(".scope") && streq(u + n - strlen(".scope"), ".scope") && !strchr(u, '/');
}

int oci_state_load(const char *root, const char *id, int *ret_dirfd, OciState *ret) {
        if (oci_id_validate(id) < 0)
                return -ENOENT;
        _cleanup_close_ int dfd = -EBADF;
        int r = oci_state_dir_open(root, id, &dfd);
        if (r < 0)
                return r;
        _cleanup_free_ char *buf = NULL;
        r = read_file_at(dfd, "state.json", STATE_MAX, &buf, NULL);
        if (r < 0)
                return r;
        json_object *o = json_tokener_parse(buf), *v;
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        OciState s = { .id = jdup(o, "id"), .bundle = jdup(o, "bundle"), .rootfs = jdup(o, "rootfs"),
                       .created = jdup(o, "created"), .cgroup = jdup(o, "cgroup"),
                       .notify_socket = jdup(o, "notifySocket"), .machine_name = jdup(o, "machineName"),
                       .registered = jdup(o, "registered"), .scope = jdup(o, "scope") };
        if (json_object_object_get_ex(o, "pid", &v))
                s.pid = json_object_get_int(v);
        if (json_object_object_get_ex(o, "starttime", &v))
                s.starttime = json_object_get_uint64(v);
        if (json_object_object_get_ex(o, "profile", &v) && streq_ptr(json_object_get_string(v), "machine"))
                s.profile = OCI_PROFILE_MACHINE;
        if (json_object_object_get_ex(o, "uidBase", &v) && idmap_base_valid((unsigned long) json_object_get_int64(v)))
                s.uid_base = (uid_t) json_object_get_int64(v);
        json_object_put(o);
        if (!s.id || !s.cgroup || (s.scope && !scope_name_valid(s.scope))) {
                oci_state_done(&s);
                return -EBADMSG;
        }
        *ret = s;
        *ret_dirfd = TAKE_FD(dfd);
        return 0;
}

void oci_state_done(OciState *s) {
        free(s->id);
        free(s->bundle);
        free(s->rootfs);
        free(s->created);
        free(s->cgroup);
        free(s->notify_socket);
        free(s->machine_name);
        free(s->registered);
        free(s->scope);
        memset(s, 0, sizeof *s);
}

/* The init is the engine's child: once it exits it is a zombie until the
 * engine reaps it, and a zombie has stopped. */
static bool process_alive(pid_t pid, unsigned long long starttime) {
        unsigned long long t;
        if (pid <= 0 || proc_starttime(pid, &t) < 0 || t != starttime)
                return false;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        _cleanup_free_ char *buf = NULL;
        if (read_file_at(AT_FDCWD, path, 4096, &buf, NULL) < 0)
                return false;
        const char *p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

OciStatus oci_state_status(int dirfd, const OciState *s) {
        if (!process_alive(s->pid, s->starttime))
                return OCI_STATUS_STOPPED;
        if (faccessat(dirfd, "exec.fifo", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return OCI_STATUS_CREATED;
        MachineCgroup cg = oci_state_cgroup(s);
        if (cgroup_machine_is_frozen(&cg) > 0)
                return OCI_STATUS_PAUSED;
        return OCI_STATUS_RUNNING;
}

const char *oci_status_name(OciStatus st) {
        static const char *const names[] = { "creating", "created", "running", "paused", "stopped" };
        return names[st];
}

char *oci_state_json(const OciState *s, OciStatus st, const char *annotations_from) {
        json_object *o = json_object_new_object();
        add_str(o, "ociVersion", OCI_VERSION);
        add_str(o, "id", s->id);
        add_str(o, "status", oci_status_name(st));
        json_object_object_add(o, "pid", json_object_new_int(st == OCI_STATUS_STOPPED ? 0 : s->pid));
        add_str(o, "bundle", s->bundle);
        add_str(o, "rootfs", s->rootfs);
        add_str(o, "created", s->created);
        add_str(o, "owner", "");
        /* The annotations as the config has them: hooks key off them. */
        json_object *cfg = annotations_from ? json_object_from_file(annotations_from) : NULL, *a;
        if (cfg && json_object_object_get_ex(cfg, "annotations", &a) && json_object_is_type(a, json_type_object))
                json_object_object_add(o, "annotations", json_object_get(a));
        json_object_put(cfg);
        char *text = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return text;
}

MachineCgroup oci_state_cgroup(const OciState *st) {
        return (MachineCgroup) { .group = st->cgroup, .delegated = st->scope, .payload_devices = st->scope };
}

char *oci_cgroup_group(const char *cgroups_path, const char *id) {
        if (isempty(cgroups_path))
                return xasprintf("berth-oci/%s", id);
        const char *c1 = strchr(cgroups_path, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2) {
                /* systemd's "slice:prefix:name": the scope systemd would make, in
                 * the cgroup tree we manage ourselves (cgroupfs). */
                _cleanup_free_ char *slice = strndup(cgroups_path, (size_t) (c1 - cgroups_path));
                _cleanup_free_ char *prefix = strndup(c1 + 1, (size_t) (c2 - c1 - 1));
                return xasprintf("%s/%s%s%s.scope", isempty(slice) ? "system.slice" : slice, prefix,
                                 isempty(prefix) ? "" : "-", c2 + 1);
        }
        char *g = xstrdup(cgroups_path + strspn(cgroups_path, "/"));
        /* No trailing or doubled slashes: the group is a path below each hierarchy. */
        char *w = g;
        for (const char *r = g; *r; r++)
                if (*r != '/' || (r[1] && r[1] != '/'))
                        *w++ = *r;
        *w = 0;
        return g;
}

int oci_state_spec(int dirfd, OciSpec *ret) {
        _cleanup_free_ char *buf = NULL, *err = NULL;
        size_t len;
        int r = read_file_at(dirfd, "config.json", OCI_SPEC_MAX_SIZE, &buf, &len);
        if (r < 0)
                return r;
        r = oci_spec_parse(buf, len, ret, &err);
        if (r < 0)
                log_debug("The saved config.json does not parse: %s", err);
        return r;
}

int oci_write_pid_file(const char *path, pid_t pid) {
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        const char *name = path;
        _cleanup_close_ int dfd = -EBADF;
        if (slash) {
                name = path + (slash - dir) + 1;
                *slash = 0;
                dfd = open(isempty(dir) ? "/" : dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        return -errno;
        }
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%d", (int) pid);
        return write_file_atomic_at(slash ? dfd : AT_FDCWD, name, buf, (size_t) n, 0644);
}
