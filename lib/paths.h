/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The default places of a caller's state: the one function that knows
 * them.  Root's machines live in BERTH_STATE_DIR (/var/lib/berth), their
 * runtime state in BERTH_RUNTIME_DIR (/run/berth), the global config in
 * BERTH_CONFIG_PATH.  Any other user's machines live in their own
 * directories, so root's are never visible to them and nothing of the
 * system's is touched by their commands:
 *
 *   $XDG_DATA_HOME/berth           (default ~/.local/share/berth)
 *   $XDG_RUNTIME_DIR/berth         (required: set, owned by the user, 0700)
 *   $XDG_CONFIG_HOME/berth/berth.conf (default ~/.config/berth/berth.conf)
 *
 * and their registry of UID ranges (uid-registry.h) is
 * $XDG_DATA_HOME/berth/uid-ranges, shared by all their state roots. */

#include <stdbool.h>
#include <sys/types.h>

typedef struct StatePaths {
        char *state;
        char *run;
        char *config;
        char *uid_registry;
} StatePaths;

void state_paths_done(StatePaths *p);

/* The defaults of the calling user (geteuid()).  For a non-root caller an
 * unusable XDG_RUNTIME_DIR or HOME is an error, logged with what to do. */
int state_paths_default(StatePaths *ret);

/* Whether PATH (absolute) is the system's state, runtime or config
 * directory or below one. */
bool path_is_system_state(const char *path);

/* A user's state and runtime roots must be theirs: 0 if the directory
 * FD is owned by UID (always for root), else -EPERM (logged, naming
 * PATH). */
int state_dir_check_owner(int fd, const char *path, uid_t uid);
