/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <unistd.h>

#include "auth-path.h"
#include "util.h"

int auth_file_default(uid_t uid, char **ret_path) {
        const char *env = secure_getenv("REGISTRY_AUTH_FILE");
        const char *xdg = secure_getenv("XDG_RUNTIME_DIR");
        const char *home = secure_getenv("HOME");
        _cleanup_free_ char *p1 = xdg ? xasprintf("%s/containers/auth.json", xdg) : NULL;
        const char *cfg = secure_getenv("XDG_CONFIG_HOME");
        _cleanup_free_ char *p2 = home ? xasprintf("%s/.docker/config.json", home) : NULL;
        _cleanup_free_ char *conf = !isempty(cfg) ? xasprintf("%s/containers/auth.json", cfg)
                                    : home        ? xasprintf("%s/.config/containers/auth.json", home)
                                                  : NULL;
        /* UID's own, as podman looks for them: a user's pull never reads
         * root's files (nor fails on them, unreadable). */
        _cleanup_free_ char *run = xasprintf("/run/containers/%u/auth.json", (unsigned) uid);
        const char *paths[] = { env, p1, run, conf, p2, uid == 0 ? "/root/.docker/config.json" : NULL };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                if (isempty(paths[i]))
                        continue;
                /* The first file that exists decides, as with podman. */
                if (access(paths[i], F_OK) < 0)
                        continue;
                *ret_path = xstrdup(paths[i]);
                return 0;
        }
        *ret_path = NULL;
        return -ENOENT;
}
