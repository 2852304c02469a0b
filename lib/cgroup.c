/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "cgroup.h"
#include "devices.h"
#include "fs.h"
#include "log.h"
#include "mount-table.h"
#include "util.h"

typedef struct Hierarchy {
        char *mount;       /* where it is mounted */
        char *controllers; /* v1: comma list from the super options; v2: "" */
        bool v2;
} Hierarchy;

static void hierarchies_free(Hierarchy *h) {
        if (!h)
                return;
        for (Hierarchy *i = h; i->mount; i++) {
                free(i->mount);
                free(i->controllers);
        }
        free(h);
}
static void hierarchies_freep(Hierarchy **h) {
        hierarchies_free(*h);
}

static bool has_controller(const Hierarchy *h, const char *c) {
        if (h->v2)
                return false;
        size_t l = strlen(c);
        for (const char *p = h->controllers; p && *p;) {
                const char *e = strchrnul(p, ',');
                if ((size_t) (e - p) == l && strncmp(p, c, l) == 0)
                        return true;
                p = *e ? e + 1 : e;
        }
        return false;
}

/* The controller list of a v1 mount from its super options ("rw,memory" ->
 * "memory", "rw,name=systemd" -> "name=systemd"), in the form
 * /proc/PID/cgroup uses. */
static char *v1_controllers(const char *opts) {
        _cleanup_free_ char *copy = xstrdup(opts);
        char *out = xcalloc(1, strlen(opts) + 1);
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (streq(t, "rw") || streq(t, "ro") || (strchr(t, '=') && !startswith(t, "name=")) ||
                    streq(t, "noprefix") || streq(t, "clone_children") || streq(t, "xattr") ||
                    streq(t, "cpuset_v2_mode") || streq(t, "favordynmods"))
                        continue;
                if (*out)
                        strcat(out, ",");
                strcat(out, t);
        }
        return out;
}

typedef struct HierarchyList {
        Hierarchy *h; /* ends with an entry whose mount is NULL */
        size_t n;
} HierarchyList;

static int hierarchy_add(const MountEntry *e, void *userdata) {
        HierarchyList *l = userdata;
        bool v2 = streq(e->fstype, "cgroup2");
        /* Only mounts that show the hierarchy's root ("/") are usable. */
        if ((!v2 && !streq(e->fstype, "cgroup")) || !streq(e->root, "/"))
                return 0;
        Hierarchy x = { .mount = xstrdup(e->target),
                        .controllers = v2 ? xstrdup("") : v1_controllers(e->fs_options ?: ""), .v2 = v2 };
        if (has_controller(&x, "cpuset")) {
                free(x.mount);
                free(x.controllers);
                return 0;
        }
        l->h = realloc(l->h, sizeof(Hierarchy) * (l->n + 2));
        if (!l->h)
                abort();
        l->h[l->n++] = x;
        l->h[l->n] = (Hierarchy) {};
        return 0;
}

/* Find every cgroup hierarchy we can manage in the mount table. */
static int hierarchies_get(Hierarchy **ret) {
        HierarchyList l = { .h = xcalloc(1, sizeof(Hierarchy)) };
        int r = mount_table_foreach(hierarchy_add, &l);
        if (r < 0) {
                hierarchies_free(l.h);
                return r;
        }
        *ret = l.h;
        return (int) l.n;
}

struct CgroupHierarchies {
        Hierarchy *h;
};

int cgroup_hierarchies_load(CgroupHierarchies **ret) {
        Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        *ret = xcalloc(1, sizeof **ret);
        (*ret)->h = h;
        return 0;
}

void cgroup_hierarchies_free(CgroupHierarchies *h) {
        if (!h)
                return;
        hierarchies_free(h->h);
        free(h);
}

/* M's hierarchies: the caller's (M->hierarchies), else read now into
 * *OWNED, which the caller frees. */
static int machine_hierarchies(const MachineCgroup *m, Hierarchy **owned, const Hierarchy **ret) {
        *owned = NULL;
        if (m->hierarchies) {
                *ret = m->hierarchies->h;
                return 0;
        }
        int n = hierarchies_get(owned);
        if (n < 0)
                return n;
        *ret = *owned;
        return 0;
}

int cgroup_is_unified_only(void) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        bool v2 = false;
        for (Hierarchy *i = h; i->mount; i++) {
                if (!i->v2)
                        return 0;
                v2 = true;
        }
        return v2;
}

/* On cgroup v2, make memory and pids usable below REL: in REL and each of its
 * ancestors, or (ONLY_REL, a group systemd delegated to us) in REL alone. */
static void v2_enable_controllers(const char *mount, const char *rel, bool only_rel) {
        _cleanup_free_ char *p = xstrdup(rel);
        char *s = only_rel ? p + strlen(p) : p;
        for (;;) {
                char saved = *s;
                *s = 0;
                _cleanup_free_ char *dir = xasprintf("%s/%s", mount, p);
                _cleanup_free_ char *avail = NULL;
                _cleanup_free_ char *cf = xasprintf("%s/cgroup.controllers", dir);
                if (read_file_at(AT_FDCWD, cf, 4096, &avail, NULL) >= 0) {
                        _cleanup_free_ char *sc = xasprintf("%s/cgroup.subtree_control", dir);
                        static const char *const want[] = { "memory", "pids", "cpu", "io" };
                        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                                if (!strstr(avail, want[i]))
                                        continue;
                                _cleanup_free_ char *w = xasprintf("+%s", want[i]);
                                int r = write_string_at(AT_FDCWD, sc, w);
                                if (r < 0)
                                        log_debug_errno(r, "Failed to enable %s in %s, ignoring: %m", want[i], dir);
                        }
                }
                *s = saved;
                if (!saved)
                        break;
                s = strchr(s + 1, '/') ?: s + strlen(s);
        }
}

/* The machine's device allow-list (devices.h) in a v1 devices cgroup. */
static int apply_device_policy_v1(const char *dir, const DeviceList *list) {
        _cleanup_free_ char *deny = xasprintf("%s/devices.deny", dir);
        _cleanup_free_ char *allow = xasprintf("%s/devices.allow", dir);
        int r = write_string_at(AT_FDCWD, deny, "a");
        if (r < 0)
                return log_error_errno(r, "Failed to close device access in %s: %m", dir);
        for (size_t i = 0; i < list->n; i++) {
                _cleanup_free_ char *rule = device_rule_v1(&list->rules[i]);
                r = write_string_at(AT_FDCWD, allow, rule);
                if (r < 0)
                        return log_error_errno(r, "Failed to allow '%s' in %s: %m", rule, dir);
        }
        return 0;
}

/* The same list as a BPF program on the unified hierarchy.  Where a v1
 * devices controller enforces it too (hybrid hosts; the kernel asks both),
 * a kernel without cgroup BPF costs nothing; on a host with cgroup v2 alone
 * it is the only device control, and the start fails without it. */
static int apply_device_policy_bpf(const char *dir, const DeviceList *list, bool v1_enforces) {
        _cleanup_close_ int fd = open_dir_nofollow(AT_FDCWD, dir);
        int r = fd < 0 ? fd : device_bpf_attach(fd, list);
        if (r >= 0)
                return 0;
        if (v1_enforces) {
                log_debug_errno(r, "No BPF device program on %s (the v1 devices controller enforces the list): %m",
                                dir);
                return 0;
        }
        return log_error_errno(r, "Failed to attach the device allow-list (a BPF_PROG_TYPE_CGROUP_DEVICE program) "
                               "to %s: %m. This host has no v1 devices controller either; a kernel with "
                               "CONFIG_CGROUP_BPF is needed.", dir);
}

/* In a unit, systemd's DeviceAllow= gives every configured node "m" too
 * (unit.c): the supervisor, beside the payload, makes the machine's copy of
 * it with mknod.  Whether some node was widened so. */
static bool devices_need_narrowing(const DeviceList *list) {
        for (size_t i = 0; i < list->n; i++)
                if (list->rules[i].node && !(list->rules[i].access & DEVICE_ACCESS_MKNOD))
                        return true;
        return false;
}

/* Our program on the payload: the kernel allows what both systemd's and
 * ours allow, so the machine gets the access its lines give, no "m". */
static int narrow_payload_devices(const char *payload, const DeviceList *list) {
        _cleanup_close_ int fd = open_dir_nofollow(AT_FDCWD, payload);
        int r = fd < 0 ? fd : device_bpf_attach(fd, list);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the device allow-list (a BPF_PROG_TYPE_CGROUP_DEVICE "
                                       "program) to %s: %m. Give the device 'm' access in [Devices] Allow= to do "
                                       "without it.", payload);
        return 0;
}

CgroupLimits cgroup_limits_from_config(const MachineConfig *c) {
        return (CgroupLimits) {
                .memory_max = c->memory_max,
                .tasks_max = c->tasks_max,
                .memory_high = c->memory_high,
                .cpu_weight = c->cpu_weight,
                .cpu_quota_per_sec_usec = c->cpu_quota_per_sec_usec,
                .io_weight = c->io_weight,
        };
}

/* systemd's conversions (src/core/cgroup.c), so that a machine gets the same
 * share in direct mode as in a unit.  CPUQuota= is enforced per period of
 * 100 ms (systemd's default), never below 1 ms of CPU time. */
#define CPU_QUOTA_PERIOD_USEC UINT64_C(100000)
#define CPU_QUOTA_MIN_USEC UINT64_C(1000)
#define USEC_PER_SEC UINT64_C(1000000)
#define CPU_SHARES_DEFAULT UINT64_C(1024)
#define CPU_SHARES_MIN UINT64_C(2)
#define CPU_SHARES_MAX UINT64_C(262144)
#define BLKIO_WEIGHT_DEFAULT UINT64_C(500)
#define BLKIO_WEIGHT_MIN UINT64_C(10)
#define BLKIO_WEIGHT_MAX UINT64_C(1000)
#define BFQ_WEIGHT_DEFAULT UINT64_C(100)
#define BFQ_WEIGHT_MIN UINT64_C(1)
#define BFQ_WEIGHT_MAX UINT64_C(1000)

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t weight_or_default(uint64_t weight) {
        return weight == UINT64_MAX ? CONFIG_WEIGHT_DEFAULT : weight;
}

/* v1 cpu.shares for a CPUWeight= (1024 is the default share, as 100 is). */
static uint64_t cpu_weight_to_shares(uint64_t weight) {
        return clamp_u64(weight * CPU_SHARES_DEFAULT / CONFIG_WEIGHT_DEFAULT, CPU_SHARES_MIN, CPU_SHARES_MAX);
}

/* v1 blkio.weight (10..1000, default 500) for an IOWeight=. */
static uint64_t io_weight_to_blkio(uint64_t weight) {
        return clamp_u64(weight * BLKIO_WEIGHT_DEFAULT / CONFIG_WEIGHT_DEFAULT, BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX);
}

/* BFQ's weight (1..1000, default 100) for an IOWeight=: linear on each side
 * of the default, so 1, 100 and 10000 map to 1, 100 and 1000. */
static uint64_t io_weight_to_bfq(uint64_t weight) {
        if (weight <= CONFIG_WEIGHT_DEFAULT)
                return BFQ_WEIGHT_DEFAULT - (CONFIG_WEIGHT_DEFAULT - weight) * (BFQ_WEIGHT_DEFAULT - BFQ_WEIGHT_MIN) /
                                                    (CONFIG_WEIGHT_DEFAULT - CONFIG_WEIGHT_MIN);
        return BFQ_WEIGHT_DEFAULT + (weight - CONFIG_WEIGHT_DEFAULT) * (BFQ_WEIGHT_MAX - BFQ_WEIGHT_DEFAULT) /
                                            (CONFIG_WEIGHT_MAX - CONFIG_WEIGHT_DEFAULT);
}

/* The quota per period for CPUQuotaPerSecUSec=, -1 (v1's "none") when unset. */
static int64_t cpu_quota_per_period(uint64_t per_sec_usec) {
        if (per_sec_usec == UINT64_MAX)
                return -1;
        uint64_t q = per_sec_usec / USEC_PER_SEC * CPU_QUOTA_PERIOD_USEC +
                     per_sec_usec % USEC_PER_SEC * CPU_QUOTA_PERIOD_USEC / USEC_PER_SEC;
        return (int64_t) (q < CPU_QUOTA_MIN_USEC ? CPU_QUOTA_MIN_USEC : q);
}

static int write_value(const char *dir, const char *file, const char *value) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
        int r = write_string_at(AT_FDCWD, path, value);
        if (r < 0)
                return log_error_errno(r, "Failed to write '%s' to %s: %m", value, path);
        return 0;
}

static int write_limit(const char *dir, const char *file, uint64_t v, const char *infinity) {
        _cleanup_free_ char *value = v == UINT64_MAX ? xstrdup(infinity) : xasprintf("%" PRIu64, v);
        return write_value(dir, file, value);
}

static bool dir_has_file(const char *dir, const char *file) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
        return access(path, F_OK) == 0;
}

/* KEY= is set, but this v2 hierarchy lacks CONTROLLER.  On a host with v2
 * alone nothing could enforce it: an error.  On a hybrid host, the v1
 * hierarchies do. */
static int v2_controller_missing(const char *key, const char *controller) {
        if (cgroup_is_unified_only() > 0)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "%s= is set but the %s controller is not available.", key, controller);
        return 0;
}

/* IOWeight= goes to the first file of the two the kernel offers, as systemd
 * does it: on v2 io.weight (blk-iocost) else BFQ's io.bfq.weight, on v1
 * BFQ's blkio.bfq.weight else the legacy blkio.weight.  With neither (no
 * such I/O scheduler) the weight cannot be had: not an error, as for systemd. */
static int apply_io_weight(const Hierarchy *h, const char *dir, uint64_t weight) {
        uint64_t w = weight_or_default(weight);
        const char *files[2] = { h->v2 ? "io.weight" : "blkio.bfq.weight", h->v2 ? "io.bfq.weight" : "blkio.weight" };
        _cleanup_free_ char *first = h->v2 ? xasprintf("default %" PRIu64, w)
                                           : xasprintf("%" PRIu64, io_weight_to_bfq(w));
        _cleanup_free_ char *second = xasprintf("%" PRIu64, h->v2 ? io_weight_to_bfq(w) : io_weight_to_blkio(w));

        if (dir_has_file(dir, files[0]))
                return write_value(dir, files[0], first);
        if (dir_has_file(dir, files[1]))
                return write_value(dir, files[1], second);
        if (weight != UINT64_MAX)
                log_debug("IOWeight= is set, but %s has neither %s nor %s (on cgroup v1 it needs the BFQ "
                          "I/O scheduler), ignoring.", dir, files[0], files[1]);
        return 0;
}

/* Write L's limits to DIR in hierarchy H.  MemoryMax= and TasksMax= always;
 * the others only when set, or when RESET, as the kernel's default. */
static int apply_limits(const Hierarchy *h, const char *dir, const CgroupLimits *l, bool reset) {
        bool want_memory_high = reset || l->memory_high != UINT64_MAX;
        bool want_cpu = reset || l->cpu_weight != UINT64_MAX || l->cpu_quota_per_sec_usec != UINT64_MAX;
        bool want_io = reset || l->io_weight != UINT64_MAX;
        int64_t quota = cpu_quota_per_period(l->cpu_quota_per_sec_usec);
        int r = 0;

        if (h->v2) {
                if (dir_has_file(dir, "memory.max")) {
                        r = write_limit(dir, "memory.max", l->memory_max, "max");
                        if (r >= 0 && want_memory_high)
                                r = write_limit(dir, "memory.high", l->memory_high, "max");
                } else if (l->memory_max != UINT64_MAX)
                        r = v2_controller_missing("MemoryMax", "memory");
                else if (l->memory_high != UINT64_MAX)
                        r = v2_controller_missing("MemoryHigh", "memory");
                if (r >= 0 && dir_has_file(dir, "pids.max"))
                        r = write_limit(dir, "pids.max", l->tasks_max, "max");
                if (r >= 0 && want_cpu && dir_has_file(dir, "cpu.weight")) {
                        _cleanup_free_ char *max = quota < 0 ? xasprintf("max %" PRIu64, CPU_QUOTA_PERIOD_USEC)
                                                             : xasprintf("%" PRIi64 " %" PRIu64, quota,
                                                                         CPU_QUOTA_PERIOD_USEC);
                        r = write_limit(dir, "cpu.weight", weight_or_default(l->cpu_weight), NULL);
                        if (r >= 0)
                                r = write_value(dir, "cpu.max", max);
                } else if (r >= 0 && l->cpu_weight != UINT64_MAX)
                        r = v2_controller_missing("CPUWeight", "cpu");
                else if (r >= 0 && l->cpu_quota_per_sec_usec != UINT64_MAX)
                        r = v2_controller_missing("CPUQuota", "cpu");
                if (r >= 0 && want_io)
                        r = apply_io_weight(h, dir, l->io_weight);
                return r;
        }
        if (has_controller(h, "memory")) {
                /* v1 has no "max" keyword; -1 means unlimited. */
                r = write_limit(dir, "memory.limit_in_bytes", l->memory_max, "-1");
                if (l->memory_high != UINT64_MAX)
                        log_debug("MemoryHigh= has no cgroup v1 equivalent (%s), ignoring.", dir);
        }
        if (r >= 0 && has_controller(h, "pids"))
                r = write_limit(dir, "pids.max", l->tasks_max, "max");
        if (r >= 0 && want_cpu && has_controller(h, "cpu")) {
                /* The period first: the kernel checks a new quota against it. */
                r = write_limit(dir, "cpu.shares", cpu_weight_to_shares(weight_or_default(l->cpu_weight)), NULL);
                if (r >= 0)
                        r = write_limit(dir, "cpu.cfs_period_us", CPU_QUOTA_PERIOD_USEC, NULL);
                if (r >= 0) {
                        _cleanup_free_ char *q = xasprintf("%" PRIi64, quota);
                        r = write_value(dir, "cpu.cfs_quota_us", q);
                }
        }
        if (r >= 0 && want_io && has_controller(h, "blkio"))
                r = apply_io_weight(h, dir, l->io_weight);
        return r;
}

/* The machine's cgroup dir in hierarchy H, or NULL where it has none: a
 * delegated group is in the unified hierarchy, and in a v1 hierarchy only
 * where systemd made it (those of the controllers it manages for the unit on
 * a hybrid host; not freezer, say). */
static char *group_dir(const Hierarchy *h, const MachineCgroup *m) {
        _cleanup_free_ char *dir = xasprintf("%s/%s", h->mount, m->group);
        if (m->delegated && !h->v2 && access(dir, F_OK) < 0)
                return NULL;
        return TAKE_PTR(dir);
}

int cgroup_machine_create(const MachineCgroup *m, const CgroupLimits *limits, const DeviceList *devices) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return log_error_errno(n, "Failed to enumerate cgroup hierarchies: %m");
        if (n == 0)
                return log_error_errno(SYNTHETIC_ERRNO(ENOMEDIUM), "No cgroup hierarchy is mounted on this host.");

        /* Start clean: a machine killed hard may have left its cgroups. */
        (void) cgroup_machine_destroy(m);

        /* Whether a v1 devices controller enforces the list: where the group
         * is in that hierarchy (a unit's may not be). */
        bool v1_devices = false;
        for (Hierarchy *i = h; i->mount; i++) {
                _cleanup_free_ char *dir = !i->v2 && has_controller(i, "devices") ? group_dir(i, m) : NULL;
                v1_devices = v1_devices || dir;
        }

        for (Hierarchy *i = h; i->mount; i++) {
                _cleanup_free_ char *dir = group_dir(i, m);
                if (!dir)
                        continue;
                _cleanup_free_ char *payload = xasprintf("%s/payload", dir);
                int r = 0;
                /* A delegated group is systemd's: it exists, and systemd sets its limits
                 * from the unit's properties.  Ours we make, limits first, payload after
                 * (a v1 child copies its parent's device list). */
                if (!m->delegated) {
                        r = mkdir_p_at(AT_FDCWD, dir, 0755);
                        if (r < 0)
                                log_error_errno(r, "Failed to create cgroup %s: %m", dir);
                }
                if (r >= 0 && i->v2)
                        v2_enable_controllers(i->mount, m->group, m->delegated);
                if (r >= 0 && !m->delegated && !i->v2 && has_controller(i, "devices"))
                        r = apply_device_policy_v1(dir, devices);
                if (r >= 0 && !m->delegated && i->v2)
                        r = apply_device_policy_bpf(dir, devices, v1_devices);
                if (r >= 0 && !m->delegated)
                        r = apply_limits(i, dir, limits, false);
                if (r >= 0 && mkdirat(AT_FDCWD, payload, 0755) < 0)
                        r = log_error_errno(errno, "Failed to create cgroup %s: %m", payload);
                if (r >= 0 && m->payload_devices && !i->v2 && has_controller(i, "devices"))
                        r = apply_device_policy_v1(payload, devices);
                else if (r >= 0 && m->payload_devices && i->v2)
                        r = apply_device_policy_bpf(payload, devices, v1_devices);
                else if (r >= 0 && m->delegated && i->v2 && devices_need_narrowing(devices))
                        r = narrow_payload_devices(payload, devices);
                if (r < 0) {
                        (void) cgroup_machine_destroy(m);
                        return r;
                }
        }
        return 0;
}

int cgroup_machine_set_limits(const MachineCgroup *m, const CgroupLimits *limits) {
        if (m->delegated)
                return -EOPNOTSUPP; /* systemd's: set them on the unit */
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        for (Hierarchy *i = h; i->mount; i++) {
                _cleanup_free_ char *dir = group_dir(i, m);
                int r = dir ? apply_limits(i, dir, limits, true) : 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

int cgroup_supervisor_enter(const MachineCgroup *m) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        char buf[32];
        snprintf(buf, sizeof buf, "%d", (int) getpid());
        for (Hierarchy *i = h; i->mount; i++) {
                /* Delegated: a "supervisor" leaf beside "payload", so the unit's own
                 * cgroup holds no process and can pass controllers down. */
                _cleanup_free_ char *gdir = group_dir(i, m);
                if (m->delegated && !gdir)
                        continue;
                _cleanup_free_ char *dir = m->delegated ? xasprintf("%s/supervisor", gdir)
                                                        : xasprintf("%s/" CGROUP_TOP "/" CGROUP_SUPERVISORS, i->mount);
                int r = mkdir_p_at(AT_FDCWD, dir, 0755);
                if (r < 0)
                        return log_error_errno(r, "Failed to create cgroup %s: %m", dir);
                _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", dir);
                r = write_string_at(AT_FDCWD, procs, buf);
                if (r < 0)
                        return log_error_errno(r, "Failed to move the supervisor into %s: %m", dir);
        }
        return 0;
}

int cgroup_machine_attach(const MachineCgroup *m, pid_t pid) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        char buf[32];
        snprintf(buf, sizeof buf, "%d", (int) pid);
        for (Hierarchy *i = h; i->mount; i++) {
                _cleanup_free_ char *dir = group_dir(i, m);
                if (!dir)
                        continue;
                _cleanup_free_ char *p = xasprintf("%s/payload/cgroup.procs", dir);
                int r = write_string_at(AT_FDCWD, p, buf);
                if (r < 0)
                        return log_error_errno(r, "Failed to move process %d into %s: %m", (int) pid, p);
        }
        return 0;
}

int cgroup_machine_chown(const MachineCgroup *m, uid_t uid, gid_t gid) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        static const char *const files[] = { ".", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "tasks" };
        for (Hierarchy *i = h; i->mount; i++) {
                /* Only hierarchies a guest manages itself: the unified one and systemd's named one. */
                if (!i->v2 && !has_controller(i, "name=systemd"))
                        continue;
                _cleanup_free_ char *gdir = group_dir(i, m);
                if (!gdir)
                        continue;
                _cleanup_free_ char *dir = xasprintf("%s/payload", gdir);
                _cleanup_close_ int fd = open_dir_nofollow(AT_FDCWD, dir);
                if (fd < 0)
                        return log_error_errno(fd, "Failed to open %s: %m", dir);
                for (size_t k = 0; k < ELEMENTSOF(files); k++)
                        if (fchownat(fd, files[k], uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
                                return log_error_errno(errno, "Failed to chown %s/%s: %m", dir, files[k]);
        }
        return 0;
}

/* Kill every process in DIR and below; true if any was found. */
static bool kill_tree(int dfd) {
        bool found = false;
        _cleanup_free_ char *procs = NULL;
        if (read_file_at(dfd, "cgroup.procs", 1 << 20, &procs, NULL) >= 0)
                for (char *p = procs, *e; *p; p = e) {
                        e = strchrnul(p, '\n');
                        if (*e)
                                *e++ = 0;
                        int pid;
                        if (safe_atoi(p, &pid) >= 0 && pid > 0) {
                                (void) kill(pid, SIGKILL);
                                found = true;
                        }
                }

        _cleanup_closedir_ DIR *d = NULL;
        if (opendir_dup(dfd, &d) < 0)
                return found;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        _cleanup_close_ int sub = open_dir_nofollow(dirfd(d), de->d_name);
                        if (sub >= 0 && kill_tree(sub))
                                found = true;
                }
        return found;
}

/* rmdir a cgroup tree bottom-up (cgroupfs refuses rmdir of non-empty dirs, and
 * files inside cgroup dirs cannot and need not be removed). */
static int rmdir_tree(int parent, const char *name) {
        _cleanup_close_ int fd = open_dir_nofollow(parent, name);
        if (fd < 0)
                return fd == -ENOENT ? 0 : fd;
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(fd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        int ret = 0;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        r = rmdir_tree(fd, de->d_name);
                        if (r < 0 && ret == 0)
                                ret = r;
                }
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && ret == 0)
                ret = -errno;
        return ret;
}

static void kill_all(int dfd, bool v2) {
        /* cgroup.kill (v2, 5.14+) is atomic against forks; otherwise loop. */
        if (v2 && write_string_at(dfd, "cgroup.kill", "1") >= 0) {
                for (int tries = 0; tries < 200; tries++) {
                        _cleanup_free_ char *ev = NULL;
                        if (read_file_at(dfd, "cgroup.events", 4096, &ev, NULL) < 0 || strstr(ev, "populated 0"))
                                break;
                        nanosleep(&(struct timespec) { .tv_nsec = 5 * 1000 * 1000 }, NULL);
                }
        } else
                for (int tries = 0; tries < 200 && kill_tree(dfd); tries++)
                        nanosleep(&(struct timespec) { .tv_nsec = 5 * 1000 * 1000 }, NULL);
}

/* The file that freezes M: cgroup v2's cgroup.freeze, else v1's freezer.state. */
static int freezer_file(const MachineCgroup *m, char **ret, bool *ret_v2) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        for (int pass = 0; pass < 2; pass++)
                for (Hierarchy *i = h; i->mount; i++) {
                        if (pass == 0 ? !i->v2 : !has_controller(i, "freezer"))
                                continue;
                        _cleanup_free_ char *dir = group_dir(i, m);
                        if (!dir)
                                continue;
                        _cleanup_free_ char *p = xasprintf("%s/%s", dir, i->v2 ? "cgroup.freeze" : "freezer.state");
                        if (access(p, F_OK) < 0)
                                continue;
                        *ret = TAKE_PTR(p);
                        *ret_v2 = i->v2;
                        return 0;
                }
        return -EOPNOTSUPP;
}

/* Whether the freezer FILE says it is done: v2's cgroup.events "frozen 1"
 * (or 0 when thawing), v1's freezer.state "FROZEN" (it says "FREEZING" on the way). */
static bool freezer_settled(const char *file, bool v2, bool freeze) {
        _cleanup_free_ char *events = v2 ? xstrdup(file) : NULL, *buf = NULL;
        if (v2)
                strcpy(strrchr(events, '/') + 1, "cgroup.events");
        if (read_file_at(AT_FDCWD, v2 ? events : file, 4096, &buf, NULL) < 0)
                return false;
        if (v2)
                return strstr(buf, freeze ? "frozen 1" : "frozen 0") != NULL;
        return startswith(buf, freeze ? "FROZEN" : "THAWED");
}

int cgroup_machine_freeze(const MachineCgroup *m, bool freeze) {
        _cleanup_free_ char *file = NULL;
        bool v2;
        int r = freezer_file(m, &file, &v2);
        if (r < 0)
                return r;
        r = write_string_at(AT_FDCWD, file, v2 ? (freeze ? "1" : "0") : (freeze ? "FROZEN" : "THAWED"));
        if (r < 0)
                return r;
        /* A task in uninterruptible sleep freezes when it wakes: give it 10 s. */
        for (int tries = 0; tries < 1000; tries++) {
                if (freezer_settled(file, v2, freeze))
                        return 0;
                nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        return -ETIMEDOUT;
}

int cgroup_machine_is_frozen(const MachineCgroup *m) {
        _cleanup_free_ char *file = NULL, *buf = NULL;
        bool v2;
        int r = freezer_file(m, &file, &v2);
        if (r < 0)
                return r;
        r = read_file_at(AT_FDCWD, file, 4096, &buf, NULL);
        if (r < 0)
                return r;
        return v2 ? !!startswith(buf, "1") : !startswith(buf, "THAWED");
}

/* The dir of hierarchy I that cgroup_machine_destroy() removes: GROUP itself
 * in direct mode, GROUP/payload when delegated (the supervisor's own leaf
 * goes with the unit).  Opens its parent (RET_PARENT) and names the leaf
 * (RET_LEAF, within *RET_FREE); -ENOENT if it is not there. */
static int destroy_target(const Hierarchy *i, const MachineCgroup *m, int *ret_parent, const char **ret_leaf,
                          char **ret_free) {
        char *parent = group_dir(i, m);
        if (!parent)
                return -ENOENT;
        const char *leaf = "payload";
        if (!m->delegated) {
                char *slash = strrchr(parent, '/');
                *slash = 0;
                leaf = slash + 1;
        }
        int pfd = open_dir_nofollow(AT_FDCWD, parent);
        if (pfd < 0) {
                free(parent);
                return pfd;
        }
        *ret_parent = pfd;
        *ret_leaf = leaf;
        *ret_free = parent;
        return 0;
}

int cgroup_machine_destroy(const MachineCgroup *m) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        /* A task frozen by v1's freezer does not die until thawed. */
        if (cgroup_machine_is_frozen(m) > 0)
                (void) cgroup_machine_freeze(m, false);
        int ret = 0;
        /* v2 first: its cgroup.kill is atomic against forks, where v1's
         * hierarchies can only be read and signalled pid by pid. */
        for (int pass = 0; pass < 2; pass++)
                for (Hierarchy *i = h; i->mount; i++) {
                        if (pass == 0 && !i->v2)
                                continue;
                        _cleanup_close_ int pfd = -EBADF;
                        _cleanup_free_ char *parent = NULL;
                        const char *leaf;
                        if (destroy_target(i, m, &pfd, &leaf, &parent) < 0)
                                continue;
                        _cleanup_close_ int mfd = open_dir_nofollow(pfd, leaf);
                        if (mfd < 0)
                                continue;
                        kill_all(mfd, i->v2);
                        if (pass == 0)
                                continue;
                        int r = -EBUSY;
                        for (int tries = 0; tries < 200; tries++) {
                                r = rmdir_tree(pfd, leaf);
                                if (r != -EBUSY)
                                        break;
                                /* Killed tasks take a moment to leave the cgroup. */
                                nanosleep(&(struct timespec) { .tv_nsec = 5 * 1000 * 1000 }, NULL);
                        }
                        if (r < 0 && ret == 0)
                                ret = log_debug_errno(r, "Failed to remove cgroup %s/%s: %m", parent, leaf);
                }
        return ret;
}

int cgroup_attach_like(pid_t target, pid_t pid) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;

        char path[64];
        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) target);
        _cleanup_free_ char *cg = NULL;
        int r = read_file_at(AT_FDCWD, path, 1 << 16, &cg, NULL);
        if (r < 0)
                return r;

        char buf[32];
        snprintf(buf, sizeof buf, "%d", (int) pid);
        /* Lines are "ID:CONTROLLERS:PATH"; v2 has ID 0 and empty controllers. */
        for (char *line = cg, *e; *line; line = e) {
                e = strchrnul(line, '\n');
                if (*e)
                        *e++ = 0;
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = 0;
                const char *ctrl = c1 + 1, *cgpath = c2 + 1;
                if (strstr(cgpath, "/..") || cgpath[0] != '/')
                        return -EINVAL;
                for (Hierarchy *i = h; i->mount; i++) {
                        if (i->v2 ? !isempty(ctrl) : !streq(ctrl, i->controllers))
                                continue;
                        _cleanup_free_ char *p = xasprintf("%s%s/cgroup.procs", i->mount, cgpath);
                        r = write_string_at(AT_FDCWD, p, buf);
                        if (r < 0)
                                return log_debug_errno(r, "Failed to join %s: %m", p);
                }
        }
        return 0;
}

static int read_u64(const char *path, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        int r = read_file_at(AT_FDCWD, path, 4096, &s, NULL);
        if (r < 0)
                return r;
        s[strcspn(s, "\n")] = 0;
        return safe_atou64(s, ret);
}

/* The first of the machine's hierarchies with the file (V2FILE, or V1FILE
 * where controller V1CTRL is), read by READ. */
static int machine_file(const MachineCgroup *m, const char *v2file, const char *v1ctrl, const char *v1file,
                        int (*read)(const char *path, uint64_t *ret), uint64_t *ret) {
        _cleanup_(hierarchies_freep) Hierarchy *owned = NULL;
        const Hierarchy *h;
        int n = machine_hierarchies(m, &owned, &h);
        if (n < 0)
                return n;
        for (const Hierarchy *i = h; i->mount; i++) {
                if (!i->v2 && !has_controller(i, v1ctrl))
                        continue;
                _cleanup_free_ char *dir = group_dir(i, m);
                if (!dir)
                        continue;
                _cleanup_free_ char *p = xasprintf("%s/%s", dir, i->v2 ? v2file : v1file);
                if (read(p, ret) >= 0)
                        return 0;
        }
        return -ENODATA;
}

static int machine_stat(const MachineCgroup *m, const char *v2file, const char *v1ctrl, const char *v1file,
                        uint64_t *ret) {
        return machine_file(m, v2file, v1ctrl, v1file, read_u64, ret);
}

int cgroup_machine_memory_current(const MachineCgroup *m, uint64_t *ret) {
        return machine_stat(m, "memory.current", "memory", "memory.usage_in_bytes", ret);
}

int cgroup_machine_tasks_current(const MachineCgroup *m, uint64_t *ret) {
        return machine_stat(m, "pids.current", "pids", "pids.current", ret);
}

/* A limit file: a number, or "max" (v2) or the v1 "no limit" (the largest
 * page-aligned value, which no real limit comes near), both UINT64_MAX. */
static int read_limit(const char *path, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        int r = read_file_at(AT_FDCWD, path, 4096, &s, NULL);
        if (r < 0)
                return r;
        s[strcspn(s, "\n")] = 0;
        if (streq(s, "max")) {
                *ret = UINT64_MAX;
                return 0;
        }
        uint64_t v;
        r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        *ret = v >= (UINT64_C(1) << 62) ? UINT64_MAX : v;
        return 0;
}

static int machine_limit(const MachineCgroup *m, const char *v2file, const char *v1ctrl, const char *v1file,
                         uint64_t *ret) {
        return machine_file(m, v2file, v1ctrl, v1file, read_limit, ret);
}

static int file_present(const char *path, uint64_t *ret) {
        if (access(path, F_OK) < 0)
                return -errno;
        *ret = 1;
        return 0;
}

int cgroup_machine_has_controller(const MachineCgroup *m, const char *controller) {
        /* Each controller's limit file: the cgroup has it only where the
         * controller is there (enabled above it on v2, its hierarchy on v1). */
        static const struct {
                const char *name, *v2file, *v1file;
        } files[] = {
                { "memory", "memory.max", "memory.limit_in_bytes" },
                { "pids", "pids.max", "pids.max" },
                { "cpu", "cpu.max", "cpu.cfs_quota_us" },
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                if (!streq(files[i].name, controller))
                        continue;
                uint64_t v;
                int r = machine_file(m, files[i].v2file, controller, files[i].v1file, file_present, &v);
                return r >= 0 ? 1 : r == -ENODATA ? 0 : r;
        }
        return -EINVAL;
}

int cgroup_machine_memory_max(const MachineCgroup *m, uint64_t *ret) {
        return machine_limit(m, "memory.max", "memory", "memory.limit_in_bytes", ret);
}

int cgroup_machine_tasks_max(const MachineCgroup *m, uint64_t *ret) {
        return machine_limit(m, "pids.max", "pids", "pids.max", ret);
}

/* v2: cpu.stat's usage_usec, there without the cpu controller too; v1:
 * cpuacct.usage, in nanoseconds. */
int cgroup_machine_cpu_usage_nsec(const MachineCgroup *m, uint64_t *ret) {
        _cleanup_(hierarchies_freep) Hierarchy *owned = NULL;
        const Hierarchy *h;
        int n = machine_hierarchies(m, &owned, &h);
        if (n < 0)
                return n;
        for (const Hierarchy *i = h; i->mount; i++) {
                if (!i->v2 && !has_controller(i, "cpuacct"))
                        continue;
                _cleanup_free_ char *dir = group_dir(i, m);
                if (!dir)
                        continue;
                if (!i->v2) {
                        _cleanup_free_ char *p = xasprintf("%s/cpuacct.usage", dir);
                        if (read_u64(p, ret) >= 0)
                                return 0;
                        continue;
                }
                _cleanup_free_ char *p = xasprintf("%s/cpu.stat", dir), *s = NULL;
                if (read_file_at(AT_FDCWD, p, 4096, &s, NULL) < 0)
                        continue;
                for (char *line = s, *e; *line; line = e) {
                        e = strchrnul(line, '\n');
                        if (*e)
                                *e++ = 0;
                        const char *v = startswith(line, "usage_usec ");
                        uint64_t usec;
                        if (v && safe_atou64(v, &usec) >= 0 && usec < UINT64_MAX / 1000) {
                                *ret = usec * 1000;
                                return 0;
                        }
                }
        }
        return -ENODATA;
}

/* PID's cgroup in the unified hierarchy, "" for its root. */
static int unified_of(pid_t pid, char **ret) {
        char path[64];
        if (pid == 0)
                snprintf(path, sizeof path, "/proc/self/cgroup");
        else
                snprintf(path, sizeof path, "/proc/%d/cgroup", (int) pid);
        _cleanup_free_ char *cg = NULL;
        int r = read_file_at(AT_FDCWD, path, 1 << 16, &cg, NULL);
        if (r < 0)
                return r;
        for (char *line = cg, *e; *line; line = e) {
                e = strchrnul(line, '\n');
                if (*e)
                        *e++ = 0;
                const char *p = startswith(line, "0::/");
                if (p) {
                        if (path_has_dotdot(p))
                                return -EINVAL;
                        *ret = xstrdup(p);
                        return 0;
                }
        }
        return -ENOENT;
}

int cgroup_unified_of(pid_t pid, char **ret) {
        _cleanup_free_ char *p = NULL;
        int r = unified_of(pid, &p);
        if (r < 0)
                return r;
        if (isempty(p))
                return -EINVAL;
        *ret = TAKE_PTR(p);
        return 0;
}

int cgroup_own_is_writable(char **ret_dir) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        const Hierarchy *v2 = NULL;
        for (const Hierarchy *i = h; i->mount && !v2; i++)
                if (i->v2)
                        v2 = i;
        if (!v2)
                return -ENOENT;
        _cleanup_free_ char *rel = NULL;
        int r = unified_of(0, &rel);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = isempty(rel) ? xstrdup(v2->mount) : xasprintf("%s/%s", v2->mount, rel);
        _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", dir);
        /* Both: a child cgroup is made in DIR, and moving a process there
         * from DIR needs DIR's cgroup.procs too (the common ancestor). */
        bool writable = faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) >= 0 &&
                        faccessat(AT_FDCWD, procs, W_OK, AT_EACCESS) >= 0;
        if (!writable && errno != EACCES && errno != EPERM && errno != EROFS)
                return -errno;
        if (ret_dir)
                *ret_dir = TAKE_PTR(dir);
        return writable;
}

int cgroup_subgroup_of(pid_t pid, const char *group, char **ret) {
        _cleanup_free_ char *cg = NULL;
        int r = cgroup_unified_of(pid, &cg);
        if (r < 0)
                return r;
        const char *sub = startswith(cg, group);
        if (!sub || (*sub && *sub != '/'))
                return -EXDEV;
        *ret = xstrdup(sub);
        return 0;
}

int cgroup_machine_renew_payload(const MachineCgroup *m) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        for (Hierarchy *i = h; i->mount; i++) {
                _cleanup_free_ char *dir = group_dir(i, m);
                if (!dir)
                        continue;
                _cleanup_close_ int gfd = open_dir_nofollow(AT_FDCWD, dir);
                if (gfd < 0)
                        return log_error_errno(gfd, "Failed to open %s: %m", dir);
                _cleanup_close_ int pfd = open_dir_nofollow(gfd, "payload");
                if (pfd >= 0) {
                        kill_all(pfd, i->v2);
                        int r = -EBUSY;
                        for (int tries = 0; tries < 200 && r == -EBUSY; tries++) {
                                r = rmdir_tree(gfd, "payload");
                                if (r == -EBUSY)
                                        nanosleep(&(struct timespec) { .tv_nsec = 5 * 1000 * 1000 }, NULL);
                        }
                        if (r < 0)
                                return log_error_errno(r, "Failed to remove %s/payload: %m", dir);
                }
                if (mkdirat(gfd, "payload", 0755) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Failed to create %s/payload: %m", dir);
        }
        return 0;
}

/* The pids in DFD's cgroup.procs and below, appended to *PIDS. */
static void collect_pids(int dfd, pid_t **pids, size_t *n) {
        _cleanup_free_ char *procs = NULL;
        if (read_file_at(dfd, "cgroup.procs", 1 << 20, &procs, NULL) >= 0)
                for (char *p = procs, *e; *p; p = e) {
                        e = strchrnul(p, '\n');
                        if (*e)
                                *e++ = 0;
                        int pid;
                        if (safe_atoi(p, &pid) < 0 || pid <= 0)
                                continue;
                        *pids = realloc(*pids, sizeof(pid_t) * (*n + 1));
                        if (!*pids)
                                abort();
                        (*pids)[(*n)++] = pid;
                }
        _cleanup_closedir_ DIR *d = NULL;
        if (opendir_dup(dfd, &d) < 0)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        _cleanup_close_ int sub = open_dir_nofollow(dirfd(d), de->d_name);
                        if (sub >= 0)
                                collect_pids(sub, pids, n);
                }
}

int cgroup_machine_pids(const MachineCgroup *m, pid_t **ret, size_t *ret_n) {
        _cleanup_(hierarchies_freep) Hierarchy *h = NULL;
        int n = hierarchies_get(&h);
        if (n < 0)
                return n;
        /* Every process is in every hierarchy: one that has the group will do. */
        for (Hierarchy *i = h; i->mount; i++) {
                _cleanup_free_ char *gdir = group_dir(i, m);
                _cleanup_free_ char *dir = gdir ? xasprintf("%s/payload", gdir) : NULL;
                _cleanup_close_ int fd = dir ? open_dir_nofollow(AT_FDCWD, dir) : -EBADF;
                if (fd < 0)
                        continue;
                pid_t *pids = NULL;
                size_t k = 0;
                collect_pids(fd, &pids, &k);
                *ret = pids;
                *ret_n = k;
                return 0;
        }
        return -ENOENT;
}
