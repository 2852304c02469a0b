/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Entering a running machine from the host (berth exec, berth cp): its
 * namespaces through the pidfd of its init, its cgroups, and then what its
 * own processes are limited to.  The calls are made in a child forked for
 * the purpose, in this order:
 *
 *   exec: enter_fork() -> child: enter_protect(), enter_namespaces(),
 *         (the caller's own setup in the machine), enter_drop_privileges()
 *   cp:   fork()       -> child: enter_protect(), enter_mount_namespace(),
 *         enter_create_files_as() for a machine with its own user namespace;
 *         for a user, enter_user_mount_namespace() instead
 *
 * Every function logs its failure, naming MACHINE where it takes one, and
 * returns -errno.  same_namespace() is in fs.h. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A user's machine that runs as a unit of the user's systemd (systemd
 * --user): the unit, and where in its cgroup the machine's init is (""
 * or "/payload", say; cgroup_subgroup_of()). */
typedef struct EnterUnit {
        const char *unit;
        const char *subcgroup;
} EnterUnit;

/* Fork a child born in the PID namespace of PIDFD's process (being born
 * there is the only way in), and return to our own: whatever else the
 * caller forks stays on the host.  Returns the child's pid in the parent,
 * 0 in the child, -errno if there is no child.  Should we not get back to
 * our own PID namespace (cannot happen), the child is killed and reaped and
 * we _exit(FATAL_STATUS): nothing more may be forked from here.  For a
 * user, UNIT (NULL: a machine in direct mode) is the unit whose cgroup the
 * child joins, through the user's manager, before it enters the machine;
 * if it cannot, it says why and _exit()s with FATAL_STATUS.  (Root's child
 * joins the init's cgroups itself: enter_namespaces().) */
pid_t enter_fork(int pidfd, const char *machine, const EnterUnit *unit, int fatal_status);

/* First thing in the child: die with the parent; and once inside the
 * machine's namespaces, nothing in there may ptrace it or open its
 * /proc/self/exe (CVE-2019-5736 class). */
int enter_protect(void);

/* In a child enter_fork() made: join the cgroups of LEADER, a machine's
 * init (PIDFD, its pidfd, is closed), and its mount, UTS, IPC and cgroup
 * namespaces, and its user and network ones unless we share them; become
 * root in its user namespace.  *RET_BOUNDING is its capability bounding
 * set, read on the way in, for enter_drop_privileges(). */
int enter_namespaces(pid_t leader, int pidfd, uint64_t *ret_bounding);

/* Last before exec: take what the machine's own processes have (BOUNDING,
 * its system call filter) and the user UID, GID with GROUPS. */
int enter_drop_privileges(uint64_t bounding, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);

/* Join the mount namespace of PIDFD's process (closed) only: our root and
 * cwd become the machine's, and we stay root in the host's user namespace,
 * which writing on the host's side needs. */
int enter_mount_namespace(int pidfd, const char *machine);

/* A user's machine: join the user and mount namespaces of PIDFD's process
 * (closed) and become root there.  The machine's user namespace maps the
 * user's own UID and GID too (as 65536, newidmap.h), so the host's side of
 * a copy, the user's, stays writable; files made are the machine's root's. */
int enter_user_mount_namespace(int pidfd, const char *machine);

/* Inside a running machine's mount namespace the kernel refuses to create a
 * file for an fsuid the machine cannot map (EOVERFLOW, on the idmapped
 * rootfs and its own tmpfs mounts alike), and host root is such an fsuid.
 * So create files as the machine's root, BASE on the host, while staying
 * host root for everything else. */
int enter_create_files_as(uid_t base);
