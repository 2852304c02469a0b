/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <json-c/json.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <sys/capability.h>
#include <sys/resource.h>

#include "devices.h"
#include "oci-spec.h"
#include "util.h"

#define JSON_DEPTH 64

/* Every check below fails the same way: a message naming the field, and
 * -EINVAL.  ERR points at the caller's *ret_error. */
typedef struct Ctx {
        char **err;
} Ctx;

_printf_(2, 3) static int fail(Ctx *c, const char *fmt, ...) {
        if (!*c->err) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(c->err, fmt, ap) < 0)
                        abort();
                va_end(ap);
        }
        return -EINVAL;
}

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

static const char *type_name(json_type t) {
        switch (t) {
        case json_type_null: return "null";
        case json_type_boolean: return "a boolean";
        case json_type_double: return "a number";
        case json_type_int: return "an integer";
        case json_type_object: return "an object";
        case json_type_array: return "an array";
        case json_type_string: return "a string";
        default: return "unknown";
        }
}

/* KEY of O if present: NULL when absent (or null); a wrong type is an error. */
static int member(Ctx *c, json_object *o, const char *field, const char *key, json_type type, json_object **ret) {
        json_object *v = NULL;
        *ret = NULL;
        if (!o || !json_object_object_get_ex(o, key, &v) || !v)
                return 0;
        if (!json_object_is_type(v, type) && !(type == json_type_int && json_object_is_type(v, json_type_double)))
                return fail(c, "%s%s%s: must be %s, not %s.", field, *field ? "." : "", key, type_name(type),
                            type_name(json_object_get_type(v)));
        *ret = v;
        return 0;
}

static int get_string(Ctx *c, json_object *o, const char *field, const char *key, char **ret) {
        json_object *v;
        int r = member(c, o, field, key, json_type_string, &v);
        if (r < 0)
                return r;
        if (!v)
                return 0;
        if (strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v))
                return fail(c, "%s.%s: contains a NUL byte.", field, key);
        free(*ret);
        *ret = xstrdup(json_object_get_string(v));
        return 0;
}

static int get_bool(Ctx *c, json_object *o, const char *field, const char *key, bool *ret) {
        json_object *v;
        int r = member(c, o, field, key, json_type_boolean, &v);
        if (r >= 0 && v)
                *ret = json_object_get_boolean(v);
        return r;
}

/* An integer in [MIN, MAX]; *RET untouched when absent. */
static int get_int(Ctx *c, json_object *o, const char *field, const char *key, int64_t min, int64_t max,
                   bool *ret_present, int64_t *ret) {
        json_object *v;
        int r = member(c, o, field, key, json_type_int, &v);
        if (r < 0 || !v)
                return r;
        if (!json_object_is_type(v, json_type_int))
                return fail(c, "%s.%s: must be an integer.", field, key);
        errno = 0;
        int64_t i = json_object_get_int64(v);
        if (errno == ERANGE || i < min || i > max)
                return fail(c, "%s.%s: %" PRId64 " is out of range (%" PRId64 "..%" PRId64 ").", field, key, i, min,
                            max);
        if (ret_present)
                *ret_present = true;
        *ret = i;
        return 0;
}

static int get_uint64(Ctx *c, json_object *o, const char *field, const char *key, uint64_t *ret) {
        json_object *v;
        int r = member(c, o, field, key, json_type_int, &v);
        if (r < 0 || !v)
                return r;
        if (!json_object_is_type(v, json_type_int))
                return fail(c, "%s.%s: must be an integer.", field, key);
        /* json-c keeps numbers above INT64_MAX as unsigned. */
        errno = 0;
        int64_t i = json_object_get_int64(v);
        if (i < 0 && errno != ERANGE)
                return fail(c, "%s.%s: must not be negative.", field, key);
        *ret = json_object_get_uint64(v);
        return 0;
}

static int array_len(Ctx *c, json_object *a, const char *field, size_t max, size_t *ret) {
        size_t n = a ? json_object_array_length(a) : 0;
        if (n > max) {
                (void) fail(c, "%s: %zu entries, more than the %zu berth-oci accepts.", field, n, max);
                return -E2BIG;
        }
        *ret = n;
        return 0;
}

static int get_strv(Ctx *c, json_object *o, const char *field, const char *key, char ***ret) {
        json_object *a;
        int r = member(c, o, field, key, json_type_array, &a);
        if (r < 0 || !a)
                return r;
        _cleanup_free_ char *f = xasprintf("%s%s%s", field, *field ? "." : "", key);
        size_t n;
        r = array_len(c, a, f, OCI_SPEC_MAX_ARRAY, &n);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **l = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                json_object *s = json_object_array_get_idx(a, i);
                if (!json_object_is_type(s, json_type_string))
                        return fail(c, "%s[%zu]: must be a string, not %s.", f, i,
                                    type_name(json_object_get_type(s)));
                if (strlen(json_object_get_string(s)) != (size_t) json_object_get_string_len(s))
                        return fail(c, "%s[%zu]: contains a NUL byte.", f, i);
                l[i] = xstrdup(json_object_get_string(s));
        }
        strv_free(*ret);
        *ret = TAKE_PTR(l);
        return 0;
}

/* A path inside the container: absolute, without "..". */
static int check_container_path(Ctx *c, const char *field, const char *p) {
        if (!p || p[0] != '/')
                return fail(c, "%s: \"%s\" is not an absolute path. Paths inside the container start with '/'.",
                            field, p ?: "");
        if (path_has_dotdot(p))
                return fail(c, "%s: \"%s\" contains \"..\".", field, p);
        return 0;
}

/* ----- process ----- */

static int parse_caps(Ctx *c, json_object *o, const char *key, uint64_t *ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r = get_strv(c, o, "process.capabilities", key, &l);
        if (r < 0)
                return r;
        uint64_t m = 0;
        for (size_t i = 0; l && l[i]; i++) {
                cap_value_t v;
                const char *name = l[i];
                /* cap_from_name() takes "cap_sys_admin" in any case. */
                if (cap_from_name(name, &v) < 0 || v < 0 || v > 63 || !startswith(name, "CAP_"))
                        return fail(c, "process.capabilities.%s[%zu]: unknown capability \"%s\".", key, i, name);
                m |= UINT64_C(1) << v;
        }
        *ret = m;
        return 0;
}

static const struct {
        const char *name;
        int resource;
} rlimit_names[] = {
        { "RLIMIT_AS", RLIMIT_AS },           { "RLIMIT_CORE", RLIMIT_CORE },
        { "RLIMIT_CPU", RLIMIT_CPU },         { "RLIMIT_DATA", RLIMIT_DATA },
        { "RLIMIT_FSIZE", RLIMIT_FSIZE },     { "RLIMIT_LOCKS", RLIMIT_LOCKS },
        { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
        { "RLIMIT_NICE", RLIMIT_NICE },       { "RLIMIT_NOFILE", RLIMIT_NOFILE },
        { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_RSS", RLIMIT_RSS },
        { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },
        { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

static int parse_process(Ctx *c, json_object *o, OciProcess *p, bool need_args) {
        int r;
        if ((r = get_bool(c, o, "process", "terminal", &p->terminal)) < 0 ||
            (r = get_strv(c, o, "process", "args", &p->args)) < 0 ||
            (r = get_strv(c, o, "process", "env", &p->env)) < 0 ||
            (r = get_string(c, o, "process", "cwd", &p->cwd)) < 0 ||
            (r = get_bool(c, o, "process", "noNewPrivileges", &p->no_new_privileges)) < 0)
                return r;
        if (need_args && (!p->args || !p->args[0]))
                return fail(c, "process.args: missing or empty; it names the program to run.");
        if (!p->cwd)
                p->cwd = xstrdup("/");
        if ((r = check_container_path(c, "process.cwd", p->cwd)) < 0)
                return r;
        for (size_t i = 0; p->env && p->env[i]; i++)
                if (!strchr(p->env[i], '=') || p->env[i][0] == '=')
                        return fail(c, "process.env[%zu]: \"%s\" is not NAME=VALUE.", i, p->env[i]);

        json_object *user;
        if ((r = member(c, o, "process", "user", json_type_object, &user)) < 0)
                return r;
        int64_t v = 0;
        if ((r = get_int(c, user, "process.user", "uid", 0, UINT32_MAX - 1, NULL, &v)) < 0)
                return r;
        p->uid = (uid_t) v;
        v = 0;
        if ((r = get_int(c, user, "process.user", "gid", 0, UINT32_MAX - 1, NULL, &v)) < 0)
                return r;
        p->gid = (gid_t) v;
        json_object *groups;
        if ((r = member(c, user, "process.user", "additionalGids", json_type_array, &groups)) < 0)
                return r;
        size_t n;
        if ((r = array_len(c, groups, "process.user.additionalGids", 65536, &n)) < 0)
                return r;
        p->groups = xcalloc(n + 1, sizeof(gid_t));
        for (size_t i = 0; i < n; i++) {
                json_object *g = json_object_array_get_idx(groups, i);
                int64_t gid = json_object_get_int64(g);
                if (!json_object_is_type(g, json_type_int) || gid < 0 || gid >= UINT32_MAX)
                        return fail(c, "process.user.additionalGids[%zu]: must be a group ID.", i);
                p->groups[p->n_groups++] = (gid_t) gid;
        }

        json_object *caps;
        if ((r = member(c, o, "process", "capabilities", json_type_object, &caps)) < 0)
                return r;
        if (caps) {
                p->has_caps = true;
                if ((r = parse_caps(c, caps, "bounding", &p->caps.bounding)) < 0 ||
                    (r = parse_caps(c, caps, "effective", &p->caps.effective)) < 0 ||
                    (r = parse_caps(c, caps, "inheritable", &p->caps.inheritable)) < 0 ||
                    (r = parse_caps(c, caps, "permitted", &p->caps.permitted)) < 0 ||
                    (r = parse_caps(c, caps, "ambient", &p->caps.ambient)) < 0)
                        return r;
        }

        json_object *rl;
        if ((r = member(c, o, "process", "rlimits", json_type_array, &rl)) < 0 ||
            (r = array_len(c, rl, "process.rlimits", 64, &n)) < 0)
                return r;
        p->rlimits = xcalloc(n + 1, sizeof(OciRlimit));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(rl, i);
                _cleanup_free_ char *f = xasprintf("process.rlimits[%zu]", i);
                _cleanup_free_ char *type = NULL;
                OciRlimit *l = &p->rlimits[p->n_rlimits];
                if (!json_object_is_type(e, json_type_object))
                        return fail(c, "%s: must be an object.", f);
                if ((r = get_string(c, e, f, "type", &type)) < 0 || (r = get_uint64(c, e, f, "soft", &l->soft)) < 0 ||
                    (r = get_uint64(c, e, f, "hard", &l->hard)) < 0)
                        return r;
                l->resource = -1;
                for (size_t k = 0; type && k < ELEMENTSOF(rlimit_names); k++)
                        if (streq(type, rlimit_names[k].name))
                                l->resource = rlimit_names[k].resource;
                if (l->resource < 0)
                        return fail(c, "%s.type: unknown limit \"%s\" (RLIMIT_NOFILE, RLIMIT_NPROC, ...).", f,
                                    type ?: "");
                if (l->soft > l->hard)
                        return fail(c, "%s: the soft limit is above the hard one.", f);
                p->n_rlimits++;
        }

        if ((r = get_int(c, o, "process", "oomScoreAdj", -1000, 1000, &p->has_oom_score_adj, &v)) < 0)
                return r;
        p->oom_score_adj = (int) v;
        return 0;
}

/* ----- linux ----- */

static const char *const ns_names[_OCI_NS_MAX] = {
        [OCI_NS_PID] = "pid",   [OCI_NS_NET] = "network", [OCI_NS_IPC] = "ipc",       [OCI_NS_UTS] = "uts",
        [OCI_NS_MNT] = "mount", [OCI_NS_USER] = "user",   [OCI_NS_CGROUP] = "cgroup",
};

const char *oci_ns_name(OciNsType t) {
        return t < _OCI_NS_MAX ? ns_names[t] : NULL;
}

int oci_ns_flag(OciNsType t) {
        static const int flags[_OCI_NS_MAX] = {
                [OCI_NS_PID] = CLONE_NEWPID, [OCI_NS_NET] = CLONE_NEWNET,   [OCI_NS_IPC] = CLONE_NEWIPC,
                [OCI_NS_UTS] = CLONE_NEWUTS, [OCI_NS_MNT] = CLONE_NEWNS,    [OCI_NS_USER] = CLONE_NEWUSER,
                [OCI_NS_CGROUP] = CLONE_NEWCGROUP,
        };
        return t < _OCI_NS_MAX ? flags[t] : 0;
}

static int parse_namespaces(Ctx *c, json_object *linux_, OciSpec *s) {
        json_object *a;
        size_t n;
        int r;
        if ((r = member(c, linux_, "linux", "namespaces", json_type_array, &a)) < 0 ||
            (r = array_len(c, a, "linux.namespaces", 64, &n)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                _cleanup_free_ char *f = xasprintf("linux.namespaces[%zu]", i);
                _cleanup_free_ char *type = NULL, *path = NULL;
                if (!json_object_is_type(e, json_type_object))
                        return fail(c, "%s: must be an object.", f);
                if ((r = get_string(c, e, f, "type", &type)) < 0 || (r = get_string(c, e, f, "path", &path)) < 0)
                        return r;
                OciNsType t = _OCI_NS_MAX;
                for (OciNsType k = 0; k < _OCI_NS_MAX; k++)
                        if (streq_ptr(type, ns_names[k]))
                                t = k;
                if (t == _OCI_NS_MAX)
                        return fail(c, "%s.type: \"%s\" is not a namespace berth-oci knows (pid, network, ipc, "
                                    "uts, mount, user, cgroup).", f, type ?: "");
                if (s->ns[t].wanted)
                        return fail(c, "%s: the %s namespace is listed twice.", f, type);
                if (path && path[0] != '/')
                        return fail(c, "%s.path: \"%s\" is not an absolute path.", f, path);
                s->ns[t].wanted = true;
                s->ns[t].path = TAKE_PTR(path);
        }
        return 0;
}

static int parse_idmaps(Ctx *c, json_object *linux_, const char *key, OciIdMap **ret, size_t *ret_n) {
        json_object *a;
        size_t n;
        int r;
        _cleanup_free_ char *field = xasprintf("linux.%s", key);
        if ((r = member(c, linux_, "linux", key, json_type_array, &a)) < 0 ||
            (r = array_len(c, a, field, OCI_SPEC_MAX_IDMAP, &n)) < 0)
                return r;
        OciIdMap *m = xcalloc(n + 1, sizeof(OciIdMap));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                _cleanup_free_ char *f = xasprintf("%s[%zu]", field, i);
                int64_t cid = -1, hid = -1, size = -1;
                if (!json_object_is_type(e, json_type_object))
                        r = fail(c, "%s: must be an object.", f);
                else if ((r = get_int(c, e, f, "containerID", 0, UINT32_MAX - 1, NULL, &cid)) >= 0 &&
                         (r = get_int(c, e, f, "hostID", 0, UINT32_MAX - 1, NULL, &hid)) >= 0 &&
                         (r = get_int(c, e, f, "size", 1, UINT32_MAX, NULL, &size)) >= 0 &&
                         (cid < 0 || hid < 0 || size < 0))
                        r = fail(c, "%s: containerID, hostID and size are all required.", f);
                else if (r >= 0 && (cid + size > (int64_t) UINT32_MAX || hid + size > (int64_t) UINT32_MAX))
                        r = fail(c, "%s: the range goes past the last ID.", f);
                if (r < 0) {
                        free(m);
                        return r;
                }
                m[i] = (OciIdMap) { (uint32_t) cid, (uint32_t) hid, (uint32_t) size };
        }
        *ret = m;
        *ret_n = n;
        return 0;
}

static int parse_access(const char *s, unsigned *ret) {
        unsigned a = 0;
        for (; s && *s; s++)
                switch (*s) {
                case 'r': a |= DEVICE_ACCESS_READ; break;
                case 'w': a |= DEVICE_ACCESS_WRITE; break;
                case 'm': a |= DEVICE_ACCESS_MKNOD; break;
                default: return -EINVAL;
                }
        *ret = a;
        return 0;
}

static int parse_devices(Ctx *c, json_object *linux_, json_object *res, OciSpec *s) {
        json_object *a;
        size_t n;
        int r;
        if ((r = member(c, linux_, "linux", "devices", json_type_array, &a)) < 0 ||
            (r = array_len(c, a, "linux.devices", 1024, &n)) < 0)
                return r;
        s->devices = xcalloc(n + 1, sizeof(OciDevice));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                _cleanup_free_ char *f = xasprintf("linux.devices[%zu]", i);
                _cleanup_free_ char *pf = xasprintf("%s.path", f);
                _cleanup_free_ char *type = NULL;
                OciDevice *d = &s->devices[s->n_devices];
                int64_t major = 0, minor = 0, mode = 0666, uid = 0, gid = 0;
                if (!json_object_is_type(e, json_type_object))
                        return fail(c, "%s: must be an object.", f);
                if ((r = get_string(c, e, f, "path", &d->path)) < 0 ||
                    (r = get_string(c, e, f, "type", &type)) < 0 ||
                    (r = get_int(c, e, f, "major", 0, UINT32_MAX, NULL, &major)) < 0 ||
                    (r = get_int(c, e, f, "minor", 0, UINT32_MAX, NULL, &minor)) < 0 ||
                    (r = get_int(c, e, f, "fileMode", 0, 07777, NULL, &mode)) < 0 ||
                    (r = get_int(c, e, f, "uid", 0, UINT32_MAX - 1, NULL, &uid)) < 0 ||
                    (r = get_int(c, e, f, "gid", 0, UINT32_MAX - 1, NULL, &gid)) < 0)
                        goto fail;
                if ((r = check_container_path(c, pf, d->path)) < 0)
                        goto fail;
                if (!startswith(d->path, "/dev/")) {
                        r = fail(c, "%s: \"%s\" is not below /dev.", pf, d->path);
                        goto fail;
                }
                if (!type || strlen(type) != 1 || !strchr("cbup", type[0])) {
                        r = fail(c, "%s.type: must be \"c\", \"b\", \"u\" or \"p\".", f);
                        goto fail;
                }
                d->type = type[0] == 'u' ? 'c' : type[0];
                d->major = (uint32_t) major;
                d->minor = (uint32_t) minor;
                d->mode = (mode_t) mode;
                d->uid = (uid_t) uid;
                d->gid = (gid_t) gid;
                s->n_devices++;
                continue;
        fail:
                free(d->path);
                d->path = NULL;
                return r;
        }

        if ((r = member(c, res, "linux.resources", "devices", json_type_array, &a)) < 0 ||
            (r = array_len(c, a, "linux.resources.devices", 1024, &n)) < 0)
                return r;
        s->device_rules = xcalloc(n + 1, sizeof(OciDeviceRule));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                _cleanup_free_ char *f = xasprintf("linux.resources.devices[%zu]", i);
                _cleanup_free_ char *type = NULL, *access = NULL;
                OciDeviceRule *d = &s->device_rules[s->n_device_rules];
                d->major = d->minor = -1;
                if (!json_object_is_type(e, json_type_object))
                        return fail(c, "%s: must be an object.", f);
                if ((r = get_bool(c, e, f, "allow", &d->allow)) < 0 || (r = get_string(c, e, f, "type", &type)) < 0 ||
                    (r = get_string(c, e, f, "access", &access)) < 0 ||
                    (r = get_int(c, e, f, "major", -1, UINT32_MAX, NULL, &d->major)) < 0 ||
                    (r = get_int(c, e, f, "minor", -1, UINT32_MAX, NULL, &d->minor)) < 0)
                        return r;
                if (type && (strlen(type) != 1 || !strchr("acb", type[0])))
                        return fail(c, "%s.type: must be \"a\", \"c\" or \"b\".", f);
                d->type = type ? type[0] : 'a';
                if (!access)
                        d->access = DEVICE_ACCESS_ALL;
                else if (parse_access(access, &d->access) < 0)
                        return fail(c, "%s.access: \"%s\" is not a combination of r, w and m.", f, access);
                s->n_device_rules++;
        }
        return 0;
}

static const struct {
        const char *name;
        uint32_t action;
} seccomp_actions[] = {
        { "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD },
        { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD },
        { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS },
        { "SCMP_ACT_TRAP", SCMP_ACT_TRAP },
        { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW },
        { "SCMP_ACT_LOG", SCMP_ACT_LOG },
        /* With the errno filled in by seccomp_action(). */
        { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0) },
        { "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0) },
};

static int seccomp_action(Ctx *c, json_object *o, const char *f, const char *key, const char *errno_key,
                          uint32_t *ret) {
        _cleanup_free_ char *name = NULL;
        int r = get_string(c, o, f, key, &name);
        if (r < 0)
                return r;
        if (!name)
                return fail(c, "%s.%s: missing.", f, key);
        int64_t e = 1; /* EPERM, as runc defaults */
        if ((r = get_int(c, o, f, errno_key, 0, 4095, NULL, &e)) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(seccomp_actions); i++)
                if (streq(name, seccomp_actions[i].name)) {
                        uint32_t a = seccomp_actions[i].action;
                        if (a == SCMP_ACT_ERRNO(0))
                                a = SCMP_ACT_ERRNO((uint16_t) e);
                        else if (a == SCMP_ACT_TRACE(0))
                                a = SCMP_ACT_TRACE((uint16_t) e);
                        *ret = a;
                        return 0;
                }
        return fail(c, "%s.%s: \"%s\" is not a seccomp action berth-oci knows.", f, key, name);
}

static const struct {
        const char *name;
        int op;
} seccomp_ops[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
        { "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static int parse_seccomp(Ctx *c, json_object *o, OciSeccomp *sc) {
        int r = seccomp_action(c, o, "linux.seccomp", "defaultAction", "defaultErrnoRet", &sc->default_action);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **arches = NULL;
        if ((r = get_strv(c, o, "linux.seccomp", "architectures", &arches)) < 0)
                return r;
        size_t n = strv_length(arches);
        sc->arches = xcalloc(n + 1, sizeof(uint32_t));
        for (size_t i = 0; i < n; i++) {
                const char *a = startswith(arches[i], "SCMP_ARCH_");
                _cleanup_free_ char *lower = xstrdup(a ?: "");
                for (char *p = lower; *p; p++)
                        *p = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
                uint32_t v = a ? seccomp_arch_resolve_name(lower) : 0;
                /* An arch libseccomp does not know cannot run here anyway. */
                if (v)
                        sc->arches[sc->n_arches++] = v;
        }

        json_object *a;
        if ((r = member(c, o, "linux.seccomp", "syscalls", json_type_array, &a)) < 0 ||
            (r = array_len(c, a, "linux.seccomp.syscalls", OCI_SPEC_MAX_ARRAY, &n)) < 0)
                return r;
        sc->rules = xcalloc(n + 1, sizeof(OciSeccompRule));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                _cleanup_free_ char *f = xasprintf("linux.seccomp.syscalls[%zu]", i);
                OciSeccompRule *rule = &sc->rules[sc->n_rules];
                if (!json_object_is_type(e, json_type_object))
                        return fail(c, "%s: must be an object.", f);
                /* Count it first, so that oci_spec_done() frees a half-parsed rule. */
                sc->n_rules++;
                if ((r = get_strv(c, e, f, "names", &rule->names)) < 0 ||
                    (r = seccomp_action(c, e, f, "action", "errnoRet", &rule->action)) < 0)
                        return r;
                json_object *args;
                size_t na;
                _cleanup_free_ char *af = xasprintf("%s.args", f);
                if ((r = member(c, e, f, "args", json_type_array, &args)) < 0 ||
                    (r = array_len(c, args, af, 6, &na)) < 0)
                        return r;
                rule->args = xcalloc(na + 1, sizeof(OciSeccompArg));
                for (size_t k = 0; k < na; k++) {
                        json_object *ae = json_object_array_get_idx(args, k);
                        _cleanup_free_ char *g = xasprintf("%s[%zu]", af, k);
                        _cleanup_free_ char *op = NULL;
                        OciSeccompArg *arg = &rule->args[k];
                        int64_t index = -1;
                        if (!json_object_is_type(ae, json_type_object))
                                return fail(c, "%s: must be an object.", g);
                        if ((r = get_int(c, ae, g, "index", 0, 5, NULL, &index)) < 0 ||
                            (r = get_uint64(c, ae, g, "value", &arg->value)) < 0 ||
                            (r = get_uint64(c, ae, g, "valueTwo", &arg->value_two)) < 0 ||
                            (r = get_string(c, ae, g, "op", &op)) < 0)
                                return r;
                        if (index < 0)
                                return fail(c, "%s.index: missing.", g);
                        arg->index = (unsigned) index;
                        arg->op = -1;
                        for (size_t m = 0; op && m < ELEMENTSOF(seccomp_ops); m++)
                                if (streq(op, seccomp_ops[m].name))
                                        arg->op = seccomp_ops[m].op;
                        if (arg->op < 0)
                                return fail(c, "%s.op: \"%s\" is not a comparison (SCMP_CMP_EQ, ...).", g,
                                            op ?: "");
                        rule->n_args++;
                }
        }
        return 0;
}

/* LinuxResources: memory.limit, pids.limit, cpu.{shares,quota,period}.
 * Zero is "unchanged" (runc's update), -1 "unlimited". */
static int parse_resources(Ctx *c, json_object *res, const char *field, OciResources *ret) {
        OciResources x = {};
        json_object *mem, *pids, *cpu;
        _cleanup_free_ char *fm = xasprintf("%s%smemory", field, *field ? "." : "");
        _cleanup_free_ char *fp = xasprintf("%s%spids", field, *field ? "." : "");
        _cleanup_free_ char *fc = xasprintf("%s%scpu", field, *field ? "." : "");
        int64_t memory = 0, pid_limit = 0, shares = 0, quota = 0, period = 0;
        int r;
        if ((r = member(c, res, field, "memory", json_type_object, &mem)) < 0 ||
            (r = member(c, res, field, "pids", json_type_object, &pids)) < 0 ||
            (r = member(c, res, field, "cpu", json_type_object, &cpu)) < 0 ||
            (r = get_int(c, mem, fm, "limit", -1, INT64_MAX, NULL, &memory)) < 0 ||
            (r = get_int(c, pids, fp, "limit", -1, INT64_MAX, NULL, &pid_limit)) < 0 ||
            (r = get_int(c, cpu, fc, "shares", 0, 262144, NULL, &shares)) < 0 ||
            (r = get_int(c, cpu, fc, "quota", -1, INT64_MAX, NULL, &quota)) < 0 ||
            (r = get_int(c, cpu, fc, "period", 0, 1000000, NULL, &period)) < 0)
                return r;
        if (shares == 1)
                return fail(c, "%s.shares: 1 is below the kernel's minimum of 2.", fc);
        if (period > 0 && period < 1000)
                return fail(c, "%s.period: %" PRId64 " is below the kernel's minimum of 1000.", fc, period);
        if (quota > 0 && quota < 1000)
                return fail(c, "%s.quota: %" PRId64 " is below the kernel's minimum of 1000.", fc, quota);
        x.has_memory = memory != 0;
        x.memory_limit = memory < 0 ? UINT64_MAX : (uint64_t) memory;
        x.has_pids = pid_limit != 0;
        x.pids_limit = pid_limit < 0 ? UINT64_MAX : (uint64_t) pid_limit;
        x.has_cpu_shares = shares != 0;
        x.cpu_shares = (uint64_t) shares;
        x.has_cpu_quota = quota != 0;
        x.cpu_quota = quota;
        x.has_cpu_period = period != 0;
        x.cpu_period = (uint64_t) period;
        *ret = x;
        return 0;
}

static int parse_linux(Ctx *c, json_object *linux_, OciSpec *s) {
        int r;
        if ((r = parse_namespaces(c, linux_, s)) < 0 ||
            (r = parse_idmaps(c, linux_, "uidMappings", &s->uid_maps, &s->n_uid_maps)) < 0 ||
            (r = parse_idmaps(c, linux_, "gidMappings", &s->gid_maps, &s->n_gid_maps)) < 0 ||
            (r = get_strv(c, linux_, "linux", "maskedPaths", &s->masked_paths)) < 0 ||
            (r = get_strv(c, linux_, "linux", "readonlyPaths", &s->readonly_paths)) < 0 ||
            (r = get_string(c, linux_, "linux", "cgroupsPath", &s->cgroups_path)) < 0)
                return r;
        if ((s->n_uid_maps > 0 || s->n_gid_maps > 0) && !s->ns[OCI_NS_USER].wanted)
                return fail(c, "linux.uidMappings: ID mappings need a user namespace in linux.namespaces.");
        if (s->ns[OCI_NS_USER].wanted && !s->ns[OCI_NS_USER].path && (s->n_uid_maps == 0 || s->n_gid_maps == 0))
                return fail(c, "linux.namespaces: a new user namespace needs linux.uidMappings and gidMappings.");
        for (size_t i = 0; s->masked_paths && s->masked_paths[i]; i++) {
                _cleanup_free_ char *f = xasprintf("linux.maskedPaths[%zu]", i);
                if ((r = check_container_path(c, f, s->masked_paths[i])) < 0)
                        return r;
        }
        for (size_t i = 0; s->readonly_paths && s->readonly_paths[i]; i++) {
                _cleanup_free_ char *f = xasprintf("linux.readonlyPaths[%zu]", i);
                if ((r = check_container_path(c, f, s->readonly_paths[i])) < 0)
                        return r;
        }
        if (s->cgroups_path && (path_has_dotdot(s->cgroups_path) || strlen(s->cgroups_path) > 4096))
                return fail(c, "linux.cgroupsPath: \"%s\" contains \"..\" or is too long.", s->cgroups_path);

        json_object *res, *sysctl, *seccomp;
        if ((r = member(c, linux_, "linux", "resources", json_type_object, &res)) < 0 ||
            (r = parse_resources(c, res, "linux.resources", &s->resources)) < 0)
                return r;
        s->memory_limit = s->resources.has_memory ? s->resources.memory_limit : UINT64_MAX;
        s->pids_limit = !s->resources.has_pids ? 0 : s->resources.pids_limit == UINT64_MAX ? -1
                                                                                          : (int64_t) s->resources.pids_limit;
        if ((r = parse_devices(c, linux_, res, s)) < 0)
                return r;

        if ((r = member(c, linux_, "linux", "sysctl", json_type_object, &sysctl)) < 0)
                return r;
        if (sysctl) {
                size_t n = 0;
                json_object_object_foreach(sysctl, key, val) {
                        if (++n > 1024)
                                return fail(c, "linux.sysctl: more than 1024 entries.");
                        if (!json_object_is_type(val, json_type_string))
                                return fail(c, "linux.sysctl.%s: must be a string.", key);
                        if (!*key || strchr(key, '=') || key[0] == '.' || key[0] == '/' || strstr(key, "..") ||
                            strchr(json_object_get_string(val), '\n'))
                                return fail(c, "linux.sysctl: \"%s\" is not a sysctl name.", key);
                        _cleanup_free_ char *kv = xasprintf("%s=%s", key, json_object_get_string(val));
                        s->sysctl = strv_append(s->sysctl, kv);
                }
        }

        if ((r = member(c, linux_, "linux", "seccomp", json_type_object, &seccomp)) < 0)
                return r;
        if (seccomp) {
                s->seccomp = xcalloc(1, sizeof(OciSeccomp));
                if ((r = parse_seccomp(c, seccomp, s->seccomp)) < 0)
                        return r;
        }
        return 0;
}

/* ----- the rest ----- */

static const char *const hook_names[_OCI_HOOK_MAX] = {
        [OCI_HOOK_PRESTART] = "prestart",
        [OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
        [OCI_HOOK_POSTSTART] = "poststart",
        [OCI_HOOK_POSTSTOP] = "poststop",
};

const char *oci_hook_name(OciHookKind k) {
        return k < _OCI_HOOK_MAX ? hook_names[k] : NULL;
}

static int parse_hooks(Ctx *c, json_object *hooks, OciSpec *s) {
        int r;
        for (OciHookKind k = 0; k < _OCI_HOOK_MAX; k++) {
                json_object *a;
                size_t n;
                _cleanup_free_ char *field = xasprintf("hooks.%s", hook_names[k]);
                if ((r = member(c, hooks, "hooks", hook_names[k], json_type_array, &a)) < 0 ||
                    (r = array_len(c, a, field, 256, &n)) < 0)
                        return r;
                s->hooks[k] = xcalloc(n + 1, sizeof(OciHook));
                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(a, i);
                        _cleanup_free_ char *f = xasprintf("%s[%zu]", field, i);
                        OciHook *h = &s->hooks[k][s->n_hooks[k]++];
                        int64_t timeout = 0;
                        if (!json_object_is_type(e, json_type_object))
                                return fail(c, "%s: must be an object.", f);
                        if ((r = get_string(c, e, f, "path", &h->path)) < 0 ||
                            (r = get_strv(c, e, f, "args", &h->args)) < 0 ||
                            (r = get_strv(c, e, f, "env", &h->env)) < 0 ||
                            (r = get_int(c, e, f, "timeout", 1, 86400, NULL, &timeout)) < 0)
                                return r;
                        if (!h->path || h->path[0] != '/')
                                return fail(c, "%s.path: \"%s\" is not an absolute path.", f, h->path ?: "");
                        h->timeout = (int) timeout;
                }
        }
        return 0;
}

static int parse_mounts(Ctx *c, json_object *a, OciSpec *s) {
        size_t n;
        int r = array_len(c, a, "mounts", 1024, &n);
        if (r < 0)
                return r;
        s->mounts = xcalloc(n + 1, sizeof(OciMount));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                _cleanup_free_ char *f = xasprintf("mounts[%zu]", i);
                _cleanup_free_ char *df = xasprintf("%s.destination", f);
                OciMount *m = &s->mounts[s->n_mounts++];
                if (!json_object_is_type(e, json_type_object))
                        return fail(c, "%s: must be an object.", f);
                if ((r = get_string(c, e, f, "destination", &m->destination)) < 0 ||
                    (r = get_string(c, e, f, "type", &m->type)) < 0 ||
                    (r = get_string(c, e, f, "source", &m->source)) < 0 ||
                    (r = get_strv(c, e, f, "options", &m->options)) < 0 ||
                    (r = check_container_path(c, df, m->destination)) < 0)
                        return r;
                if (streq(m->destination, "/"))
                        return fail(c, "%s: \"/\" is the root; it is root.path, not a mount.", df);
        }
        return 0;
}

static int parse_document(Ctx *c, const char *buf, size_t len, json_object **ret) {
        if (len > OCI_SPEC_MAX_SIZE) {
                (void) fail(c, "the file is %zu bytes, more than the %u berth-oci reads.", len, OCI_SPEC_MAX_SIZE);
                return -E2BIG;
        }
        json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
        if (!tok)
                abort();
        json_object *o = json_tokener_parse_ex(tok, buf, (int) len);
        enum json_tokener_error err = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        while (o && end < len && strchr(" \t\r\n", buf[end]))
                end++;
        if (!o || err != json_tokener_success || end != len || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return fail(c, "not a JSON object%s%s.", err != json_tokener_success ? ": " : "",
                            err != json_tokener_success ? json_tokener_error_desc(err) : "");
        }
        *ret = o;
        return 0;
}

int oci_spec_parse(const char *buf, size_t len, OciSpec *ret, char **ret_error) {
        _cleanup_(oci_spec_done) OciSpec s = { .memory_limit = UINT64_MAX };
        _cleanup_(json_putp) json_object *o = NULL;
        _cleanup_free_ char *err = NULL;
        Ctx c = { .err = &err };
        json_object *process, *root, *mounts, *linux_, *hooks, *annotations;
        int r = parse_document(&c, buf, len, &o);
        if (r >= 0 && (r = get_string(&c, o, "", "ociVersion", &s.oci_version)) >= 0 && !s.oci_version)
                r = fail(&c, "ociVersion: missing; this is not an OCI runtime config.");
        if (r >= 0 && (r = member(&c, o, "", "process", json_type_object, &process)) >= 0 && !process)
                r = fail(&c, "process: missing; berth-oci needs something to run.");
        if (r >= 0)
                r = parse_process(&c, process, &s.process, true);
        if (r >= 0 && (r = member(&c, o, "", "root", json_type_object, &root)) >= 0 &&
            (r = get_string(&c, root, "root", "path", &s.root_path)) >= 0 && !s.root_path)
                r = fail(&c, "root.path: missing.");
        if (r >= 0 && (r = get_bool(&c, root, "root", "readonly", &s.root_readonly)) >= 0 && path_has_dotdot(s.root_path))
                r = fail(&c, "root.path: \"%s\" contains \"..\".", s.root_path);
        if (r >= 0)
                r = get_string(&c, o, "", "hostname", &s.hostname);
        if (r >= 0 && (r = member(&c, o, "", "mounts", json_type_array, &mounts)) >= 0)
                r = parse_mounts(&c, mounts, &s);
        if (r >= 0 && (r = member(&c, o, "", "linux", json_type_object, &linux_)) >= 0)
                r = parse_linux(&c, linux_, &s);
        if (r >= 0 && (r = member(&c, o, "", "hooks", json_type_object, &hooks)) >= 0)
                r = parse_hooks(&c, hooks, &s);
        if (r >= 0 && (r = member(&c, o, "", "annotations", json_type_object, &annotations)) >= 0 && annotations) {
                size_t n = 0;
                json_object_object_foreach(annotations, key, val) {
                        if (++n > OCI_SPEC_MAX_ARRAY) {
                                r = fail(&c, "annotations: more than %u entries.", OCI_SPEC_MAX_ARRAY);
                                break;
                        }
                        if (!json_object_is_type(val, json_type_string)) {
                                r = fail(&c, "annotations.%s: must be a string.", key);
                                break;
                        }
                        _cleanup_free_ char *kv = xasprintf("%s=%s", key, json_object_get_string(val));
                        s.annotations = strv_append(s.annotations, kv);
                }
        }
        if (r < 0) {
                *ret_error = TAKE_PTR(err);
                return r;
        }
        *ret = s;
        memset(&s, 0, sizeof s);
        return 0;
}

int oci_process_parse(const char *buf, size_t len, OciProcess *ret, char **ret_error) {
        _cleanup_(oci_process_done) OciProcess p = {};
        _cleanup_(json_putp) json_object *o = NULL;
        _cleanup_free_ char *err = NULL;
        Ctx c = { .err = &err };
        int r = parse_document(&c, buf, len, &o);
        if (r >= 0)
                r = parse_process(&c, o, &p, true);
        if (r < 0) {
                *ret_error = TAKE_PTR(err);
                return r;
        }
        *ret = p;
        memset(&p, 0, sizeof p);
        return 0;
}

int oci_resources_parse(const char *buf, size_t len, OciResources *ret, char **ret_error) {
        _cleanup_(json_putp) json_object *o = NULL;
        _cleanup_free_ char *err = NULL;
        Ctx c = { .err = &err };
        int r = parse_document(&c, buf, len, &o);
        if (r >= 0)
                r = parse_resources(&c, o, "", ret);
        if (r < 0)
                *ret_error = TAKE_PTR(err);
        return r;
}

const char *oci_spec_annotation(const OciSpec *s, const char *key) {
        size_t l = strlen(key);
        for (char **a = s->annotations; a && *a; a++)
                if (strncmp(*a, key, l) == 0 && (*a)[l] == '=')
                        return *a + l + 1;
        return NULL;
}

void oci_process_done(OciProcess *p) {
        strv_free(p->args);
        strv_free(p->env);
        free(p->cwd);
        free(p->groups);
        free(p->rlimits);
        memset(p, 0, sizeof *p);
}

void oci_spec_done(OciSpec *s) {
        free(s->oci_version);
        oci_process_done(&s->process);
        free(s->root_path);
        free(s->hostname);
        for (size_t i = 0; i < s->n_mounts; i++) {
                free(s->mounts[i].destination);
                free(s->mounts[i].type);
                free(s->mounts[i].source);
                strv_free(s->mounts[i].options);
        }
        free(s->mounts);
        for (OciNsType t = 0; t < _OCI_NS_MAX; t++)
                free(s->ns[t].path);
        free(s->uid_maps);
        free(s->gid_maps);
        strv_free(s->masked_paths);
        strv_free(s->readonly_paths);
        for (size_t i = 0; i < s->n_devices; i++)
                free(s->devices[i].path);
        free(s->devices);
        free(s->device_rules);
        free(s->cgroups_path);
        if (s->seccomp) {
                for (size_t i = 0; i < s->seccomp->n_rules; i++) {
                        strv_free(s->seccomp->rules[i].names);
                        free(s->seccomp->rules[i].args);
                }
                free(s->seccomp->rules);
                free(s->seccomp->arches);
                free(s->seccomp);
        }
        strv_free(s->sysctl);
        strv_free(s->annotations);
        for (OciHookKind k = 0; k < _OCI_HOOK_MAX; k++) {
                for (size_t i = 0; i < s->n_hooks[k]; i++) {
                        free(s->hooks[k][i].path);
                        strv_free(s->hooks[k][i].args);
                        strv_free(s->hooks[k][i].env);
                }
                free(s->hooks[k]);
        }
        memset(s, 0, sizeof *s);
}
