/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Unit mode: on a host whose PID 1 is systemd, a running machine is the
 * transient service berth-NAME.service in machine.slice (where machined and
 * systemd-nspawn put machines too, so `systemctl status machine.slice` and
 * systemd-cgtop show them together), started and stopped over D-Bus. */

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "cgroup.h"
#include "config.h"

#define UNIT_SLICE "machine.slice"

typedef enum RunMode {
        RUN_MODE_DIRECT,
        RUN_MODE_UNIT,
} RunMode;

/* Unit mode when systemd is PID 1 and its bus answers; BERTH_MODE=direct or
 * =unit forces one (=unit fails without systemd).  In unit mode *ret_bus is
 * a system bus connection; for a user other than root, the user bus of
 * their own systemd (systemd --user), whose units get the delegated cgroups
 * that make a user's limits work. */
int run_mode_detect(RunMode *ret_mode, sd_bus **ret_bus);

/* "berth-CGNAME.service" ('@' of a qualified name becomes '.'). */
char *unit_name_for(const char *cgname);

/* Start UNIT running ARGV (the supervisor) with the machine's resource
 * limits and device policy as properties, and wait for the job.  On
 * failure *ret_result is systemd's job result ("failed", "timeout", ...). */
int unit_start_machine(sd_bus *bus, const char *unit, const char *description, char *const *argv,
                       const MachineConfig *cfg, char **ret_result);

/* Start UNIT, a transient Type=forking service in machine.slice running ARGV,
 * a daemon that writes PID_FILE (berth's dnsmasq in unit mode: its own unit,
 * so it outlives whichever machine's supervisor started it), and wait for
 * the job.  Returns 0 or -errno (logged). */
int unit_start_daemon(sd_bus *bus, const char *unit, const char *description, const char *pid_file,
                      char *const *argv);

/* berth-oci's systemd cgroup manager: start UNIT, a transient scope in
 * SLICE holding PID, delegated to us (Delegate=yes), with LIMITS as its
 * properties, collected once empty (CollectMode=inactive-or-failed); wait
 * for the job.  *RET_GROUP gets its cgroup (no leading '/').  Logs errors. */
int unit_start_scope(sd_bus *bus, const char *unit, const char *slice, const char *description, pid_t pid,
                     const CgroupLimits *limits, char **ret_group);

/* Stop UNIT and wait up to TIMEOUT_SEC for the job; then SIGKILL it all. */
int unit_stop(sd_bus *bus, const char *unit, unsigned timeout_sec);

/* Send SIG to WHO ("main", "all") of UNIT. */
int unit_kill(sd_bus *bus, const char *unit, const char *who, int sig);

/* Move PID into SUBCGROUP ("/payload", say; "" for the unit's own) of
 * UNIT, which must run with Delegate=yes: systemd's AttachProcessesToUnit.
 * A user's systemd may not write the common ancestor of the caller's cgroup
 * and its own (user-UID.slice is root's) and then asks the system manager,
 * which moves a process of the same UID into the user's delegated
 * subtree.  Logs errors. */
int unit_attach_pid(sd_bus *bus, const char *unit, const char *subcgroup, pid_t pid);

/* Forget a failed UNIT, so that a new start is not refused. */
void unit_reset_failed(sd_bus *bus, const char *unit);

/* Enable or disable berth@NAME.service (its [Install] section: machines.target). */
int unit_enable(sd_bus *bus, const char *name, bool enable);
/* Whether berth@NAME.service is enabled: 1, 0 (also when the template is
 * not installed), or -errno. */
int unit_is_enabled(sd_bus *bus, const char *name);

/* Set the limits in CFG ([Resources]: MemoryMax=, MemoryHigh=, TasksMax=,
 * CPUWeight=, CPUQuota=, IOWeight=) on a running UNIT; unset ones go back
 * to systemd's defaults. */
int unit_set_limits(sd_bus *bus, const char *unit, const MachineConfig *cfg);
/* The same for LIMITS (berth-oci update of a container in a scope). */
int unit_set_cgroup_limits(sd_bus *bus, const char *unit, const CgroupLimits *limits);

/* What systemd says of a machine's unit, for list and status. */
typedef struct UnitStatus {
        char active_state[32]; /* "active", "deactivating", ...; "" if systemd does not know the unit */
        char sub_state[32];    /* "running", ... */
        uint64_t active_enter_usec; /* CLOCK_REALTIME, 0 if unknown */
        uint64_t memory_current;    /* bytes; UINT64_MAX where systemd has no figure */
        uint64_t tasks_current;
        uint64_t cpu_usage_nsec;
} UnitStatus;

#define UNIT_STATUS_UNKNOWN \
        { .memory_current = UINT64_MAX, .tasks_current = UINT64_MAX, .cpu_usage_nsec = UINT64_MAX }

/* Read UNIT's state and accounting from systemd (two GetAll calls); a unit
 * systemd does not know leaves *RET UNIT_STATUS_UNKNOWN. */
int unit_get_status(sd_bus *bus, const char *unit, UnitStatus *ret);
