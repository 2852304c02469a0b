/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Registry credentials from an auth file in the format podman and docker
 * write ({"auths": {"REGISTRY": {"auth": base64("user:password")}}}), for
 * berth-pull.  The values are secrets: never logged, wiped when freed. */

#define AUTH_FILE_MAX (1u << 20)

/* Credentials for REGISTRY (as in a reference: "host:port", "docker.io")
 * from PATH (NULL: the first default file for geteuid(), auth-path.h).  0 with both set, -ENOENT when
 * there are none (no file, no entry; quiet), other -errno (logged) for a
 * file that cannot be read or parsed, or a given PATH that does not exist. */
int auth_file_lookup(const char *path, const char *registry, char **ret_user, char **ret_password);
