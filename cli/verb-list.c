/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* list and status: read-only, take no locks, never block on a busy machine. */

#include <json-c/json.h>
#include <time.h>

#include "berth.h"
#include "cgroup.h"
#include "cni.h"
#include "binds.h"
#include "config.h"
#include "create.h"
#include "fs.h"
#include "build-config.h"
#include "kv.h"
#include "last-exit.h"
#include "layers.h"
#include "log.h"
#include "netaddr.h"
#include "oci-record.h"
#include "runtime.h"
#include "unit.h"
#include "userns.h"
#include "util.h"

typedef struct MachineInfo {
        char *name;
        char *source;
        uint64_t created_usec;
        bool running;
        RuntimeState rt;
        uint64_t memory; /* UINT64_MAX: unknown */
        uint64_t tasks;
        UnitStatus unit; /* unit mode: what systemd says; active_state "" otherwise */
        MachineConfig files; /* [Files]: of this start if running, else as configured */
        MachineConfig cfg;   /* berth.conf and machine.conf; defaults when broken */
        char *cfg_error;     /* why machine.conf is invalid: the machine is "broken" */
        uint64_t memory_max; /* in force: the cgroup's (berth set --runtime) if running, else configured;
                              * UINT64_MAX: none */
        uint64_t tasks_max;
        uint64_t cpu_nsec;   /* CPU time of this boot; UINT64_MAX: unknown */
        char *ports;         /* forwards, space-separated "tcp:8080:80": this start's if running */
        int autostart;       /* berth enable: 1, 0, or -1 where it cannot be (direct mode, other roots) */
        uint64_t disk_bytes; /* the machine's own tree (its upper dir when layered); UINT64_MAX: unknown */
        bool layered;
        const char *network_mode; /* this start's (start --network) if running, else configured */
        const char *network_name; /* NULL for none and host */
        LastExit last;       /* why the last boot ended */
        bool has_last;
} MachineInfo;

static void machine_info_done(MachineInfo *m) {
        free(m->name);
        free(m->source);
        machine_config_done(&m->files);
        machine_config_done(&m->cfg);
        free(m->cfg_error);
        free(m->ports);
}

/* What list and status show of a machine: the broken and state words. */
static const char *machine_info_state(const MachineInfo *m) {
        if (!m->running && m->cfg_error)
                return "broken";
        return machine_state_to_string(m->rt.state);
}

/* A running machine's binds are the ones its supervisor mounted (RUNTIME_FILES),
 * a stopped one's the configured ones. */
static void read_files(Context *ctx, MachineInfo *m) {
        machine_config_init(&m->files);
        if (m->running && runtime_files_read(ctx->store.run_fd, m->name, &m->files) >= 0)
                return;
        _cleanup_free_ char *err = NULL;
        MachineConfig cfg;
        if (store_load_config(&ctx->store, m->name, NULL, &cfg, &err) < 0)
                return;
        machine_config_done(&m->files);
        m->files = cfg;
}

/* C's binds, Bind= ones first, parsed (those that do not parse, which
 * machine.conf cannot hold, are left out); *ret_n of them. */
static BindSpec *binds_parse(const MachineConfig *c, size_t *ret_n) {
        size_t n_rw = strv_length(c->binds), n = 0;
        BindSpec *b = xcalloc(n_rw + strv_length(c->binds_ro) + 1, sizeof *b);
        for (size_t i = 0; i < n_rw + strv_length(c->binds_ro); i++) {
                const char *reason;
                if (bind_spec_parse(i < n_rw ? c->binds[i] : c->binds_ro[i - n_rw], i >= n_rw, &b[n], &reason) >= 0)
                        n++;
        }
        *ret_n = n;
        return b;
}

static void binds_free(BindSpec *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                bind_spec_done(&b[i]);
        free(b);
}

static json_object *binds_json(const MachineConfig *c) {
        json_object *a = json_object_new_array();
        size_t n;
        BindSpec *b = binds_parse(c, &n);
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "source", json_object_new_string(b[i].source));
                json_object_object_add(o, "destination", json_object_new_string(b[i].destination));
                json_object_object_add(o, "read_only", json_object_new_boolean(b[i].read_only));
                json_object_object_add(o, "recursive", json_object_new_boolean(b[i].recursive));
                json_object_object_add(o, "idmap", json_object_new_string(bind_idmap_to_string(b[i].idmap)));
                json_object_array_add(a, o);
        }
        binds_free(b, n);
        return a;
}

static json_object *tmpfs_json(const MachineConfig *c) {
        json_object *a = json_object_new_array();
        for (char *const *v = c->tmpfs; v && *v; v++) {
                TmpfsSpec t;
                const char *reason;
                if (tmpfs_spec_parse(*v, &t, &reason) < 0)
                        continue;
                json_object *o = json_object_new_object();
                json_object_object_add(o, "destination", json_object_new_string(t.destination));
                json_object_object_add(o, "read_only", json_object_new_boolean(t.read_only));
                json_object_object_add(o, "mode", json_object_new_string(t.mode ?: "0755"));
                json_object_object_add(o, "size", t.size ? json_object_new_string(t.size) : NULL);
                json_object_array_add(a, o);
                tmpfs_spec_done(&t);
        }
        return a;
}

static void print_files(const MachineConfig *c) {
        size_t n;
        BindSpec *b = binds_parse(c, &n);
        for (size_t i = 0; i < n; i++)
                printf("%s %s -> %s (%s, %s, %s)\n", i == 0 ? "      Binds:" : "            ", b[i].source,
                       b[i].destination, b[i].read_only ? "ro" : "rw", b[i].recursive ? "rbind" : "norbind",
                       bind_idmap_to_string(b[i].idmap));
        binds_free(b, n);
        for (char *const *v = c->tmpfs; v && *v; v++)
                printf("      Tmpfs: %s\n", *v);
}

static void read_info_file(Context *ctx, MachineInfo *m) {
        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.machines_fd, m->name);
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        if (dfd < 0 || key_values_read_at(dfd, "info", 4096, &kv) < 0)
                return;
        const char *source = key_values_get(&kv, "SOURCE"), *created = key_values_get(&kv, "CREATED_USEC");
        if (source)
                m->source = xstrdup(source);
        if (created)
                (void) safe_atou64(created, &m->created_usec);
}

static char *ports_format(const MachineConfig *c) {
        char *s = xstrdup("");
        for (size_t i = 0; i < c->n_ports; i++) {
                char buf[16];
                strextendf(&s, "%s%s", i ? " " : "", port_forward_format(&c->ports[i], buf));
        }
        return s;
}

/* The facts status adds to list's, which cost more than reading a few
 * files: autostart asks systemd, the disk usage walks the tree. */
static void machine_info_load_more(Context *ctx, MachineInfo *m) {
        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.machines_fd, m->name);
        if (dfd >= 0 && last_exit_read(dfd, &m->last) >= 0)
                m->has_last = true;
        /* A state file without a live supervisor: it was killed before it
         * could say how the boot ended (its record, if any, is older). */
        RuntimeState stale;
        if (!m->running && runtime_state_read(ctx->store.run_fd, m->name, &stale) >= 0 && stale.started_usec > 0 &&
            (!m->has_last || m->last.usec < stale.started_usec)) {
                m->last = (LastExit) { .reason = LAST_EXIT_KILLED, .status = -1 };
                snprintf(m->last.detail, sizeof m->last.detail,
                         "its supervisor was killed: how the init ended is not known");
                m->has_last = true;
        }
        _cleanup_strv_free_ char **layers = NULL;
        m->layered = dfd >= 0 && layers_read(dfd, "layers", &layers) >= 0 && layers;
        if (dfd < 0 || disk_usage_at(dfd, "rootfs", &m->disk_bytes) < 0)
                m->disk_bytes = UINT64_MAX;
        m->autostart = -1;
        RunMode mode;
        if (streq(ctx->store.root, BERTH_STATE_DIR) && context_run_mode(ctx, &mode) >= 0 && mode == RUN_MODE_UNIT) {
                int r = unit_is_enabled(ctx->bus, m->name);
                m->autostart = r < 0 ? -1 : r;
        }
}

/* BRIEF: only what list's table shows (state, leader, since, memory,
 * address, source), which keeps list's cost per machine to a few small
 * reads: no [Files], no machine.conf of a running machine (only a stopped
 * one can show "broken"), no cgroup figures but the memory. */
static void machine_info_load(Context *ctx, const char *name, bool brief, const CgroupHierarchies *hs,
                              MachineInfo *m) {
        *m = (MachineInfo) { .name = xstrdup(name), .memory = UINT64_MAX, .tasks = UINT64_MAX,
                             .cpu_nsec = UINT64_MAX, .disk_bytes = UINT64_MAX, .autostart = -1 };
        read_info_file(ctx, m);
        m->running = runtime_is_active(ctx->store.run_fd, name) > 0 &&
                     runtime_state_read(ctx->store.run_fd, name, &m->rt) >= 0;
        if (!brief)
                read_files(ctx, m);
        else
                machine_config_init(&m->files);
        if (brief && m->running)
                machine_config_init(&m->cfg);
        else if (store_load_config(&ctx->store, name, NULL, &m->cfg, &m->cfg_error) < 0) {
                if (!m->cfg_error)
                        m->cfg_error = xstrdup("cannot read machine.conf");
                machine_config_init(&m->cfg);
        }
        m->memory_max = m->cfg.memory_max;
        m->tasks_max = m->cfg.tasks_max;
        m->ports = m->running && m->rt.ports_known ? xstrdup(m->rt.ports) : ports_format(&m->cfg);
        m->network_mode = network_mode_to_string(m->cfg.network_mode);
        m->network_name = machine_config_network_name(&m->cfg);
        if (m->running && m->rt.network_known) {
                m->network_mode = m->rt.network_mode;
                m->network_name = isempty(m->rt.network_name) ? NULL : m->rt.network_name;
        }
        if (!m->running) {
                m->rt = (RuntimeState) { .state = MACHINE_STOPPED };
                return;
        }
        /* A machine started as a unit: systemd's own view first, where it has
         * one (its figures cover the supervisor too, like the unit's limits). */
        m->unit = (UnitStatus) UNIT_STATUS_UNKNOWN;
        RunMode mode;
        if (!isempty(m->rt.unit) && context_run_mode(ctx, &mode) >= 0 && mode == RUN_MODE_UNIT &&
            unit_get_status(ctx->bus, m->rt.unit, &m->unit) < 0)
                m->unit = (UnitStatus) UNIT_STATUS_UNKNOWN;
        m->memory = m->unit.memory_current;
        m->tasks = m->unit.tasks_current;

        /* Else the cgroup's own files. */
        MachineCgroup mcg = { .group = m->rt.cgroup, .delegated = m->rt.delegated, .hierarchies = hs };
        if (m->memory == UINT64_MAX && (isempty(mcg.group) || cgroup_machine_memory_current(&mcg, &m->memory) < 0))
                m->memory = UINT64_MAX;
        if (brief)
                return;
        if (m->tasks == UINT64_MAX && (isempty(mcg.group) || cgroup_machine_tasks_current(&mcg, &m->tasks) < 0))
                m->tasks = UINT64_MAX;
        m->cpu_nsec = m->unit.cpu_usage_nsec;
        if (m->cpu_nsec == UINT64_MAX && (isempty(mcg.group) || cgroup_machine_cpu_usage_nsec(&mcg, &m->cpu_nsec) < 0))
                m->cpu_nsec = UINT64_MAX;
        /* The limits in force: berth set --runtime changes them, not the file. */
        uint64_t v;
        if (!isempty(mcg.group) && cgroup_machine_memory_max(&mcg, &v) >= 0)
                m->memory_max = v;
        if (!isempty(mcg.group) && cgroup_machine_tasks_max(&mcg, &v) >= 0)
                m->tasks_max = v;
}

static void format_bytes(uint64_t v, char buf[static 16]) {
        static const char *const units[] = { "B", "K", "M", "G", "T" };
        if (v == UINT64_MAX) {
                snprintf(buf, 16, "-");
                return;
        }
        double d = (double) v;
        size_t u = 0;
        while (d >= 1024 && u + 1 < ELEMENTSOF(units)) {
                d /= 1024;
                u++;
        }
        snprintf(buf, 16, u == 0 ? "%.0f%s" : "%.1f%s", d, units[u]);
}

static void format_time(uint64_t usec, char buf[static 32]) {
        if (usec == 0) {
                snprintf(buf, 32, "-");
                return;
        }
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

/* The [Devices] Allow= lines of machine M, in C: a running machine's from its
 * runtime state (with its --device ones), else its configuration's.  -errno
 * when the configuration cannot be read. */
static int devices_load(Context *ctx, const MachineInfo *m, MachineConfig *c) {
        _cleanup_free_ char *err = NULL;
        if (!m->running || !m->rt.devices_known)
                return store_load_config(&ctx->store, m->name, NULL, c, &err);
        machine_config_init(c);
        _cleanup_free_ char *copy = xstrdup(m->rt.devices);
        char *save = NULL;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                DeviceAllow a;
                const char *reason;
                if (streq(w, "...") || device_allow_parse(w, &a, &reason) < 0)
                        a = (DeviceAllow) { .name = xstrdup(w) }; /* shown as it is */
                machine_config_append_device(c, a);
        }
        return 0;
}

/* M's devices as JSON: [{"device", "access", "privileged"}], or null when
 * its configuration cannot be read. */
static json_object *devices_json(Context *ctx, const MachineInfo *m) {
        MachineConfig cfg;
        if (devices_load(ctx, m, &cfg) < 0)
                return NULL;
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < cfg.n_devices; i++) {
                char acc[4];
                json_object *d = json_object_new_object();
                json_object_object_add(d, "device", json_object_new_string(cfg.devices[i].name));
                json_object_object_add(d, "access",
                                       json_object_new_string(device_access_format(cfg.devices[i].access, acc)));
                json_object_object_add(d, "privileged", json_object_new_boolean(cfg.devices[i].privileged));
                json_object_array_add(arr, d);
        }
        machine_config_done(&cfg);
        return arr;
}

static json_object *u64_or_null(uint64_t v) {
        return v == UINT64_MAX ? NULL : json_object_new_uint64(v);
}

static json_object *words_json(const char *s) {
        json_object *a = json_object_new_array();
        _cleanup_free_ char *copy = xstrdup(s ?: "");
        char *save = NULL;
        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
                json_object_array_add(a, json_object_new_string(w));
        return a;
}

static json_object *last_exit_json(const MachineInfo *m) {
        if (!m->has_last)
                return NULL;
        char sig[16];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "reason", json_object_new_string(last_exit_reason_to_string(m->last.reason)));
        json_object_object_add(o, "status", m->last.status >= 0 ? json_object_new_int(m->last.status) : NULL);
        json_object_object_add(o, "signal",
                               m->last.signal > 0 ? json_object_new_string(signal_to_string(m->last.signal, sig)) : NULL);
        json_object_object_add(o, "usec", json_object_new_uint64(m->last.usec));
        json_object_object_add(o, "detail", json_object_new_string(m->last.detail));
        return o;
}

/* The fields of status --json beyond list's (berth(1), JSON OUTPUT). */
static void machine_info_json_more(const MachineInfo *m, json_object *o) {
        json_object_object_add(o, "autostart", m->autostart < 0 ? NULL : json_object_new_boolean(m->autostart));
        json_object_object_add(o, "disk_bytes", u64_or_null(m->disk_bytes));
        json_object_object_add(o, "layered", json_object_new_boolean(m->layered));
        json_object_object_add(o, "last_exit", last_exit_json(m));
}

static json_object *machine_info_json(const MachineInfo *m) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(m->name));
        json_object_object_add(o, "state", json_object_new_string(machine_info_state(m)));
        json_object_object_add(o, "config_error", m->cfg_error ? json_object_new_string(m->cfg_error) : NULL);
        json_object_object_add(o, "ephemeral", json_object_new_boolean(m->running && m->rt.ephemeral));
        json_object_object_add(o, "network_mode", json_object_new_string(m->network_mode));
        json_object_object_add(o, "network_name", m->network_name ? json_object_new_string(m->network_name) : NULL);
        json_object_object_add(o, "ports", words_json(m->ports));
        json_object_object_add(o, "memory_max_bytes", u64_or_null(m->memory_max));
        json_object_object_add(o, "tasks_max", u64_or_null(m->tasks_max));
        _cleanup_free_ char *quota = machine_config_format_key(&m->cfg, CONFIG_RESOURCES_CPU_QUOTA);
        json_object_object_add(o, "cpu_quota", isempty(quota) ? NULL : json_object_new_string(quota));
        json_object_object_add(o, "cpu_weight", u64_or_null(m->cfg.cpu_weight));
        json_object_object_add(o, "source", m->source ? json_object_new_string(m->source) : NULL);
        json_object_object_add(o, "created_usec", json_object_new_uint64(m->created_usec));
        json_object_object_add(o, "binds", binds_json(&m->files));
        json_object_object_add(o, "tmpfs", tmpfs_json(&m->files));
        if (m->running) {
                json_object_object_add(o, "leader", json_object_new_int(m->rt.init_pid));
                json_object_object_add(o, "supervisor", json_object_new_int(m->rt.supervisor_pid));
                json_object_object_add(o, "started_usec", json_object_new_uint64(m->rt.started_usec));
                json_object_object_add(o, "boots", json_object_new_int((int) m->rt.boots));
                json_object_object_add(o, "memory_bytes",
                                       m->memory == UINT64_MAX ? NULL : json_object_new_uint64(m->memory));
                json_object_object_add(o, "tasks", m->tasks == UINT64_MAX ? NULL : json_object_new_uint64(m->tasks));
                json_object_object_add(o, "booted", json_object_new_boolean(m->rt.booted));
                json_object_object_add(o, "cgroup", json_object_new_string(m->rt.cgroup));
                json_object_object_add(o, "unit", isempty(m->rt.unit) ? NULL : json_object_new_string(m->rt.unit));
                const UnitStatus *u = &m->unit;
                json_object_object_add(o, "unit_active_state",
                                       isempty(u->active_state) ? NULL : json_object_new_string(u->active_state));
                json_object_object_add(o, "unit_sub_state",
                                       isempty(u->sub_state) ? NULL : json_object_new_string(u->sub_state));
                json_object_object_add(o, "unit_active_enter_usec",
                                       u->active_enter_usec == 0 ? NULL : json_object_new_uint64(u->active_enter_usec));
                json_object_object_add(o, "cpu_usage_nsec", u64_or_null(m->cpu_nsec));
                json_object *addrs = json_object_new_array();
                _cleanup_free_ char *copy = xstrdup(m->rt.addresses);
                char *save = NULL;
                for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
                        json_object_array_add(addrs, json_object_new_string(w));
                json_object_object_add(o, "addresses", addrs);
        }
        return o;
}

/* list's STATE: the state, and what else a glance should tell. */
static char *list_state(const MachineInfo *m) {
        return xasprintf("%s%s", machine_info_state(m), m->running && m->rt.ephemeral ? ",ephemeral" : "");
}

static const OptionSpec json_options[] = { JSON_OPTION, {} };

const VerbSpec list_verb = {
        .name = "list",
        .func = verb_list,
        .args = "",
        .summary = "List the machines: state, leader, since, memory, address, source",
        .example = "list --json",
        .options = json_options,
        .complete = COMPLETE_NONE,
        .rootless = true,
};

/* A berth-oci container's state: "created" until start opens its exec fifo. */
static const char *oci_record_state(const OciRecord *r) {
        _cleanup_free_ char *fifo = xasprintf("%s/%s/exec.fifo", r->state_dir, r->id);
        return access(fifo, F_OK) == 0 ? "created" : "running";
}

static json_object *oci_record_json(const OciRecord *r) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(r->name));
        json_object_object_add(o, "state", json_object_new_string(oci_record_state(r)));
        json_object_object_add(o, "leader", json_object_new_int(r->pid));
        /* Not a berth machine: berth-oci runs it for an engine. */
        json_object_object_add(o, "oci", json_object_new_boolean(true));
        json_object_object_add(o, "oci_engine", json_object_new_string(r->engine));
        json_object_object_add(o, "oci_id", json_object_new_string(r->id));
        json_object_object_add(o, "oci_state_dir", json_object_new_string(r->state_dir));
        json_object_object_add(o, "rootfs", json_object_new_string(r->rootfs));
        if (r->registered)
                json_object_object_add(o, "machined_name", json_object_new_string(r->registered));
        return o;
}

/* The running ones of DIR's records, *RET_N of them. */
static OciRecord *oci_records_live(const char *dir, size_t *ret_n) {
        OciRecord *v = NULL;
        size_t n = 0, k = 0;
        *ret_n = 0;
        if (!dir || oci_record_list(dir, &v, &n) < 0)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (oci_record_alive(&v[i]))
                        v[k++] = v[i];
                else
                        oci_record_done(&v[i]);
        }
        *ret_n = k;
        return v;
}

int verb_list(Context *ctx, int argc, char **argv) {
        OptionParser p;
        option_parser_init(&p, &list_verb, argc, argv);
        int r = parse_json_option(ctx, &p);
        if (r == 0)
                r = expect_args(&p, 0, 0);
        if (r != 0)
                return r;
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        _cleanup_strv_free_ char **names = NULL;
        int n = store_list_machines(&ctx->store, &names);
        if (n < 0) {
                log_error_errno(n, "Failed to list machines: %m");
                return ERR_FAILED;
        }

        MachineInfo *infos = xcalloc((size_t) n + 1, sizeof *infos);
        /* Read once, not once per machine and figure (without it, each
         * machine's figures are read the slow way). */
        _cleanup_(cgroup_hierarchies_freep) CgroupHierarchies *hs = NULL;
        (void) cgroup_hierarchies_load(&hs);
        size_t n_oci;
        OciRecord *oci = oci_records_live(context_oci_records(ctx), &n_oci);
        /* Columns as wide as their longest entry: long names never shift
         * the columns after them. */
        int name_w = 4, state_w = 5;
        for (int i = 0; i < n; i++) {
                machine_info_load(ctx, names[i], !ctx->json, hs, &infos[i]);
                _cleanup_free_ char *state = list_state(&infos[i]);
                if ((int) strlen(infos[i].name) > name_w)
                        name_w = (int) strlen(infos[i].name);
                if ((int) strlen(state) > state_w)
                        state_w = (int) strlen(state);
        }
        for (size_t i = 0; i < n_oci; i++)
                if ((int) strlen(oci[i].name) > name_w)
                        name_w = (int) strlen(oci[i].name);
        if (n_oci > 0 && state_w < (int) strlen("created"))
                state_w = (int) strlen("created");
        json_object *arr = ctx->json ? json_object_new_array() : NULL;
        if (!ctx->json && n + (int) n_oci > 0)
                printf("%-*s %-*s %-8s %-19s %-8s %-15s %s\n", name_w, "NAME", state_w, "STATE", "LEADER", "SINCE",
                       "MEMORY", "ADDRESS", "SOURCE");
        for (int i = 0; i < n; i++) {
                MachineInfo *m = &infos[i];
                if (arr) {
                        json_object *o = machine_info_json(m);
                        json_object_object_add(o, "devices", devices_json(ctx, m));
                        json_object_array_add(arr, o);
                } else {
                        char mem[16], since[32], pid[16];
                        format_bytes(m->memory, mem);
                        format_time(m->running ? m->rt.started_usec : 0, since);
                        snprintf(pid, sizeof pid, m->running ? "%d" : "-", (int) m->rt.init_pid);
                        /* The IPv4 address: the first word of ADDRESSES. */
                        char addr[64] = "-";
                        if (m->running && !isempty(m->rt.addresses))
                                snprintf(addr, sizeof addr, "%.*s", (int) strcspn(m->rt.addresses, " "),
                                         m->rt.addresses);
                        _cleanup_free_ char *state = list_state(m);
                        printf("%-*s %-*s %-8s %-19s %-8s %-15s %s\n", name_w, m->name, state_w, state, pid, since,
                               mem, addr, m->source ?: "-");
                }
        }
        for (int i = 0; i < n; i++)
                machine_info_done(&infos[i]);
        free(infos);
        for (size_t i = 0; i < n_oci; i++) {
                if (arr)
                        json_object_array_add(arr, oci_record_json(&oci[i]));
                else {
                        _cleanup_free_ char *source = xasprintf("oci:%s", oci[i].engine);
                        printf("%-*s %-*s %-8d %-19s %-8s %-15s %s\n", name_w, oci[i].name, state_w,
                               oci_record_state(&oci[i]), (int) oci[i].pid, "-", "-", "-", source);
                }
        }
        oci_record_list_free(oci, n_oci);
        n += (int) n_oci;
        if (arr) {
                puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
                json_object_put(arr);
        } else if (!ctx->quiet && isatty(STDOUT_FILENO))
                printf("\n%d machine%s listed.\n", n, n == 1 ? "" : "s");
        return 0;
}

/* What "berth import" recorded about the image, if it made the machine. */
static void print_image(Context *ctx, const char *name) {
        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.machines_fd, name);
        _cleanup_(image_info_done) ImageInfo img = {};
        if (dfd < 0)
                return;
        int r = image_info_read_at(dfd, &img);
        if (r < 0 && r != -EBADMSG)
                return;
        printf("      Image: %s%s%s\n", img.source_kind ?: "?", img.manifest ? " " : "", img.manifest ?: "");
        if (img.ports)
                printf("      Ports: %s (exposed by the image, not published)\n", img.ports);
}

/* "Devices:", a line for each. */
static void print_devices(Context *ctx, const MachineInfo *m) {
        MachineConfig cfg;
        if (devices_load(ctx, m, &cfg) < 0)
                return;
        for (size_t i = 0; i < cfg.n_devices; i++) {
                char acc[4];
                printf("%s %s (%s)%s\n", i == 0 ? "    Devices:" : "            ", cfg.devices[i].name,
                       device_access_format(cfg.devices[i].access, acc),
                       cfg.devices[i].privileged ? " PRIVILEGED: may reach the host's disks or memory" : "");
        }
        machine_config_done(&cfg);
}

/* "N (max: M)", like systemctl status; "none" for no limit. */
static void print_with_max(const char *what, const char *now, uint64_t max, bool bytes) {
        char buf[32];
        if (max == UINT64_MAX)
                snprintf(buf, sizeof buf, "none");
        else if (bytes)
                format_bytes(max, buf);
        else
                snprintf(buf, sizeof buf, "%llu", (unsigned long long) max);
        printf("%s %s (max: %s)\n", what, now, buf);
}

/* Usage beside the limits in force. */
static void print_usage(const MachineInfo *m) {
        char mem[16], tasks[24], cpu[32];
        format_bytes(m->memory, mem);
        snprintf(tasks, sizeof tasks, m->tasks == UINT64_MAX ? "-" : "%llu", (unsigned long long) m->tasks);
        print_with_max("     Memory:", m->running ? mem : "-", m->memory_max, true);
        print_with_max("      Tasks:", m->running ? tasks : "-", m->tasks_max, false);
        _cleanup_free_ char *quota = machine_config_format_key(&m->cfg, CONFIG_RESOURCES_CPU_QUOTA);
        if (m->running && m->cpu_nsec != UINT64_MAX)
                snprintf(cpu, sizeof cpu, "%.3fs", (double) m->cpu_nsec / 1e9);
        else
                snprintf(cpu, sizeof cpu, "-");
        printf("        CPU: %s (quota: %s, weight: ", cpu, isempty(quota) ? "none" : quota);
        if (m->cfg.cpu_weight == UINT64_MAX)
                printf("default)\n");
        else
                printf("%llu)\n", (unsigned long long) m->cfg.cpu_weight);
}

/* Ports, autostart, disk usage, the last boot's end; for a stopped machine
 * its limits too (a running one shows them beside their usage). */
static void print_more(const MachineInfo *m) {
        if (!m->cfg_error || m->running)
                printf("   Forwards: %s\n", isempty(m->ports) ? "none" : m->ports);
        printf("  Autostart: %s\n", m->autostart < 0 ? "n/a (berth enable needs unit mode and the default state root)"
                                   : m->autostart ? "enabled" : "disabled");
        char disk[16];
        format_bytes(m->disk_bytes, disk);
        printf("       Disk: %s%s\n", disk, m->layered ? " (its own changes; the layers below are shared)" : "");
        if (m->has_last) {
                char when[32];
                format_time(m->last.usec, when);
                printf("  Last boot: %s (%s) at %s\n", last_exit_reason_to_string(m->last.reason), m->last.detail,
                       when);
        }
        if (!m->running && !m->cfg_error)
                print_usage(m);
}

/* status --check: the plugins' CHECK of a running machine's CNI network,
 * with what its supervisor's ADD returned (RUN/NAME/cni.json). */
static int status_check(Context *ctx, const char *name) {
        RuntimeState st;
        if (runtime_is_active(ctx->store.run_fd, name) <= 0 || runtime_state_read(ctx->store.run_fd, name, &st) < 0 ||
            st.init_pid <= 0) {
                log_error("Machine '%s' is not running.", name);
                return ERR_NOT_RUNNING;
        }
        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.run_fd, name);
        _cleanup_(cni_network_done) CniNetwork net = CNI_NETWORK_INIT;
        _cleanup_(cni_runtime_done) CniRuntime rt = {};
        _cleanup_json_ json_object *result = NULL;
        _cleanup_free_ char *err = NULL;
        int r = dfd < 0 ? dfd : cni_cache_read(dfd, &net, &rt, &result, &err);
        if (r == -ENOENT) {
                log_error("Machine '%s' is not on a CNI network ([Network] Mode=cni): there is nothing to check.",
                          name);
                return ERR_USAGE;
        }
        if (r < 0 || !result) {
                log_error("Cannot read the CNI state of machine '%s': %s.", name, err ?: "no result of ADD yet");
                return ERR_FAILED;
        }
        /* The machine, checked to be the same process. */
        _cleanup_close_ int pidfd = runtime_open_init_pidfd(&st);
        if (pidfd < 0) {
                log_error("Machine '%s' is not running.", name);
                return ERR_NOT_RUNNING;
        }
        /* The path ADD got (the supervisor's fd of the namespace): plugins
         * compare it with their result's "sandbox". */
        _cleanup_free_ char *prefix = xasprintf("/proc/%d/fd/", (int) st.supervisor_pid);
        if (!rt.netns || !startswith(rt.netns, prefix)) {
                log_error("Machine '%s' has no CNI attachment of its running supervisor.", name);
                return ERR_FAILED;
        }
        if (net.disable_check) {
                printf("CNI network %s of machine %s: CHECK is disabled (\"disableCheck\": true).\n", net.name, name);
                return 0;
        }
        free(TAKE_PTR(err));
        r = cni_check(&net, &rt, result, &err);
        if (r < 0) {
                log_error("Machine '%s': %s.", name, err);
                return ERR_FAILED;
        }
        printf("CNI network %s of machine %s: CHECK passed (%zu plugin%s).\n", net.name, name, net.n_plugins,
               net.n_plugins == 1 ? "" : "s");
        return 0;
}

/* status of a berth-oci container: what its record says.  1 if there is
 * no running one of that name. */
static int status_oci(Context *ctx, const char *name) {
        const char *dir = context_oci_records(ctx);
        _cleanup_(oci_record_done) OciRecord rec = {};
        if (!dir || oci_record_find(dir, name, &rec) < 0 || !oci_record_alive(&rec))
                return 1;
        if (ctx->json) {
                json_object *o = oci_record_json(&rec);
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
                return 0;
        }
        printf("%s\n", name);
        printf("      State: %s (an OCI container, not a berth machine)\n", oci_record_state(&rec));
        printf("    Managed: by %s through berth-oci; use %s\n", rec.engine, oci_record_engine_tool(rec.engine));
        printf("  Container: %s\n", rec.id);
        printf("  State dir: %s/%s\n", rec.state_dir, rec.id);
        printf("     Rootfs: %s\n", rec.rootfs);
        printf("     Leader: %d\n", (int) rec.pid);
        if (rec.registered)
                printf("   machined: %s\n", rec.registered);
        return 0;
}

static const OptionSpec status_options[] = {
        JSON_OPTION,
        { "check", 0, 'c', NULL, "run the CHECK of the machine's CNI network plugins (Mode=cni)" },
        {},
};

const VerbSpec status_verb = {
        .name = "status",
        .func = verb_status,
        .args = "NAME",
        .summary = "Show a machine's state, leader, cgroup, unit, memory, addresses, source and devices",
        .example = "status web\nstatus --json web\nstatus --check web",
        .options = status_options,
        .complete = COMPLETE_MACHINE,
        .rootless = true,
};

int verb_status(Context *ctx, int argc, char **argv) {
        bool check = false;
        OptionParser p;
        option_parser_init(&p, &status_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                case 'c':
                        check = true;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        const char *name;
        int r = one_name(&p, &name);
        if (r != 0)
                return r;
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        if (store_machine_exists(&ctx->store, name) == 0) {
                r = status_oci(ctx, name);
                if (r <= 0)
                        return r;
        }
        r = look_up_machine(ctx, name);
        if (r != 0)
                return r;
        if (check)
                return status_check(ctx, name);

        MachineInfo m;
        machine_info_load(ctx, name, false, NULL, &m);
        machine_info_load_more(ctx, &m);
        if (ctx->json) {
                json_object *o = machine_info_json(&m);
                machine_info_json_more(&m, o);
                _cleanup_free_ char *rootfs = store_rootfs_path(&ctx->store, name);
                json_object_object_add(o, "rootfs", json_object_new_string(rootfs));
                json_object_object_add(o, "devices", devices_json(ctx, &m));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        } else {
                char created[32], since[32], mem[16], sig1[16], sig2[16];
                format_time(m.created_usec, created);
                _cleanup_free_ char *path = store_machine_path(&ctx->store, name);
                printf("%s\n", name);
                printf("      State: %s%s\n", machine_info_state(&m),
                       m.running && m.rt.ephemeral ? " (ephemeral)" : "");
                printf("     Source: %s\n", m.source ?: "-");
                printf("    Created: %s\n", created);
                print_image(ctx, name);
                printf("       Path: %s\n", path);
                MachineConfig cfg;
                _cleanup_free_ char *err = NULL;
                uid_t base;
                if (store_load_config(&ctx->store, name, NULL, &cfg, &err) >= 0) {
                        if (!cfg.private_users)
                                printf("      Users: host root (PrivateUsers=no: not a security boundary)\n");
                        else if (store_machine_uid_base(&ctx->store, name, &base) >= 0)
                                printf("      Users: private, root is host UID %u (range %u-%u)\n", (unsigned) base,
                                       (unsigned) base, (unsigned) (base + USERNS_RANGE_SIZE - 1));
                        else
                                printf("      Users: private (range allocated at first start)\n");
                        if (streq(m.network_mode, "cni"))
                                printf("    Network: CNI network %s (%s)\n", m.network_name ?: "(CNINetwork= unset)",
                                       cfg.cni_config_dir ?: CNI_DEFAULT_CONFIG_DIR);
                        else
                                printf("    Network: %s%s%s\n", m.network_mode, m.network_name ? " " : "",
                                       m.network_name ?: "");
                        if (!cfg.boot && cfg.command) {
                                _cleanup_free_ char *cmd = config_words_format(cfg.command);
                                printf("        Run: %s (Boot=no: under berth's minimal init)\n", cmd);
                        }
                        machine_config_done(&cfg);
                        print_devices(ctx, &m);
                } else
                        printf("     Config: invalid: %s\n", err ?: "?");
                print_files(&m.files);
                print_more(&m);
                if (m.running) {
                        format_time(m.rt.started_usec, since);
                        format_bytes(m.memory, mem);
                        printf("      Since: %s (boot %u)\n", since, m.rt.boots);
                        printf("     Leader: %d\n", (int) m.rt.init_pid);
                        printf("     Booted: %s%s\n", m.rt.booted ? "yes" : "not yet",
                               m.rt.ephemeral ? " (ephemeral: changes vanish when it stops)" : "");
                        if (!isempty(m.rt.unit) && !isempty(m.unit.active_state)) {
                                char entered[32];
                                format_time(m.unit.active_enter_usec, entered);
                                printf("       Unit: %s (%s (%s) since %s)\n", m.rt.unit, m.unit.active_state,
                                       m.unit.sub_state, entered);
                        } else if (!isempty(m.rt.unit))
                                printf("       Unit: %s (unknown to systemd)\n", m.rt.unit);
                        /* A user's machine has none of its own (README "Without root"). */
                        if (isempty(m.rt.cgroup))
                                printf("     CGroup: none (its supervisor's, no limits)\n");
                        else
                                printf("     CGroup: /%s\n", m.rt.cgroup);
                        if (!isempty(m.rt.addresses))
                                printf("    Address: %s\n", m.rt.addresses);
                        printf(" Supervisor: %d\n", (int) m.rt.supervisor_pid);
                        print_usage(&m);
                        printf("    Signals: poweroff %s%s, reboot %s%s\n",
                               m.rt.poweroff_initctl ? "runlevel 0 on /run/initctl, else " : "",
                               signal_to_string(m.rt.poweroff_signal, sig1),
                               m.rt.reboot_initctl ? "runlevel 6 on /run/initctl, else " : "",
                               signal_to_string(m.rt.reboot_signal, sig2));
                }
        }
        bool running = m.running;
        machine_info_done(&m);
        /* Like systemctl status: 3 says "not running" to a script; JSON
         * says it in the output, which is what was asked for. */
        return running || ctx->json ? 0 : ERR_NOT_RUNNING;
}
