/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Locked mounts for machines with a user namespace.
 *
 * The kernel locks a mount (its flags cannot be changed, it cannot be
 * unmounted to reveal what is below) only when it reaches a mount namespace
 * owned by a less privileged user namespace by copy or by propagation.
 * Mounts the machine's child makes in its own namespace are not locked, so
 * the guest's root could remount its root with "dev" or unmount the masks
 * over /proc.  So the finished tree makes a round trip: the supervisor
 * clones it recursively out of the machine's mount namespace and attaches
 * the clone below a shared "stage" mount in its own, host-owned namespace;
 * it propagates into the machine's namespace, where the stage is a slave,
 * locked as a whole, and the child pivots into that copy.
 *
 * The supervisor's side: a private mount namespace of its own (so nothing
 * it mounts is seen on the host, and all of it vanishes with it) holding a
 * small tmpfs at RUN_DIR/stage, shared, with an empty dir "root" where the
 * trees arrive.  The child, cloned afterwards, gets the stage as a slave. */

#include <sys/types.h>

#include "devices.h"

typedef struct MountStage {
        char *path; /* host path of the stage tmpfs; NULL: none */
} MountStage;

#define MOUNT_STAGE_INIT { .path = NULL }

/* Enter a private mount namespace and mount the stage at RUN_PATH/stage
 * (RUN_FD is RUN_PATH, the machine's runtime dir), with copies of the
 * host's device nodes for the machine whose root is host UID UID_BASE.
 * Logs its errors. */
int mount_stage_open(MountStage *stage, int run_fd, const char *run_path, uid_t uid_base, const DeviceList *devices);

/* The name of the stage's copy of /dev/NODE (devices.h), if it has one. */
char *mount_stage_devnode(const char *node);

/* Detach what arrived on the stage and the stage itself, remove its dir. */
void mount_stage_close(MountStage *stage);

/* The path the child opens (before it leaves the host's identity) and
 * pivots into once the tree has arrived below it: STAGE/root. */
char *mount_stage_root(const MountStage *stage);

/* Clone the tree TREE_FD (an fd the child passed, in the mount namespace of
 * PID) recursively and attach it on the stage, which propagates it into the
 * child's namespace, locked.  Logs its errors. */
int mount_stage_lock(const MountStage *stage, pid_t pid, int tree_fd);

/* Detach the supervisor's own copy of the last tree (the child has pivoted
 * into its locked copy, or failed). */
void mount_stage_release(const MountStage *stage);
