/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Direct-mode cgroups.  A machine owns "berth/CGNAME" in every mounted
 * hierarchy (cgroup v2, and each v1 hierarchy on hybrid hosts except cpuset,
 * which needs per-cgroup setup and gives a machine nothing).  Limits sit on
 * berth/CGNAME; the guest lives in berth/CGNAME/payload, which becomes the
 * root of its cgroup namespace, so the guest can never raise its own limits.
 * CGNAME is the machine's name, qualified for state roots other than the
 * default (store_cgroup_name()), so that two roots never share a cgroup.
 * Supervisors live in berth/.supervisor: no machine name starts with '.'. */

#define CGROUP_TOP "berth"
#define CGROUP_SUPERVISORS ".supervisor"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "devices.h"

/* The [Resources] of MachineConfig, with its units and its UINT64_MAX for
 * "none" or "unset".  memory_high has no cgroup v1 equivalent (as in
 * systemd); io_weight needs an I/O scheduler with cgroup weights (BFQ on
 * v1).  Where a host lacks them they are skipped with a debug message. */
typedef struct CgroupLimits {
        uint64_t memory_max;
        uint64_t tasks_max;
        uint64_t memory_high;
        uint64_t cpu_weight;
        uint64_t cpu_quota_per_sec_usec;
        uint64_t io_weight;
} CgroupLimits;

CgroupLimits cgroup_limits_from_config(const MachineConfig *c);

/* Where a machine's cgroup is: GROUP relative to each hierarchy's root
 * (no leading '/').  Direct mode: "berth/CGNAME", ours entirely.  Unit mode
 * (DELEGATED): the unit's own cgroup, which systemd delegated to us in the
 * unified hierarchy and, on a hybrid host, in the v1 hierarchies of the
 * controllers systemd manages for it (same path); we own only its children
 * "supervisor" and "payload". */
/* The cgroup hierarchies of the mount table, read once for many machines
 * (berth list): each reading parses the whole mount table. */
typedef struct CgroupHierarchies CgroupHierarchies;
int cgroup_hierarchies_load(CgroupHierarchies **ret);
void cgroup_hierarchies_free(CgroupHierarchies *h);
static inline void cgroup_hierarchies_freep(CgroupHierarchies **h) {
        cgroup_hierarchies_free(*h);
}

typedef struct MachineCgroup {
        const char *group;
        bool delegated;
        /* Delegated by a unit without a device policy of its own (berth-oci's
         * scopes): the payload gets the whole device list. */
        bool payload_devices;
        /* Optional: the figures below (memory, tasks, CPU, limits) use these
         * instead of reading the mount table each time. */
        const CgroupHierarchies *hierarchies;
} MachineCgroup;

/* Create GROUP/payload everywhere (and GROUP itself with LIMITS in direct
 * mode).  On failure nothing is left behind. */
int cgroup_machine_create(const MachineCgroup *m, const CgroupLimits *limits, const DeviceList *devices);

/* A fresh GROUP/payload for the next boot of a rebooting machine; the group
 * itself, with the limits "berth set" may have changed, stays. */
int cgroup_machine_renew_payload(const MachineCgroup *m);

/* Change the limits of a running machine (direct mode; a delegated group's
 * limits are the unit's properties: -EOPNOTSUPP).  Unlike at creation, an
 * unset limit is written as the kernel's default, so that "berth set
 * CPUWeight=default" undoes an earlier weight. */
int cgroup_machine_set_limits(const MachineCgroup *m, const CgroupLimits *limits);

/* Move the calling supervisor out of the way: direct mode, into
 * berth/.supervisor, out of the cgroup of whoever started it (a login
 * session, a CI job's scope), whose end must not kill the machine; unit
 * mode, into GROUP/supervisor, so the delegated group holds no process. */
int cgroup_supervisor_enter(const MachineCgroup *m);

/* Move PID into GROUP/payload in every hierarchy. */
int cgroup_machine_attach(const MachineCgroup *m, pid_t pid);

/* Give the guest's root user (host UID/GID) the payload cgroup, so a guest
 * init in a user namespace can manage its own subtree. */
int cgroup_machine_chown(const MachineCgroup *m, uid_t uid, gid_t gid);

/* Kill every process left in the machine's cgroups and remove them (GROUP
 * itself in direct mode, GROUP/payload when delegated).  Missing is fine. */
int cgroup_machine_destroy(const MachineCgroup *m);

/* The processes in the machine's payload cgroup and below (malloc'ed
 * array), from the first hierarchy that has it; -ENOENT if none has. */
int cgroup_machine_pids(const MachineCgroup *m, pid_t **ret, size_t *ret_n);

/* Freeze (FREEZE) or thaw every process of the machine, and wait until the
 * kernel says it is done: cgroup v2's cgroup.freeze where the group has one
 * (every v2 hierarchy has it, with or without controllers), else the v1
 * freezer.  -EOPNOTSUPP when the host has neither. */
int cgroup_machine_freeze(const MachineCgroup *m, bool freeze);

/* 1 if the machine is frozen (or being frozen), 0 if not, -errno. */
int cgroup_machine_is_frozen(const MachineCgroup *m);

/* Move PID into the cgroups TARGET is in (every hierarchy we manage). */
int cgroup_attach_like(pid_t target, pid_t pid);

/* A statistic of the machine: memory in use (bytes) and tasks.
 * -ENODATA when no hierarchy reports it. */
int cgroup_machine_memory_current(const MachineCgroup *m, uint64_t *ret);
int cgroup_machine_tasks_current(const MachineCgroup *m, uint64_t *ret);
/* The limits in force (which berth set --runtime may have changed since the
 * start): UINT64_MAX for none.  0, or -ENODATA where no hierarchy has them. */
int cgroup_machine_memory_max(const MachineCgroup *m, uint64_t *ret);
int cgroup_machine_tasks_max(const MachineCgroup *m, uint64_t *ret);
/* 1 if CONTROLLER ("memory", "pids" or "cpu") governs the machine's cgroup
 * in some hierarchy, so that its limits are enforced; 0 if none has it. */
int cgroup_machine_has_controller(const MachineCgroup *m, const char *controller);
/* CPU time the machine used, in nanoseconds (cgroup v2 cpu.stat or v1
 * cpuacct.usage).  0, or -ENODATA. */
int cgroup_machine_cpu_usage_nsec(const MachineCgroup *m, uint64_t *ret);

/* The cgroup of PID (0: ourselves) in the unified hierarchy, as our cgroup
 * namespace shows it, without the leading '/'. */
int cgroup_unified_of(pid_t pid, char **ret);
/* Whether we may make cgroups in our own cgroup of the unified hierarchy
 * and move processes into them, as a guest's systemd does in the cgroup
 * namespace rooted there: 1 or 0, and that cgroup's directory in
 * *RET_DIR (optional); -ENOENT without a mounted unified hierarchy. */
int cgroup_own_is_writable(char **ret_dir);
/* Where PID is below GROUP in the unified hierarchy: "" for GROUP itself,
 * else "/payload" and the like; -EXDEV if it is not inside GROUP. */
int cgroup_subgroup_of(pid_t pid, const char *group, char **ret);

/* True if the host is cgroup v2 only (no v1 hierarchy mounted). */
int cgroup_is_unified_only(void);
