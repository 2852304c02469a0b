/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* [Machine] ScratchDirectory=DIR: an ephemeral boot keeps its overlay layers
 * on disk in DIR/ID, ID being the machine's cgroup name (store_cgroup_name()),
 * a directory owned by the machine's root.  Its supervisor removes it when
 * the machine stops; after a killed supervisor, the next start, "berth rm"
 * or "berth gc" does.  DIR must be root's and writable by nobody else, so
 * nobody can swap what berth makes or removes there. */

#include <stdbool.h>
#include <sys/types.h>

#include "store.h"

/* Open DIR (made first if CREATE) and check that it is root's alone: -EPERM
 * if not.  Returns the fd or -errno. */
int scratch_open_dir(const char *dir, bool create);

/* Remove the layers DIR/ID, if they are what berth made: a directory (never
 * a symlink) owned by root or by OWNER (the machine's root); -EPERM for
 * anything else.  Returns 1 if removed, 0 if there were none, or -errno. */
int scratch_remove_layers(const char *dir, const char *id, uid_t owner);

/* The same for machine NAME, which must not run (the caller holds its lock
 * and checked): its ScratchDirectory= from its configuration, its cgroup
 * name and UID range.  0 if it has none to remove. */
int scratch_remove_stale(Store *s, const char *name);
