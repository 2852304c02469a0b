/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "chown-tree.h"
#include "fs.h"
#include "idmap.h"
#include "kv.h"
#include "log.h"
#include "ownership.h"
#include "util.h"

static int read_record(int dfd, uid_t *ret) {
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(dfd, "ownership", 256, &kv);
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (r < 0)
                return r;
        const char *v = key_values_get(&kv, "CHOWN_BASE");
        if (!v)
                return -EBADMSG;
        unsigned u;
        r = safe_atou(v, &u);
        if (r < 0)
                return r;
        if (u != 0 && !idmap_base_valid(u))
                return -ERANGE;
        *ret = (uid_t) u;
        return 0;
}

int ownership_ensure(const char *rootfs, uid_t target) {
        const char *slash = strrchr(rootfs, '/');
        if (!slash || slash == rootfs)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Rootfs path %s has no parent.", rootfs);
        _cleanup_free_ char *parent = strndup(rootfs, (size_t) (slash - rootfs));
        if (!parent)
                abort();
        _cleanup_close_ int pfd = open_dir_nofollow(AT_FDCWD, parent);
        if (pfd < 0)
                return log_error_errno(pfd, "Failed to open %s: %m", parent);
        _cleanup_close_ int lock = lock_file_at(pfd, ".ownership.lock", true, true);
        if (lock < 0)
                return log_error_errno(lock, "Failed to lock %s/.ownership.lock: %m", parent);

        uid_t current;
        int r = read_record(pfd, &current);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s/ownership: %m. It should say CHOWN_BASE= and the UID "
                                       "the rootfs's root files are owned by on the host (0 if unshifted).", parent);
        if (current == target)
                return 0;

        _cleanup_close_ int rfd = open_dir_nofollow(pfd, slash + 1);
        if (rfd < 0)
                return log_error_errno(rfd, "Failed to open %s: %m", rootfs);
        log_info("Changing the owners of %s from UIDs %u+ to %u+ (once; PrivateUsersOwnership=).", rootfs,
                 (unsigned) current, (unsigned) target);
        r = chown_tree_shift(rfd, current, target, USERNS_RANGE_SIZE);
        if (r < 0)
                return log_error_errno(r, "Failed to change the owners of %s: %m. The next start finishes the job.",
                                       rootfs);
        if (syncfs(rfd) < 0)
                return log_error_errno(errno, "Failed to sync %s: %m", rootfs);
        _cleanup_free_ char *text = xasprintf("CHOWN_BASE=%u\n", (unsigned) target);
        r = write_file_atomic_at(pfd, "ownership", text, strlen(text), 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s/ownership: %m", parent);
        return 0;
}
