/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "fs.h"
#include "scratch.h"
#include "userns.h"
#include "util.h"

int scratch_open_dir(const char *dir, bool create) {
        if (create) {
                int r = mkdir_p_at(AT_FDCWD, dir, 0711);
                if (r < 0)
                        return r;
        }
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        if (dfd < 0)
                return dfd;
        struct stat st;
        if (fstat(dfd, &st) < 0)
                return -errno;
        if (st.st_uid != 0 || (st.st_mode & 0022))
                return -EPERM;
        return TAKE_FD(dfd);
}

int scratch_remove_layers(const char *dir, const char *id, uid_t owner) {
        _cleanup_close_ int dfd = scratch_open_dir(dir, false);
        if (dfd == -ENOENT)
                return 0;
        if (dfd < 0)
                return dfd;
        struct stat st;
        if (fstatat(dfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != owner))
                return -EPERM;
        int r = rm_rf_at(dfd, id);
        return r < 0 ? r : 1;
}

int scratch_remove_stale(Store *s, const char *name) {
        _cleanup_(machine_config_done) MachineConfig cfg = {};
        _cleanup_free_ char *err = NULL;
        int r = store_load_config(s, name, NULL, &cfg, &err);
        if (r < 0)
                return r;
        if (!cfg.scratch_directory)
                return 0;
        uid_t owner = 0;
        r = store_machine_uid_base(s, name, &owner);
        if (r < 0 && r != -ENOENT)
                return r;
        _cleanup_free_ char *id = store_cgroup_name(s, name);
        return scratch_remove_layers(cfg.scratch_directory, id, owner);
}
