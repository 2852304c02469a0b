/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pwd.h>
#include <sys/stat.h>

#include "build-config.h"
#include "log.h"
#include "paths.h"
#include "util.h"

void state_paths_done(StatePaths *p) {
        free(p->state);
        free(p->run);
        free(p->config);
        free(p->uid_registry);
        *p = (StatePaths) {};
}

/* An XDG base directory: the variable if it holds an absolute path (the
 * spec says to ignore a relative one), else HOME/FALLBACK. */
static char *xdg_dir(const char *var, const char *home, const char *fallback) {
        const char *v = secure_getenv(var);
        if (v && v[0] == '/')
                return xstrdup(v);
        return xasprintf("%s/%s", home, fallback);
}

/* XDG_RUNTIME_DIR is where a user's live machines are found, so it must
 * be theirs alone: another user's (or a shared /tmp) would let them plant
 * locks, sockets and pid files. */
static int user_runtime_dir(uid_t uid, char **ret) {
        const char *v = secure_getenv("XDG_RUNTIME_DIR");
        if (isempty(v))
                return log_error_errno(SYNTHETIC_ERRNO(ENXIO),
                                       "XDG_RUNTIME_DIR is not set: berth keeps a user's running machines there. "
                                       "Log in through a session that sets it (pam_systemd), or set it to a "
                                       "directory of mode 0700 that you own.");
        if (v[0] != '/')
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "XDG_RUNTIME_DIR=%s is not an absolute path; set it to a directory of "
                                       "mode 0700 that you own.", v);
        struct stat st;
        if (stat(v, &st) < 0)
                return log_error_errno(errno, "XDG_RUNTIME_DIR=%s cannot be used: %m; create it with mode 0700.", v);
        if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 0077) != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "XDG_RUNTIME_DIR=%s is not a directory of mode 0700 owned by you (UID %u); "
                                       "fix its owner and mode or point XDG_RUNTIME_DIR at your own.",
                                       v, (unsigned) uid);
        *ret = xasprintf("%s/berth", v);
        return 0;
}

/* A user's registry of UID ranges is one for all their state roots, as
 * root's is for the host: below the home directory of the password
 * database, not one HOME or XDG_DATA_HOME name, which would give a command
 * run with other values another registry, and the same ranges again (two
 * machines with the same host IDs).  Only where that home is not a
 * directory of the user's does DATA's serve. */
static char *user_registry(uid_t uid, const char *data) {
        const struct passwd *pw = getpwuid(uid);
        struct stat st;
        if (pw && pw->pw_dir && pw->pw_dir[0] == '/' && stat(pw->pw_dir, &st) >= 0 && S_ISDIR(st.st_mode) &&
            st.st_uid == uid)
                return xasprintf("%s/.local/share/berth/uid-ranges", pw->pw_dir);
        return xasprintf("%s/berth/uid-ranges", data);
}

int state_paths_default(StatePaths *ret) {
        uid_t uid = geteuid();
        if (uid == 0) {
                *ret = (StatePaths) {
                        .state = xstrdup(BERTH_STATE_DIR),
                        .run = xstrdup(BERTH_RUNTIME_DIR),
                        .config = xstrdup(BERTH_CONFIG_PATH),
                        .uid_registry = xasprintf("%s/uid-ranges", BERTH_STATE_DIR),
                };
                return 0;
        }

        _cleanup_free_ char *run = NULL;
        int r = user_runtime_dir(uid, &run);
        if (r < 0)
                return r;
        /* HOME as the user set it, else the password database's. */
        const char *home = secure_getenv("HOME");
        if (isempty(home) || home[0] != '/') {
                struct passwd *pw = getpwuid(uid);
                home = pw ? pw->pw_dir : NULL;
        }
        if (isempty(home) || home[0] != '/')
                return log_error_errno(SYNTHETIC_ERRNO(ENXIO),
                                       "Cannot find your home directory for berth's state: set HOME or "
                                       "XDG_DATA_HOME to an absolute path.");
        _cleanup_free_ char *data = xdg_dir("XDG_DATA_HOME", home, ".local/share");
        _cleanup_free_ char *conf = xdg_dir("XDG_CONFIG_HOME", home, ".config");
        *ret = (StatePaths) {
                .state = xasprintf("%s/berth", data),
                .run = TAKE_PTR(run),
                .config = xasprintf("%s/berth/berth.conf", conf),
                .uid_registry = user_registry(uid, data),
        };
        return 0;
}

static bool path_below(const char *path, const char *dir) {
        const char *rest = startswith(path, dir);
        return rest && (rest[0] == '\0' || rest[0] == '/');
}

bool path_is_system_state(const char *path) {
        return path_below(path, BERTH_STATE_DIR) || path_below(path, BERTH_RUNTIME_DIR) ||
               path_below(path, "/etc/berth");
}

int state_dir_check_owner(int fd, const char *path, uid_t uid) {
        struct stat st;
        if (uid == 0)
                return 0;
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Cannot check %s: %m", path);
        if (st.st_uid != uid)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "%s is owned by UID %u, not by you: a user's machines live in "
                                       "directories of their own. Pick another --root.",
                                       path, (unsigned) st.st_uid);
        return 0;
}
