/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Registration with systemd-machined (unit mode), so that machinectl,
 * systemctl -M, systemd-run -M and journalctl -M know the machine.  The
 * leader is the machine's init; machined finds the unit from its cgroup.
 * A reboot makes a new leader, so each boot registers anew. */

#include <sys/types.h>

/* Register NAME with LEADER and ROOT_DIRECTORY (best effort: a stale
 * registration of the same name is dropped first). */
int register_machine(const char *name, pid_t leader, const char *root_directory, const int *ifindices,
                     size_t n_ifindices);

/* Drop the registration; missing is fine. */
void unregister_machine(const char *name);
