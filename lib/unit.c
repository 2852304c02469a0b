/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "cgroup.h"
#include "devices.h"
#include "log.h"
#include "runtime.h"
#include "unit.h"
#include "util.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"

/* A user's unit mode: their own manager (systemd --user), reached on the
 * user bus, runs each machine as a transient unit with Delegate=yes, so the
 * machine gets a cgroup the user may write and its limits apply.  Only
 * when that manager runs (its private socket exists: the user bus alone
 * may be a plain dbus-daemon); otherwise direct mode, without limits. */
static int run_mode_detect_user(const char *e, RunMode *ret_mode, sd_bus **ret_bus) {
        bool forced = e && streq(e, "unit");
        if (e && streq(e, "direct")) {
                *ret_mode = RUN_MODE_DIRECT;
                return 0;
        }
        if (e && !forced && !streq(e, "auto") && !isempty(e))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "BERTH_MODE=%s: expected direct, unit or auto.", e);
        const char *rt = secure_getenv("XDG_RUNTIME_DIR");
        _cleanup_free_ char *private = rt && rt[0] == '/' ? xasprintf("%s/systemd/private", rt) : NULL;
        if (!private || access(private, F_OK) < 0) {
                if (forced)
                        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                               "BERTH_MODE=unit, but your systemd (systemd --user) does not run: "
                                               "no %s. Log in with a session, or 'loginctl enable-linger', or "
                                               "unset BERTH_MODE.",
                                               private ?: "$XDG_RUNTIME_DIR");
                *ret_mode = RUN_MODE_DIRECT;
                return 0;
        }
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_user(&bus);
        if (r < 0) {
                if (forced)
                        return log_error_errno(r, "BERTH_MODE=unit, but your user bus is not reachable "
                                                  "($XDG_RUNTIME_DIR/bus, package dbus-user-session): %m");
                log_debug_errno(r, "systemd --user runs but the user bus does not answer, using direct mode: %m");
                *ret_mode = RUN_MODE_DIRECT;
                return 0;
        }
        *ret_mode = RUN_MODE_UNIT;
        *ret_bus = TAKE_PTR(bus);
        return 0;
}

int run_mode_detect(RunMode *ret_mode, sd_bus **ret_bus) {
        const char *e = secure_getenv("BERTH_MODE");
        if (geteuid() != 0)
                return run_mode_detect_user(e, ret_mode, ret_bus);
        if (e && streq(e, "direct")) {
                *ret_mode = RUN_MODE_DIRECT;
                return 0;
        }
        bool forced = e && streq(e, "unit");
        if (e && !forced && !streq(e, "auto") && !isempty(e))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "BERTH_MODE=%s: expected direct, unit or auto.", e);

        if (sd_booted() <= 0) {
                if (forced)
                        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                               "BERTH_MODE=unit, but systemd is not this host's init.");
                *ret_mode = RUN_MODE_DIRECT;
                return 0;
        }
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);
        if (r < 0) {
                if (forced)
                        return log_error_errno(r, "BERTH_MODE=unit, but the system bus is not reachable: %m");
                log_debug_errno(r, "systemd runs but its bus does not answer, using direct mode: %m");
                *ret_mode = RUN_MODE_DIRECT;
                return 0;
        }
        *ret_mode = RUN_MODE_UNIT;
        *ret_bus = TAKE_PTR(bus);
        return 0;
}

char *unit_name_for(const char *cgname) {
        char *u = xasprintf("berth-%s.service", cgname);
        for (char *p = u; *p; p++)
                if (*p == '@')
                        *p = '.';
        return u;
}

typedef struct JobWait {
        const char *path;
        char *result;
} JobWait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        JobWait *w = userdata;
        uint32_t id;
        const char *path, *unit, *result;
        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (w->path && streq(path, w->path) && !w->result)
                w->result = xstrdup(result);
        return 0;
}

/* Wait for the job W->path; 0 with W->result set, or -ETIMEDOUT. */
static int wait_job(sd_bus *bus, JobWait *w, uint64_t timeout_usec) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + timeout_usec;
        while (!w->result) {
                int r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= end)
                        return -ETIMEDOUT;
                r = sd_bus_wait(bus, end - now);
                if (r < 0 && r != -EINTR)
                        return r;
        }
        return 0;
}

/* Subscribe to job signals before acting, so none is missed. */
static int job_watch(sd_bus *bus, JobWait *w, sd_bus_slot **ret_slot) {
        int r = sd_bus_match_signal(bus, ret_slot, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed, w);
        if (r < 0)
                return r;
        return sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", NULL, NULL, NULL);
}

/* The [Resources] of CFG as unit properties, all "t" in systemd's units
 * (systemd converts CPUQuota=N% into CPUQuotaPerSecUSec=N*10000 itself).
 * MemoryMax= and TasksMax= always (TasksMax= left out would be systemd's
 * DefaultTasksMax=, not ours); the others only when set, so that a machine
 * without them gets systemd's defaults, or with RESET, as UINT64_MAX, which
 * systemd takes as "back to the default" (berth set CPUWeight=default).
 *
 * In the order of the drop-ins SetUnitProperties writes for them
 * (50-CPUQuota.conf ... 50-TasksMax.conf): systemd (252) lists a unit's
 * drop-ins in the order it wrote them but finds them on disk sorted, and
 * any difference reads as NeedDaemonReload=yes, with systemctl warning that
 * the unit changed on disk.  Always all of them, always sorted, keeps the
 * two lists equal. */
static int append_limits(sd_bus_message *m, const CgroupLimits *cfg, bool reset) {
        const struct {
                const char *name;
                uint64_t value;
                bool always;
        } props[] = {
                { "CPUQuotaPerSecUSec", cfg->cpu_quota_per_sec_usec, false }, /* 50-CPUQuota.conf */
                { "CPUWeight", cfg->cpu_weight, false },
                { "IOWeight", cfg->io_weight, false },
                { "MemoryHigh", cfg->memory_high, false },
                { "MemoryMax", cfg->memory_max, true },
                { "TasksMax", cfg->tasks_max, true },
        };
        for (size_t i = 0; i < ELEMENTSOF(props); i++) {
                if (!props[i].always && !reset && props[i].value == UINT64_MAX)
                        continue;
                int r = sd_bus_message_append(m, "(sv)", props[i].name, "t", props[i].value);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Send StartTransientUnit M for UNIT and wait up to TIMEOUT_SEC for its job
 * (W watches it).  A job that ends other than "done" gives -EIO with
 * *ret_result set to systemd's result ("failed", "timeout", ...). */
static int call_and_wait(sd_bus *bus, sd_bus_message *m, JobWait *w, const char *unit, unsigned timeout_sec,
                         char **ret_result) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                return log_error_errno(r, "Failed to start %s: %s", unit, error.message ?: strerror(-r));
        const char *job;
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0)
                return log_error_errno(r, "Bad reply from systemd: %m");
        w->path = job;
        r = wait_job(bus, w, (uint64_t) timeout_sec * 1000000);
        if (r < 0) {
                free(w->result);
                return log_error_errno(r, "Failed waiting for %s to start: %m", unit);
        }
        if (!streq_ptr(w->result, "done")) {
                *ret_result = w->result;
                return -EIO;
        }
        free(w->result);
        return 0;
}

/* ExecStart= a(sasb): path, argv, ignore failure */
static int append_exec_start(sd_bus_message *m, char *const *argv) {
        int r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "ExecStart");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sasb");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", argv[0]);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, (char **) argv);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", 0);
        for (int k = 0; r >= 0 && k < 4; k++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* DeviceAllow= a(ss): the built-in nodes and CFG's. */
static int append_device_allow(sd_bus_message *m, const MachineConfig *cfg) {
        int r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "DeviceAllow");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a(ss)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(ss)");
        size_t n_rules;
        const DeviceRule *rules = device_rules(&n_rules);
        for (size_t i = 0; r >= 0 && i < n_rules; i++)
                r = sd_bus_message_append(m, "(ss)", rules[i].unit, "rwm");
        /* The configured ones as the user named them: systemd resolves a
         * class itself.  The supervisor refuses a node that is not what
         * its name stands for before the guest sees /dev.  A node gets "m"
         * here, for the supervisor's copy of it (mount-lock.c); its own
         * program on the payload takes "m" from the machine again
         * (cgroup.c). */
        for (size_t i = 0; r >= 0 && i < cfg->n_devices; i++) {
                char acc[4];
                unsigned access = cfg->devices[i].access;
                /* systemd keeps the last entry of a path: the built-in one's
                 * full access must stay. */
                if (device_is_builtin_node(cfg->devices[i].name))
                        continue;
                if (startswith(cfg->devices[i].name, "/dev/"))
                        access |= DEVICE_ACCESS_MKNOD;
                r = sd_bus_message_append(m, "(ss)", cfg->devices[i].name, device_access_format(access, acc));
        }
        for (int k = 0; r >= 0 && k < 3; k++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* StartTransientUnit of UNIT ("fail" mode), its property array opened. */
static int transient_unit_begin(sd_bus *bus, const char *unit, sd_bus_message **ret) {
        int r = sd_bus_message_new_method_call(bus, ret, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(*ret, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(*ret, 'a', "(sv)");
        return r;
}

/* The property array closed, and no auxiliary units. */
static int transient_unit_end(sd_bus_message *m) {
        int r = sd_bus_message_close_container(m);
        return r < 0 ? r : sd_bus_message_append(m, "a(sa(sv))", 0);
}

int unit_start_machine(sd_bus *bus, const char *unit, const char *description, char *const *argv,
                       const MachineConfig *cfg, char **ret_result) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        JobWait w = {};
        int r = job_watch(bus, &w, &slot);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd's job signals: %m");

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        r = transient_unit_begin(bus, unit, &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)(sv)(sv)", "Description", "s", description,
                                          "Slice", "s", UNIT_SLICE, "Delegate", "b", 1, "Type", "s", "notify",
                                          "NotifyAccess", "s", "main", "KillMode", "s", "mixed", "CollectMode",
                                          "s", "inactive-or-failed");
        /* A user's manager cannot install device programs (they need
         * CAP_SYS_ADMIN); a user's machine gets no devices beyond the
         * built-in ones anyway (machined refuses --device without root). */
        bool devices = geteuid() == 0;
        if (r >= 0 && devices)
                r = sd_bus_message_append(m, "(sv)", "DevicePolicy", "s", "closed");
        CgroupLimits limits = cgroup_limits_from_config(cfg);
        if (r >= 0)
                r = append_limits(m, &limits, false);
        if (r >= 0 && devices)
                r = append_device_allow(m, cfg);
        if (r >= 0)
                r = append_exec_start(m, argv);
        if (r >= 0)
                r = transient_unit_end(m);
        if (r < 0)
                return log_error_errno(r, "Failed to build the StartTransientUnit call: %m");

        /* The job ends when the supervisor says READY=1 (the guest has booted)
         * or fails; systemd's own start timeout bounds it. */
        return call_and_wait(bus, m, &w, unit, 600, ret_result);
}

int unit_start_scope(sd_bus *bus, const char *unit, const char *slice, const char *description, pid_t pid,
                     const CgroupLimits *limits, char **ret_group) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        JobWait w = {};
        int r = job_watch(bus, &w, &slot);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd's job signals: %m");
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        r = transient_unit_begin(bus, unit, &m);
        /* No DevicePolicy=: the device list is the payload's (cgroup.c), as
         * systemd's names cannot say an OCI spec's major:minor rules. */
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)", "Description", "s", description, "Slice", "s",
                                          slice, "Delegate", "b", 1, "CollectMode", "s", "inactive-or-failed",
                                          "PIDs", "au", 1, (uint32_t) pid);
        if (r >= 0)
                r = append_limits(m, limits, false);
        if (r >= 0)
                r = transient_unit_end(m);
        if (r < 0)
                return log_error_errno(r, "Failed to build the StartTransientUnit call: %m");
        _cleanup_free_ char *result = NULL;
        r = call_and_wait(bus, m, &w, unit, 30, &result);
        if (r == -EIO)
                return log_error_errno(r, "Failed to start %s: job %s.", unit, result);
        if (r < 0)
                return r;

        /* Where systemd put it: the slice's own path (a nested "a-b.slice" is
         * "a.slice/a-b.slice"), not ours to guess. */
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &error, &reply, "s", unit);
        const char *path = NULL, *cg = NULL;
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        _cleanup_free_ char *opath = r >= 0 ? xstrdup(path) : NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *v = NULL;
        if (r >= 0)
                r = sd_bus_call_method(bus, SD_DEST, opath, "org.freedesktop.DBus.Properties", "Get", &error, &v, "ss",
                                       "org.freedesktop.systemd1.Scope", "ControlGroup");
        if (r >= 0)
                r = sd_bus_message_read(v, "v", "s", &cg);
        if (r >= 0 && (isempty(cg) || streq(cg, "/")))
                r = -ENODATA;
        if (r < 0) {
                log_error_errno(r, "Cannot read the cgroup of %s: %s", unit, error.message ?: strerror(-r));
                (void) unit_stop(bus, unit, 10);
                return r;
        }
        *ret_group = xstrdup(cg + strspn(cg, "/"));
        return 0;
}

int unit_stop(sd_bus *bus, const char *unit, unsigned timeout_sec) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        JobWait w = {};
        int r = job_watch(bus, &w, &slot);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd's job signals: %m");
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit", &error, &reply, "ss", unit, "replace");
        if (r < 0) {
                if (sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit"))
                        return 0;
                return log_error_errno(r, "Failed to stop %s: %s", unit, error.message ?: strerror(-r));
        }
        const char *job;
        if (sd_bus_message_read(reply, "o", &job) < 0)
                return -EBADMSG;
        w.path = job;
        r = wait_job(bus, &w, (uint64_t) timeout_sec * 1000000);
        if (r == -ETIMEDOUT) {
                log_warning("%s did not stop within %us, killing it.", unit, timeout_sec);
                (void) unit_kill(bus, unit, "all", SIGKILL);
                r = wait_job(bus, &w, UINT64_C(30) * 1000000);
        }
        free(w.result);
        return r < 0 ? log_error_errno(r, "Failed waiting for %s to stop: %m", unit) : 0;
}

int unit_kill(sd_bus *bus, const char *unit, const char *who, int sig) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "KillUnit", &error, NULL, "ssi", unit, who, sig);
        if (r < 0)
                return log_error_errno(r, "Failed to signal %s: %s", unit, error.message ?: strerror(-r));
        return 0;
}

int unit_attach_pid(sd_bus *bus, const char *unit, const char *subcgroup, pid_t pid) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "AttachProcessesToUnit", &error, NULL, "ssau",
                                   unit, subcgroup, 1, (uint32_t) pid);
        if (r < 0)
                return log_error_errno(r, "Failed to move process %d into the cgroup of %s (%s): %s", (int) pid, unit,
                                       isempty(subcgroup) ? "/" : subcgroup, error.message ?: strerror(-r));
        return 0;
}

void unit_reset_failed(sd_bus *bus, const char *unit) {
        (void) sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", NULL, NULL, "s", unit);
}

int unit_set_limits(sd_bus *bus, const char *unit, const MachineConfig *cfg) {
        CgroupLimits limits = cgroup_limits_from_config(cfg);
        return unit_set_cgroup_limits(bus, unit, &limits);
}

int unit_set_cgroup_limits(sd_bus *bus, const char *unit, const CgroupLimits *limits) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "SetUnitProperties");
        if (r >= 0)
                r = sd_bus_message_append(m, "sb", unit, 1 /* runtime */);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = append_limits(m, limits, true);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        r = sd_bus_call(bus, m, 0, &error, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to set the limits of %s: %s", unit, error.message ?: strerror(-r));
        return 0;
}

int unit_enable(sd_bus *bus, const char *name, bool enable) {
        _cleanup_free_ char *unit = xasprintf("berth@%s.service", name);
        char *files[] = { unit, NULL };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER,
                                               enable ? "EnableUnitFiles" : "DisableUnitFiles");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, files);
        if (r >= 0)
                r = enable ? sd_bus_message_append(m, "bb", 0 /* runtime */, 0 /* force */)
                           : sd_bus_message_append(m, "b", 0);
        if (r < 0)
                return r;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        r = sd_bus_call(bus, m, 0, &error, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to %s %s: %s", enable ? "enable" : "disable", unit,
                                       error.message ?: strerror(-r));
        /* Like systemctl enable: make systemd see the change now. */
        r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "Reload", &error, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to reload systemd: %s", error.message ?: strerror(-r));
        return 0;
}

int unit_is_enabled(sd_bus *bus, const char *name) {
        _cleanup_free_ char *unit = xasprintf("berth@%s.service", name);
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnitFileState", &error, &reply, "s",
                                   unit);
        if (r < 0)
                /* No such unit file: berth@.service is not installed, so nothing is enabled. */
                return sd_bus_error_has_name(&error, "org.freedesktop.DBus.Error.FileNotFound") ? 0 : r;
        const char *state;
        r = sd_bus_message_read(reply, "s", &state);
        if (r < 0)
                return r;
        return streq(state, "enabled") || streq(state, "enabled-runtime");
}

int unit_start_daemon(sd_bus *bus, const char *unit, const char *description, const char *pid_file,
                      char *const *argv) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        JobWait w = {};
        int r = job_watch(bus, &w, &slot);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd's job signals: %m");
        unit_reset_failed(bus, unit);

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        r = transient_unit_begin(bus, unit, &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)", "Description", "s", description, "Slice", "s",
                                          UNIT_SLICE, "Type", "s", "forking", "PIDFile", "s", pid_file,
                                          "CollectMode", "s", "inactive-or-failed");
        if (r >= 0)
                r = append_exec_start(m, argv);
        if (r >= 0)
                r = transient_unit_end(m);
        if (r < 0)
                return log_error_errno(r, "Failed to build the StartTransientUnit call: %m");

        _cleanup_free_ char *result = NULL;
        r = call_and_wait(bus, m, &w, unit, 90, &result);
        if (r < 0 && result)
                log_error("Job for %s ended '%s'. See 'journalctl -u %s'.", unit, result, unit);
        return r;
}

/* The properties of INTERFACE on object PATH that UnitStatus holds. */
static int read_unit_properties(sd_bus *bus, const char *path, const char *interface, UnitStatus *st) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, SD_DEST, path, "org.freedesktop.DBus.Properties", "GetAll", &error, &reply,
                                   "s", interface);
        if (r < 0)
                return log_debug_errno(r, "GetAll %s on %s: %s", interface, path, error.message ?: strerror(-r));
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key, *s;
                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        break;
                char *text = streq(key, "ActiveState") ? st->active_state
                             : streq(key, "SubState")  ? st->sub_state
                                                       : NULL;
                uint64_t *number = streq(key, "ActiveEnterTimestamp") ? &st->active_enter_usec
                                   : streq(key, "MemoryCurrent")      ? &st->memory_current
                                   : streq(key, "TasksCurrent")       ? &st->tasks_current
                                   : streq(key, "CPUUsageNSec")       ? &st->cpu_usage_nsec
                                                                      : NULL;
                if (text) {
                        r = sd_bus_message_read(reply, "v", "s", &s);
                        if (r >= 0)
                                snprintf(text, sizeof st->active_state, "%s", s);
                } else if (number)
                        r = sd_bus_message_read(reply, "v", "t", number);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        return r < 0 ? log_debug_errno(r, "Bad GetAll reply for %s: %m", path) : 0;
}

int unit_get_status(sd_bus *bus, const char *unit, UnitStatus *ret) {
        *ret = (UnitStatus) UNIT_STATUS_UNKNOWN;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &error, &reply, "s", unit);
        if (r < 0)
                /* Not loaded: gone (a crash systemd has collected). */
                return sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit") ? 0 : r;
        const char *path;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        r = read_unit_properties(bus, path, "org.freedesktop.systemd1.Unit", ret);
        if (r >= 0)
                r = read_unit_properties(bus, path, "org.freedesktop.systemd1.Service", ret);
        return r;
}
