/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Registration with systemd-machined, so that machinectl, systemctl -M,
 * systemd-run -M and journalctl -M know a machine: berth-machined's
 * machines (unit mode) and berth-oci's machine-profile containers.  The
 * leader is the machine's init; machined finds the unit from its cgroup,
 * so the leader must be inside a unit (a service or a scope). */

#include <stdbool.h>
#include <sys/types.h>

/* Register (LEADER, ROOT_DIRECTORY) with machined as NAME, of class
 * "container", for SERVICE (e.g. "berth"), with the host-side interfaces
 * IFINDICES.  When a live machine holds NAME, ALT_NAME is tried instead
 * (NULL: none).  What a machine that is gone left under either name is
 * dropped first, and so, with SAME_ROOT_IS_SAME_MACHINE (berth's machines:
 * one root directory is one machine), is what a crashed supervisor of this
 * machine left (same root directory).  Two OCI containers may share a root,
 * so berth-oci passes false.  No logging above debug: the caller says what it means.
 *   -ENOTCONN  no system bus (a host without systemd): nothing to do;
 *   -EEXIST    live machines of other roots hold NAME (and ALT_NAME);
 *   else       machined refused; *RET_ERROR (if not NULL) gets its message.
 * On success *RET_REGISTERED gets the name used, for machine_unregister(). */
int machine_register(const char *name, const char *alt_name, const char *service, pid_t leader,
                     const char *root_directory, bool same_root_is_same_machine, const int *ifindices,
                     size_t n_ifindices, char **ret_registered, char **ret_error);

/* Drop the registration NAME; missing is fine. */
void machine_unregister(const char *name);
