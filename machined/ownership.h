/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The on-disk owners of a machine's rootfs.  Normally they are the guest's
 * own IDs (0 for its root) and an idmapped mount shifts them at start.
 * Where that is not possible or not wanted (PrivateUsersOwnership=chown),
 * the tree is chowned once into the machine's range.  The base the tree is
 * shifted to is recorded in "ownership" next to the rootfs (outside it, so
 * the guest cannot forge it): "CHOWN_BASE=N", absent meaning 0.  A later
 * start with another range, with an idmapped mount or with PrivateUsers=no
 * shifts the tree from the recorded base to what it needs. */

#include <sys/types.h>

/* Bring the owners of ROOTFS (a host path ending in the rootfs dir) to
 * TARGET: 0 for unshifted, or a UID base.  Serialized by a lock next to the
 * record; logs its errors. */
int ownership_ensure(const char *rootfs, uid_t target);
