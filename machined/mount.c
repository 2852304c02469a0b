/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "devices.h"
#include "fs.h"
#include "id128.h"
#include "log.h"
#include "mount-lock.h"
#include "mount-tree.h"
#include "mount.h"
#include "util.h"

typedef struct FsOption {
        const char *key;
        const char *value; /* NULL: a flag */
} FsOption;

/* A fresh kernel filesystem of TYPE on TARGET. */
static int mount_fs(int rootfd, const char *target, const char *type, const FsOption *opts, size_t n_opts,
                    unsigned attrs) {
        _cleanup_close_ int fsfd = fsopen(type, FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return -errno;
        for (size_t i = 0; i < n_opts; i++) {
                int r = opts[i].value ? fsconfig(fsfd, FSCONFIG_SET_STRING, opts[i].key, opts[i].value, 0)
                                      : fsconfig(fsfd, FSCONFIG_SET_FLAG, opts[i].key, NULL, 0);
                if (r < 0)
                        return -errno;
        }
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return -errno;
        _cleanup_close_ int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
        if (mfd < 0)
                return -errno;
        return mount_attach(mfd, rootfd, target, true);
}

/* Bind SRCFD (anything: a host device node, a guest dir) onto TARGET. */
static int bind_fd(int srcfd, int rootfd, const char *target, bool dir, unsigned attrs) {
        _cleanup_close_ int mfd = open_tree(srcfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (mfd < 0)
                return -errno;
        if (attrs) {
                struct mount_attr a = { .attr_set = attrs };
                if (mount_setattr(mfd, "", AT_EMPTY_PATH, &a, sizeof a) < 0)
                        return -errno;
        }
        return mount_attach(mfd, rootfd, target, dir);
}

/* Make a path inside the new root read-only by binding it onto itself. */
static int remount_ro(int rootfd, const char *path, bool missing_ok) {
        _cleanup_close_ int fd = chase_in_root(rootfd, path, CHASE_NO_SYMLINKS, O_PATH, 0);
        if (fd < 0)
                return fd == -ENOENT && missing_ok ? 0 : fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        return bind_fd(fd, rootfd, path, S_ISDIR(st.st_mode),
                       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
}

/* /proc parts a contained root must not write or read (reference: what
 * nspawn and the OCI defaults mask).  Files get /dev/null over them, dirs an
 * empty read-only tmpfs. */
static const char *const proc_readonly[] = { "proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus",
                                             "proc/fs" };
static const char *const proc_masked[] = {
        "proc/kcore", "proc/keys", "proc/timer_list", "proc/sched_debug", "proc/latency_stats",
        "proc/kallsyms", "proc/kmsg", "proc/acpi", "proc/scsi", "proc/asound", "proc/interrupts",
};

static int mask_path(int rootfd, int nullfd, const char *path) {
        _cleanup_close_ int fd = chase_in_root(rootfd, path, CHASE_NO_SYMLINKS, O_PATH, 0);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return bind_fd(nullfd, rootfd, path, false, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        static const FsOption o[] = { { "mode", "0555" }, { "size", "0" } };
        return mount_fs(rootfd, path, "tmpfs", o, ELEMENTSOF(o),
                        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
}

static int check_fs_type(int rootfd, const char *path, unsigned long magic) {
        _cleanup_close_ int fd = chase_in_root(rootfd, path, CHASE_NO_SYMLINKS, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
                return fd;
        struct statfs sfs;
        if (fstatfs(fd, &sfs) < 0)
                return -errno;
        return (unsigned long) sfs.f_type == magic ? 0 : -EXDEV;
}

static const struct {
        const char *name, *target;
} dev_links[] = {
        { "dev/fd", "/proc/self/fd" },     { "dev/stdin", "/proc/self/fd/0" },
        { "dev/stdout", "/proc/self/fd/1" }, { "dev/stderr", "/proc/self/fd/2" },
        { "dev/ptmx", "pts/ptmx" },
};

static int setup_dev(int rootfd, const char *console, const DeviceList *devices, int stage_fd, char *err,
                     size_t errlen) {
        static const FsOption devopts[] = { { "mode", "0755" }, { "size", "4m" } };
        int r = mount_fs(rootfd, "dev", "tmpfs", devopts, ELEMENTSOF(devopts), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Failed to mount tmpfs on /dev: %m");

        /* Device nodes are bound from the host rather than created with mknod,
         * which works the same with and without a user namespace.  They are the
         * allow-list's (devices.h): nothing is bound that the machine may not
         * open.  One the host lacks (tun, fuse where no module provides
         * them) is left out.  With a user namespace the stage has the
         * machine's own copies (mount-lock.h), owned by its root: those. */
        const DeviceRule *rules = devices->rules;
        for (size_t i = 0; i < devices->n; i++) {
                const char *node = rules[i].node;
                if (!node)
                        continue;
                _cleanup_free_ char *host = xasprintf("/dev/%s", node);
                _cleanup_free_ char *guest = xasprintf("dev/%s", node);
                _cleanup_close_ int src = -EBADF;
                if (stage_fd >= 0) {
                        _cleanup_free_ char *copy = mount_stage_devnode(node);
                        src = openat(stage_fd, copy, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                }
                if (src < 0)
                        src = open(host, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (src < 0 && errno == ENOENT)
                        continue;
                if (src < 0)
                        return errbuf_printf(err, errlen, errno, "Failed to open host %s: %m", host);
                struct stat st;
                mode_t type = rules[i].type == 'b' ? S_IFBLK : S_IFCHR;
                if (fstat(src, &st) < 0 || (st.st_mode & S_IFMT) != type || major(st.st_rdev) != rules[i].major ||
                    minor(st.st_rdev) != (unsigned) rules[i].minor)
                        return errbuf_printf(err, errlen, ENODEV, "Host %s is not the %s device %u:%d", host,
                                    type == S_IFBLK ? "block" : "character", rules[i].major, rules[i].minor);
                /* net/tun, dri/renderD128: their directories first, in the fresh
                 * tmpfs (ours: no guest symlink can be in it yet). */
                for (const char *slash = strchr(node, '/'); slash; slash = strchr(slash + 1, '/')) {
                        _cleanup_free_ char *dir = xasprintf("dev/%.*s", (int) (slash - node), node);
                        if (mkdirat(rootfd, dir, 0755) < 0 && errno != EEXIST)
                                return errbuf_printf(err, errlen, errno, "Failed to create /%s: %m", dir);
                }
                r = bind_fd(src, rootfd, guest, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
                if (r < 0)
                        return errbuf_printf(err, errlen, r, "Failed to bind %s into the machine: %m", host);
        }

        static const FsOption ptsopts[] = { { "newinstance", NULL }, { "ptmxmode", "0666" },
                                            { "mode", "0620" },      { "gid", "5" } };
        r = mount_fs(rootfd, "dev/pts", "devpts", ptsopts, ELEMENTSOF(ptsopts), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Failed to mount devpts on /dev/pts: %m");

        static const FsOption shmopts[] = { { "mode", "1777" } };
        r = mount_fs(rootfd, "dev/shm", "tmpfs", shmopts, ELEMENTSOF(shmopts), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Failed to mount tmpfs on /dev/shm: %m");

        for (size_t i = 0; i < ELEMENTSOF(dev_links); i++)
                if (symlinkat(dev_links[i].target, rootfd, dev_links[i].name) < 0)
                        return errbuf_printf(err, errlen, errno, "Failed to create /%s: %m", dev_links[i].name);

        /* The console is the supervisor's pty, opened by its host path before
         * pivot_root; the guest never names a host path. */
        _cleanup_close_ int con = open(console, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (con < 0)
                return errbuf_printf(err, errlen, errno, "Failed to open console pty %s: %m", console);
        r = bind_fd(con, rootfd, "dev/console", false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Failed to bind the console pty to /dev/console: %m");
        return 0;
}

/* A boot ID of the machine's own, new at every boot (as the kernel's is),
 * read-only over /proc/sys/kernel/random/boot_id: journald tells boots
 * apart by it.  The file lives on the machine's fresh /run only until it is
 * bound. */
static int setup_boot_id(int rootfd) {
        Id128 id;
        char uuid[ID128_UUID_STRING_MAX];
        int r = id128_randomize(&id);
        if (r < 0)
                return r;
        _cleanup_close_ int run = chase_in_root(rootfd, "run", CHASE_NO_SYMLINKS, O_PATH | O_DIRECTORY, 0);
        if (run < 0)
                return run;
        static const char name[] = ".berth-boot-id";
        _cleanup_close_ int fd = openat(run, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0)
                return -errno;
        _cleanup_free_ char *text = xasprintf("%s\n", id128_to_uuid(&id, uuid));
        r = write_all(fd, text, strlen(text));
        if (r >= 0)
                r = bind_fd(fd, rootfd, "proc/sys/kernel/random/boot_id", false,
                            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        (void) unlinkat(run, name, 0);
        return r;
}

static int clone_tree(const char *path) {
        int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
        return fd < 0 ? -errno : fd;
}

int mount_attach_root(const MountPlan *plan, RootMount *rm, char *err, size_t errlen) {
        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return errbuf_printf(err, errlen, errno, "Failed to make mounts private: %m");

        /* A private clone of the rootfs dir becomes the new root mount (or the
         * overlay's lower layer; layered: of the dir with the upper).  With a
         * user namespace the supervisor made it (idmapping needs host
         * privileges) and passed it to us. */
        const char *tree_path = plan->machine_dir ?: plan->rootfs;
        _cleanup_close_ int tree = plan->rootfs_tree_fd;
        if (tree < 0)
                tree = clone_tree(tree_path);
        if (tree < 0)
                return errbuf_printf(err, errlen, tree, "Failed to clone the rootfs mount %s: %m", tree_path);
        /* Device nodes in a rootfs (from a tarball, an image) never open: the
         * machine's devices are the ones bound into its /dev. */
        struct mount_attr nodev = { .attr_set = MOUNT_ATTR_NODEV };
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &nodev, sizeof nodev) < 0)
                return errbuf_printf(err, errlen, errno, "Failed to mount the rootfs nodev: %m");
        for (size_t i = 0; plan->machine_dir && i < plan->n_layers; i++) {
                int fd = plan->layer_tree_fds ? plan->layer_tree_fds[i] : clone_tree(plan->layers[i]);
                if (fd < 0)
                        return errbuf_printf(err, errlen, fd, "Failed to clone the layer %s: %m", plan->layers[i]);
                rm->layers[rm->n_layers++] = fd;
                if (mount_setattr(fd, "", AT_EMPTY_PATH, &nodev, sizeof nodev) < 0)
                        return errbuf_printf(err, errlen, errno, "Failed to mount the layer %s nodev: %m", plan->layers[i]);
        }

        if (plan->ephemeral && plan->scratch) {
                /* The layers on disk ([Machine] ScratchDirectory=): a clone of the
                 * dir the supervisor made for us, owned by the machine's root. */
                _cleanup_close_ int sfd = open_tree(AT_FDCWD, plan->scratch,
                                                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
                struct mount_attr a = { .attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID };
                if (sfd < 0 || mount_setattr(sfd, "", AT_EMPTY_PATH, &a, sizeof a) < 0 ||
                    move_mount(sfd, "", AT_FDCWD, plan->rootfs, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return errbuf_printf(err, errlen, errno, "Failed to mount the scratch directory %s: %m", plan->scratch);
                rm->scratch = open(plan->rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (rm->scratch < 0)
                        return errbuf_printf(err, errlen, errno, "Failed to open the ephemeral layer: %m");
                rm->lower = TAKE_FD(tree);
                return 0;
        }
        if (plan->ephemeral || plan->machine_dir) {
                /* The scratch tmpfs belongs to the machine's root ("uid=0" is read
                 * in the machine's user namespace), so it can make the layers. */
                _cleanup_close_ int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
                if (fsfd < 0 || fsconfig(fsfd, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
                    fsconfig(fsfd, FSCONFIG_SET_STRING, "uid", "0", 0) < 0 ||
                    fsconfig(fsfd, FSCONFIG_SET_STRING, "gid", "0", 0) < 0 ||
                    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                        return errbuf_printf(err, errlen, errno, "Failed to create the ephemeral layer (tmpfs): %m");
                _cleanup_close_ int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
                if (mfd < 0 || move_mount(mfd, "", AT_FDCWD, plan->rootfs, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return errbuf_printf(err, errlen, errno, "Failed to mount the ephemeral layer: %m");
                rm->scratch = open(plan->rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (rm->scratch < 0)
                        return errbuf_printf(err, errlen, errno, "Failed to open the ephemeral layer: %m");
                rm->lower = TAKE_FD(tree);
                return 0;
        }

        if (move_mount(tree, "", AT_FDCWD, plan->rootfs, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return errbuf_printf(err, errlen, errno, "Failed to mount the rootfs %s: %m", plan->rootfs);
        rm->root = open(plan->rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rm->root < 0)
                return errbuf_printf(err, errlen, errno, "Failed to open the new root: %m");
        return 0;
}

/* Make dir NAME in the scratch layer, move the detached mount *TREE onto
 * it (consumed), and return an O_PATH fd of SUB below it ("" for itself). */
static int place_tree(int scratch, const char *name, int *tree, const char *sub) {
        if (mkdirat(scratch, name, 0755) < 0)
                return -errno;
        _cleanup_close_ int at = openat(scratch, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (at < 0)
                return -errno;
        if (move_mount(*tree, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return -errno;
        closep(tree);
        /* Reopen: the fd above names the dir under the new mount. */
        _cleanup_free_ char *path = xasprintf("%s%s%s", name, *sub ? "/" : "", sub);
        int fd = openat(scratch, path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* A layer dir NAME on the scratch tmpfs (the ephemeral upper and work). */
static int scratch_dir(int scratch, const char *name) {
        if (mkdirat(scratch, name, 0755) < 0)
                return -errno;
        int fd = openat(scratch, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static void close_fds(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                closep(&fds[i]);
}

int mount_finish_root(const MountPlan *plan, RootMount *rm, char *err, size_t errlen) {
        if (!plan->ephemeral && !plan->machine_dir)
                return 0;

        /* The overlay's lower layers, top first: an ephemeral machine's own
         * rootfs (of a layered one: its upper), then a layered machine's layers. */
        int lowers[LAYERS_MAX + 1];
        size_t n = 0;
        int r = 0;
        _cleanup_close_ int upper = -EBADF, work = -EBADF;
        if (plan->machine_dir) {
                _cleanup_close_ int mdir = place_tree(rm->scratch, "machine", &rm->lower, "");
                if (mdir < 0)
                        return errbuf_printf(err, errlen, mdir, "Failed to mount the machine's upper layer: %m");
                upper = openat(mdir, "rootfs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                work = openat(mdir, OVERLAY_WORK, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (upper < 0 || work < 0)
                        return errbuf_printf(err, errlen, errno, "Failed to open the machine's upper layer: %m");
                if (plan->ephemeral)
                        lowers[n++] = TAKE_FD(upper);
                for (size_t i = 0; i < rm->n_layers && r >= 0; i++) {
                        char name[32];
                        snprintf(name, sizeof name, "layer%zu", i);
                        r = place_tree(rm->scratch, name, &rm->layers[i], "");
                        if (r >= 0)
                                lowers[n++] = r;
                }
                if (r < 0) {
                        close_fds(lowers, n);
                        return errbuf_printf(err, errlen, r, "Failed to mount the machine's layers: %m");
                }
        } else {
                r = place_tree(rm->scratch, "lower", &rm->lower, "");
                if (r < 0)
                        return errbuf_printf(err, errlen, r, "Failed to mount the rootfs as the lower layer: %m");
                lowers[n++] = r;
        }
        if (plan->ephemeral) {
                closep(&work);
                upper = scratch_dir(rm->scratch, "upper");
                work = upper < 0 ? upper : scratch_dir(rm->scratch, "work");
                if (work < 0) {
                        close_fds(lowers, n);
                        return errbuf_printf(err, errlen, work, "Failed to create the ephemeral upper layer: %m");
                }
        }
        _cleanup_close_ int mfd = overlay_make(lowers, n, upper, work, MOUNT_ATTR_NODEV);
        close_fds(lowers, n);
        if (mfd < 0)
                return errbuf_printf(err, errlen, mfd, "Failed to create the overlay of the rootfs (berth needs overlayfs of Linux 6.8 or later): %m");
        _cleanup_close_ int merged = scratch_dir(rm->scratch, "merged");
        if (merged < 0 || move_mount(mfd, "", merged, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return errbuf_printf(err, errlen, merged < 0 ? merged : -errno, "Failed to mount the overlay of the rootfs: %m");
        rm->root = openat(rm->scratch, "merged", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rm->root < 0)
                return errbuf_printf(err, errlen, errno, "Failed to open the overlay root: %m");
        return 0;
}

static int files_fail(char *err, size_t errlen, int r, const char *what, const char *src, const char *dst) {
        if (r == -ELOOP)
                return errbuf_printf(err, errlen, r, "Cannot mount %s%s on %s in the machine: the path is, or goes through, a "
                            "symlink in the machine's tree, and berth never follows the machine's symlinks for "
                            "a mount. Name the real directory.", what, src, dst);
        return errbuf_printf(err, errlen, r, "Cannot mount %s%s on %s in the machine: %m", what, src, dst);
}

/* [Files]: tmpfs first, so that a bind may go inside one. */
static int setup_files(const MountPlan *plan, int rootfd, char *err, size_t errlen) {
        for (size_t i = 0; i < plan->n_tmpfs; i++) {
                const TmpfsSpec *t = plan->tmpfs + i;
                _cleanup_free_ char *target = mount_target_path(t->destination);
                FsOption o[2] = { { "mode", t->mode ?: "0755" } };
                size_t n = 1;
                if (t->size)
                        o[n++] = (FsOption) { "size", t->size };
                int r = mount_make_parents(rootfd, target);
                if (r >= 0)
                        r = mount_fs(rootfd, target, "tmpfs", o, n,
                                     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (t->read_only ? MOUNT_ATTR_RDONLY : 0));
                if (r < 0)
                        return files_fail(err, errlen, r, "a tmpfs", "", t->destination);
        }
        for (size_t i = 0; i < plan->n_binds; i++) {
                const BindSpec *b = plan->binds + i;
                _cleanup_free_ char *target = mount_target_path(b->destination);
                struct stat st;
                int r = fstat(plan->bind_tree_fds[i], &st) < 0 ? -errno : mount_make_parents(rootfd, target);
                if (r >= 0)
                        r = mount_attach(plan->bind_tree_fds[i], rootfd, target, S_ISDIR(st.st_mode));
                if (r < 0)
                        return files_fail(err, errlen, r, "", b->source, b->destination);
        }
        return 0;
}

int mount_setup_machine(const MountPlan *plan, int rootfd, char *err, size_t errlen) {
        static const FsOption none[] = {};
        int r = mount_fs(rootfd, "proc", "proc", none, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Failed to mount /proc: %m");
        if (check_fs_type(rootfd, "proc", PROC_SUPER_MAGIC) < 0)
                return errbuf_printf(err, errlen, EXDEV, "/proc of the machine is not procfs after mounting");

        _cleanup_close_ int nullfd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (nullfd < 0)
                return errbuf_printf(err, errlen, errno, "Failed to open /dev/null: %m");
        /* A failed mask aborts the start: a silently unmasked /proc is worse
         * than a machine that does not boot. */
        for (size_t i = 0; i < ELEMENTSOF(proc_masked); i++) {
                r = mask_path(rootfd, nullfd, proc_masked[i]);
                if (r < 0)
                        return errbuf_printf(err, errlen, r, "Failed to mask /%s: %m", proc_masked[i]);
        }
        /* The machine's own network namespace is its to tune (forwarding,
         * systemd-sysctl): /proc/sys/net stays writable in it, taken from the
         * proc mount before /proc/sys above it becomes read-only.  The kernel
         * shows and lets write there only the sysctls of that namespace. */
        _cleanup_close_ int sysnet = -EBADF;
        if (plan->own_netns) {
                sysnet = chase_in_root(rootfd, "proc/sys/net", CHASE_NO_SYMLINKS, O_PATH | O_DIRECTORY, 0);
                if (sysnet < 0)
                        return errbuf_printf(err, errlen, sysnet, "Failed to open /proc/sys/net: %m");
        }
        for (size_t i = 0; i < ELEMENTSOF(proc_readonly); i++) {
                r = remount_ro(rootfd, proc_readonly[i], true);
                if (r < 0)
                        return errbuf_printf(err, errlen, r, "Failed to make /%s read-only: %m", proc_readonly[i]);
        }
        if (sysnet >= 0) {
                r = bind_fd(sysnet, rootfd, "proc/sys/net", true, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
                if (r < 0)
                        return errbuf_printf(err, errlen, r, "Failed to make /proc/sys/net writable: %m");
        }

        r = mount_fs(rootfd, "sys", "sysfs", none, 0,
                     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Failed to mount /sys: %m");
        /* The guest's cgroup namespace: its own subtree, writable by it. */
        static const FsOption cgopts[] = { { "nsdelegate", NULL } };
        r = mount_fs(rootfd, "sys/fs/cgroup", "cgroup2", cgopts, ELEMENTSOF(cgopts),
                     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r == -EINVAL)
                /* nsdelegate is only accepted in the initial namespace. */
                r = mount_fs(rootfd, "sys/fs/cgroup", "cgroup2", none, 0,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Failed to mount cgroup2 on /sys/fs/cgroup: %m");

        r = setup_dev(rootfd, plan->console, plan->devices, plan->stage_fd, err, errlen);
        if (r < 0)
                return r;

        static const FsOption runopts[] = { { "mode", "0755" }, { "size", "20%" } };
        r = mount_fs(rootfd, "run", "tmpfs", runopts, ELEMENTSOF(runopts), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Failed to mount tmpfs on /run: %m");
        r = setup_boot_id(rootfd);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Failed to give the machine a boot ID: %m");
        if (plan->notify_tree_fd >= 0 || plan->notify_dir_fd >= 0) {
                r = plan->notify_tree_fd >= 0
                            ? mount_attach(plan->notify_tree_fd, rootfd, "run/host", true)
                            : bind_fd(plan->notify_dir_fd, rootfd, "run/host", true,
                                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
                if (r < 0)
                        return errbuf_printf(err, errlen, r, "Failed to bind the notify socket to /run/host: %m");
        }

        return setup_files(plan, rootfd, err, errlen);
}

int mount_pivot_root(int rootfd, char *err, size_t errlen) {
        /* Swap roots: "pivot_root(".", ".")" stacks the old root on top of the
         * new one, and the lazy unmount then drops every host mount at once. */
        if (fchdir(rootfd) < 0)
                return errbuf_printf(err, errlen, errno, "Failed to enter the new root: %m");
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return errbuf_printf(err, errlen, errno, "pivot_root failed: %m");
        if (umount2(".", MNT_DETACH) < 0)
                return errbuf_printf(err, errlen, errno, "Failed to detach the host's root: %m");
        if (chdir("/") < 0)
                return errbuf_printf(err, errlen, errno, "Failed to chdir to /: %m");
        return 0;
}
