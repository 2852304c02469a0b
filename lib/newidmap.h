/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Without root a process cannot write a user namespace's uid_map beyond its
 * own UID: the setuid newuidmap and newgidmap (package uidmap) do it, within
 * the ranges /etc/subuid and /etc/subgid grant the caller.  Machine ranges
 * of a user (userns.h) are carved out of those. */

#include <stdbool.h>
#include <sys/types.h>

/* Map IDs 0..65535 of PID's user namespace to BASE..BASE+65535 on the host
 * (both UIDs and GIDs); with MAP_SELF also ID 65536 to the caller's own UID
 * and GID, so that a helper in the namespace can reach the caller's own
 * directories (the machine dir around a rootfs).  PID must be a child of
 * the caller that waits until this returns.  Logs its errors. */
int newidmap_map(pid_t pid, uid_t base, bool map_self);

/* The caller's own UID and GID as MAP_SELF numbers them inside: the ID
 * right after the machine's range (idmap.h's USERNS_RANGE_SIZE). */
#define NEWIDMAP_SELF_ID 0x10000U

/* Where userns_call_pair() puts its second range inside. */
#define NEWIDMAP_SECOND_ID 0x20000U

/* Run ARGV (as spawn_sandboxed() does, spawn.h) as root of a new user
 * namespace mapped as newidmap_map(BASE, MAP_SELF=true) sets it, with
 * its own PID and mount namespaces.  OWN_DIR, if not NULL, is made the
 * namespace root's first (so host UID BASE owns it): how a rootfs gets the
 * machine's IDs without a host root step.  Returns the exit status (>= 0)
 * or -errno (logged). */
int spawn_in_userns(char *const argv[], uid_t base, const char *own_dir);

/* Call FN(USERDATA) on the machine whose dir is MACHINE_DIR_FD as the
 * machine's root: directly for root; for anyone else in a forked child that
 * is root of a user namespace mapped to the machine's range (its idmap), so
 * host-side changes to a rootfs the machine's IDs own need no host root.
 * FN returns 0 or -errno (and logs); so does this. */
int userns_call(int machine_dir_fd, int (*fn)(void *userdata), void *userdata);

/* Call FN(USERDATA), for a user, as root of a namespace mapped to BASE's
 * range as userns_call() maps a machine's (the image store's range,
 * userns.h).  Returns as userns_call() does. */
int userns_call_range(uid_t base, int (*fn)(void *userdata), void *userdata);

/* Call FN(USERDATA), for a user, as root of a namespace where BASE's range
 * is 0..65535, the caller NEWIDMAP_SELF_ID and SECOND's range starts at
 * NEWIDMAP_SECOND_ID: how a tree moves from one machine's range to
 * another's (clone) without host root.  Returns as userns_call() does. */
int userns_call_pair(uid_t base, uid_t second, int (*fn)(void *userdata), void *userdata);
