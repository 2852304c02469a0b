/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Binds into a running machine (berth bind, berth unbind), as machinectl
 * bind does, idmapped like the binds of a start.  The bind's tree is made on
 * the host, from the host path (the admin's: its symlinks are trusted);
 * then a child joins the machine's mount namespace only, finds the target
 * inside the machine's root without following any symlink, and attaches the
 * tree to it.  Mounts below the machine's own namespaces (a service's
 * PrivateTmp=, say) do not see a live bind.  Both log their errors.
 *
 * For a user (README "Without root") both work on the user's own machines:
 * the source is checked and pinned as the user (bind_source_pin(),
 * mount-tree.h), the tree is cloned in a mount namespace of the machine's
 * user namespace, not idmapped, and B records the pin. */

#include <stdbool.h>
#include <sys/types.h>

#include "binds.h"

typedef struct LiveMachine {
        const char *name;
        int pidfd;          /* of its init, kept open by the caller */
        pid_t init_pid;
        bool private_users; /* it runs in a user namespace of its own */
        uid_t uid_base;     /* its root on the host, with PRIVATE_USERS */
} LiveMachine;

/* Mount B into M.  Without MKDIR the destination must exist (a directory
 * for a directory, a file for anything else); with it, missing directories
 * are made, owned by the machine's root. */
int live_bind(const LiveMachine *m, BindSpec *b, bool mkdir);

/* Unmount what is mounted on DESTINATION in M (lazily: a busy mount goes
 * when its last user does).  Refuses a path that is not a mount point and
 * the machine's API filesystems (bind_destination_check()). */
int live_unbind(const LiveMachine *m, const char *destination);
