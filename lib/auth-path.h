/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/* The files looked at when none is given, first existing wins:
 * $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
 * /run/containers/UID/auth.json (UID: the caller's),
 * $XDG_CONFIG_HOME/containers/auth.json (default $HOME/.config/...),
 * $HOME/.docker/config.json, and for root /root/.docker/config.json. */

/* The first of the files above that exists, for UID (whose
 * /run/containers/UID and whether /root/.docker counts): 0 with *RET_PATH
 * set, -ENOENT (quiet) when none does.  A user's pull resolves it in the
 * CLI, as the user: berth-pull runs as root of a user namespace, where
 * geteuid() is 0. */
int auth_file_default(uid_t uid, char **ret_path);
