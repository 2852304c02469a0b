/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Registration with systemd-machined (unit mode), so that machinectl,
 * systemctl -M, systemd-run -M and journalctl -M know the machine.  The
 * leader is the machine's init; machined finds the unit from its cgroup.
 * A reboot makes a new leader, so each boot registers anew. */

#include <sys/types.h>

/* Register the machine (LEADER, ROOT_DIRECTORY) as NAME, or as ALT_NAME
 * when a live machine of another root directory (a same-named machine of
 * another state root) holds NAME.  What a crashed supervisor of this machine
 * or a machine that is gone left under either name is dropped first.  Best
 * effort; *RET_REGISTERED gets the name used, for unregister_machine(). */
int register_machine(const char *name, const char *alt_name, pid_t leader, const char *root_directory,
                     const int *ifindices, size_t n_ifindices, char **ret_registered);

/* Drop the registration; missing is fine. */
void unregister_machine(const char *name);
