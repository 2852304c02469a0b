/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices.h"
#include "fs.h"
#include "log.h"
#include "mount-lock.h"
#include "spawn.h"
#include "util.h"

#define STAGE_DIR "stage"
#define STAGE_ROOT "root"

/* The machine's own copies of the host's device nodes, STAGE/dev-NODE ('/'
 * as '-'), owned by its root (UID_BASE) with the host node's mode, as
 * nspawn makes them: a host node the machine's root could not open as it
 * is (tun and fuse are 0600 without udev's rules) is then usable.  Where
 * we may not make nodes (a unit with DevicePolicy=closed) the child binds
 * the host's own, as without a stage. */
static void stage_make_devnodes(int mfd, uid_t uid_base, const DeviceList *devices) {
        for (size_t i = 0; i < devices->n; i++) {
                const DeviceRule *d = &devices->rules[i];
                if (!d->node)
                        continue;
                _cleanup_free_ char *host = xasprintf("/dev/%s", d->node);
                struct stat st;
                mode_t type = d->type == 'b' ? S_IFBLK : S_IFCHR;
                if (lstat(host, &st) < 0 || (st.st_mode & S_IFMT) != type)
                        continue;
                _cleanup_free_ char *copy = mount_stage_devnode(d->node);
                if (mknodat(mfd, copy, type | (st.st_mode & 0666), st.st_rdev) < 0) {
                        log_debug_errno(errno, "Cannot make a copy of %s for the machine (%m), binding the host's.", host);
                        continue;
                }
                if (fchownat(mfd, copy, uid_base, uid_base, AT_SYMLINK_NOFOLLOW) < 0) {
                        log_debug_errno(errno, "Cannot hand the copy of %s to the machine (%m), binding the host's.", host);
                        (void) unlinkat(mfd, copy, 0);
                }
        }
}

char *mount_stage_devnode(const char *node) {
        char *s = xasprintf("dev-%s", node);
        for (char *p = s; *p; p++)
                if (*p == '/')
                        *p = '-';
        return s;
}

int mount_stage_open(MountStage *stage, int run_fd, const char *run_path, uid_t uid_base, const DeviceList *devices) {
        /* Our own namespace: a slave of the host's, so the host's mounts still
         * reach us, while ours (the stage, the trees on it) reach nobody. */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return log_error_errno(errno, "Failed to create the supervisor's mount namespace: %m");
        if (mkdirat(run_fd, STAGE_DIR, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s/" STAGE_DIR ": %m", run_path);
        _cleanup_free_ char *path = xasprintf("%s/" STAGE_DIR, run_path);
        /* By its path: fds opened before the unshare name the host's mounts, and
         * a mount goes only onto one of our own namespace. */
        _cleanup_close_ int at = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (at < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);

        /* World-searchable: the child looks up "root" and its device nodes as
         * the machine's root, a host UID that owns nothing else here.  Not
         * nodev, for those nodes; nothing else is ever in it. */
        _cleanup_close_ int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fsfd < 0 || fsconfig(fsfd, FSCONFIG_SET_STRING, "mode", "0711", 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_SET_STRING, "size", "64k", 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return log_error_errno(errno, "Failed to create the mount stage (tmpfs): %m");
        _cleanup_close_ int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (mfd < 0)
                return log_error_errno(errno, "Failed to create the mount stage (tmpfs): %m");
        if (mkdirat(mfd, STAGE_ROOT, 0711) < 0)
                return log_error_errno(errno, "Failed to create the mount stage's root: %m");
        stage_make_devnodes(mfd, uid_base, devices);
        if (move_mount(mfd, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return log_error_errno(errno, "Failed to mount the mount stage on %s: %m", path);
        stage->path = TAKE_PTR(path);
        if (mount(NULL, stage->path, NULL, MS_SHARED, NULL) < 0)
                return log_error_errno(errno, "Failed to make the mount stage %s shared: %m", stage->path);
        return 0;
}

char *mount_stage_root(const MountStage *stage) {
        return xasprintf("%s/" STAGE_ROOT, stage->path);
}

void mount_stage_release(const MountStage *stage) {
        if (!stage->path)
                return;
        _cleanup_free_ char *root = mount_stage_root(stage);
        while (umount2(root, MNT_DETACH | UMOUNT_NOFOLLOW) >= 0)
                ;
}

void mount_stage_close(MountStage *stage) {
        if (!stage->path)
                return;
        mount_stage_release(stage);
        (void) umount2(stage->path, MNT_DETACH | UMOUNT_NOFOLLOW);
        (void) rmdir(stage->path);
        free(TAKE_PTR(stage->path));
}

/* In a child of ours: join the machine's mount namespace to clone its tree
 * (open_tree clones only from the caller's own), come back and attach it.
 * Reports failure as its exit status, an errno. */
_noreturn_ static void lock_child(pid_t pid, int tree_fd, const char *target) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int) pid);
        int own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        int theirs = open(path, O_RDONLY | O_CLOEXEC);
        if (own < 0 || theirs < 0 || setns(theirs, CLONE_NEWNS) < 0)
                _exit(errno);
        int tree = open_tree(tree_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree < 0 || setns(own, CLONE_NEWNS) < 0)
                _exit(errno);
        int at = open(target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (at < 0 || move_mount(tree, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                _exit(errno);
        _exit(0);
}

int mount_stage_lock(const MountStage *stage, pid_t pid, int tree_fd) {
        _cleanup_free_ char *target = mount_stage_root(stage);
        pid_t child = fork();
        if (child < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (child == 0)
                lock_child(pid, tree_fd, target);
        /* The child's exit status is the errno of what failed. */
        int r = wait_child(child);
        if (r < 0)
                return log_error_errno(r, "waitpid failed: %m");
        if (r != 0)
                return log_error_errno(r > 128 ? EIO : r,
                                       "Failed to lock the machine's mounts (a copy through %s): %m", target);
        return 0;
}
