/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/wait.h>

#include "fs.h"
#include "log.h"
#include "oci-internal.h"
#include "spawn.h"
#include "util.h"

static int copy_tree(const char *from, const char *to) {
        _cleanup_free_ char *src = xasprintf("%s/.", from);
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0) {
                execl("/bin/cp", "cp", "-a", "--reflink=auto", "--", src, to, (char *) NULL);
                _exit(127);
        }
        int r = wait_child(pid);
        if (r < 0)
                return r;
        if (r != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Copying %s failed.", from);
        return 0;
}

int import_bundle(const Source *s, const char *rootfs, ImageExec *ret_exec, char **ret_info) {
        _cleanup_json_ json_object *cfg = NULL;
        int r = source_read_json(s, "config.json", &cfg);
        if (r < 0)
                return r;
        const char *root = jstr(jget(cfg, "root", json_type_object), "path") ?: "rootfs";
        if (root[0] == '/' || path_has_dotdot(root))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: root.path '%.80s' must be relative and inside the bundle.", root);
        _cleanup_close_ int rfd = chase_in_root(s->dirfd, root, CHASE_NO_SYMLINKS, O_RDONLY | O_DIRECTORY, 0);
        if (rfd < 0)
                return log_error_errno(rfd, "%s: root directory '%.80s': %m", s->path, root);
        _cleanup_free_ char *from = xasprintf("%s/%s", s->path, root);
        r = copy_tree(from, rootfs);
        if (r < 0)
                return r;

        json_object *proc = jget(cfg, "process", json_type_object);
        ImageExec ie = {};
        if (jstrv(proc, "args", &ie.args) < 0 || jstrv(proc, "env", &ie.env) < 0) {
                image_exec_done(&ie);
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "config.json: process.args or env is not a list of strings.");
        }
        ie.cwd = strdup_or_null(jstr(proc, "cwd"));
        json_object *user = jget(proc, "user", json_type_object);
        json_object *uid = jget(user, "uid", json_type_int), *gid = jget(user, "gid", json_type_int);
        if (uid)
                ie.user = xasprintf("%" PRIi64 ":%" PRIi64, json_object_get_int64(uid), gid ? json_object_get_int64(gid) : 0);
        ie.hostname = strdup_or_null(jstr(cfg, "hostname"));
        *ret_exec = ie;
        *ret_info = xstrdup("");
        return 0;
}
