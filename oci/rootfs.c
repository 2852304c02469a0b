/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "copy.h"
#include "fs.h"
#include "mount-table.h"
#include "mount-tree.h"
#include "oci.h"
#include "util.h"

/* What a mount's options say: attributes of the mount, whether it is a
 * bind, and the rest, which are the filesystem's own (tmpfs "size=", ...). */
typedef struct MountOpts {
        uint64_t attr_set, attr_clr;
        bool bind, rbind;
        bool tmpcopyup;
        char **data;
} MountOpts;

static const struct {
        const char *name;
        uint64_t set, clr;
} attr_options[] = {
        { "ro", MOUNT_ATTR_RDONLY, 0 },
        { "rw", 0, MOUNT_ATTR_RDONLY },
        { "nosuid", MOUNT_ATTR_NOSUID, 0 },
        { "suid", 0, MOUNT_ATTR_NOSUID },
        { "nodev", MOUNT_ATTR_NODEV, 0 },
        { "dev", 0, MOUNT_ATTR_NODEV },
        { "noexec", MOUNT_ATTR_NOEXEC, 0 },
        { "exec", 0, MOUNT_ATTR_NOEXEC },
        { "noatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME },
        { "relatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME },
        { "strictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME },
        { "nodiratime", MOUNT_ATTR_NODIRATIME, 0 },
};

/* Accepted and not acted on: propagation (every mount of ours is private
 * to the container), podman's copy-up and relabel requests, flags that
 * only meant something to mount(2) or are always on. */
static const char *const ignored_options[] = {
        "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable",
        "notmpcopyup", "nocopyup", "copy-symlink", "z", "Z", "defaults", "async", "newinstance",
        "sync", "dirsync", "mand", "nomand", "atime", "diratime", "norelatime", "nostrictatime", "U",
};

static void mount_opts_done(MountOpts *o) {
        strv_free(o->data);
}

static int mount_opts_parse(char **options, MountOpts *ret) {
        MountOpts o = {};
        for (size_t i = 0; options && options[i]; i++) {
                const char *opt = options[i];
                bool known = false;
                for (size_t k = 0; k < ELEMENTSOF(attr_options) && !known; k++)
                        if (streq(opt, attr_options[k].name)) {
                                o.attr_clr |= attr_options[k].clr;
                                o.attr_set = (o.attr_set & ~attr_options[k].clr) | attr_options[k].set;
                                known = true;
                        }
                for (size_t k = 0; k < ELEMENTSOF(ignored_options) && !known; k++)
                        known = streq(opt, ignored_options[k]);
                if (known)
                        continue;
                if (streq(opt, "bind"))
                        o.bind = true;
                else if (streq(opt, "tmpcopyup"))
                        o.tmpcopyup = true;
                else if (streq(opt, "rbind"))
                        o.bind = o.rbind = true;
                else if (streq(opt, "idmap") || streq(opt, "ridmap")) {
                        mount_opts_done(&o);
                        return -EOPNOTSUPP;
                } else
                        o.data = strv_append(o.data, opt);
        }
        *ret = o;
        return 0;
}

/* The target of a mount: resolved inside the root (a symlink in the image
 * leads somewhere inside it, never out), created if missing. */
static int open_target(int rootfd, const char *path, bool dir) {
        _cleanup_free_ char *rel = mount_target_path(path);
        int fd = chase_in_root(rootfd, rel, 0, O_PATH | (dir ? O_DIRECTORY : 0), 0);
        if (fd != -ENOENT)
                return fd;
        int r = mount_make_parents(rootfd, rel);
        if (r < 0)
                return r;
        return mount_open_target(rootfd, rel, dir, dir ? 0755 : 0644);
}

static int attach(int mfd, int rootfd, const char *path, bool dir) {
        _cleanup_close_ int tfd = open_target(rootfd, path, dir);
        if (tfd < 0)
                return tfd;
        return RET_NERRNO(move_mount(mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
}

/* A bind's source as a detached mount with its options applied. */
static int bind_tree(const char *bundle, const OciMount *m, const MountOpts *o, int *ret, char *err, size_t errlen) {
        if (!m->source)
                return errbuf_printf(err, errlen, EINVAL, "The bind mount on %s has no source.", m->destination);
        _cleanup_free_ char *src = m->source[0] == '/' ? xstrdup(m->source) : xasprintf("%s/%s", bundle, m->source);
        unsigned rec = o->rbind ? AT_RECURSIVE : 0;
        _cleanup_close_ int tree = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
        if (tree < 0)
                return errbuf_printf(err, errlen, errno, "Cannot bind %s on %s: %m", src, m->destination);
        struct mount_attr a = { .attr_set = o->attr_set, .attr_clr = o->attr_clr };
        if ((a.attr_set || a.attr_clr) && mount_setattr(tree, "", AT_EMPTY_PATH | rec, &a, sizeof a) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot set the options of the bind %s: %m", src);
        *ret = TAKE_FD(tree);
        return 0;
}

int rootfs_bind_trees(const OciSpec *s, const char *bundle, int **ret, char *err, size_t errlen) {
        int *trees = xcalloc(s->n_mounts + 1, sizeof(int));
        for (size_t i = 0; i < s->n_mounts; i++)
                trees[i] = -EBADF;
        for (size_t i = 0; i < s->n_mounts; i++) {
                const OciMount *m = &s->mounts[i];
                _cleanup_(mount_opts_done) MountOpts o = {};
                int r = mount_opts_parse(m->options, &o);
                if (r >= 0 && (o.bind || streq_ptr(m->type, "bind")))
                        r = bind_tree(bundle, m, &o, &trees[i], err, errlen);
                if (r < 0) {
                        rootfs_bind_trees_free(trees, s->n_mounts);
                        return r == -EOPNOTSUPP ? errbuf_printf(err, errlen, r, "mounts[%zu] (%s): idmapped mounts "
                                                                "are not supported.", i, m->destination) : r;
                }
        }
        *ret = trees;
        return 0;
}

void rootfs_bind_trees_free(int *trees, size_t n) {
        for (size_t i = 0; trees && i < n; i++)
                if (trees[i] >= 0)
                        close(trees[i]);
        free(trees);
}

static int bind_mount(const RootfsContext *c, size_t idx, const OciMount *m, const MountOpts *o, char *err,
                      size_t errlen) {
        _cleanup_close_ int tree = -EBADF;
        if (c->bind_trees && c->bind_trees[idx] >= 0)
                tree = c->bind_trees[idx]; /* the init's own copy of the runtime's fd: ours to close */
        else {
                int r = bind_tree(c->bundle, m, o, &tree, err, errlen);
                if (r < 0)
                        return r;
        }
        const char *src = m->source;
        struct stat st;
        if (fstat(tree, &st) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot inspect %s: %m", src);
        int r = attach(tree, c->rootfd, m->destination, S_ISDIR(st.st_mode));
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Cannot mount %s on %s: %m", src, m->destination);
        return 0;
}

/* podman's "tmpcopyup": the new tmpfs (MFD, still detached) starts with
 * what the image has at PATH.  Entries are opened relative to their
 * parents without following symlinks (copy.c). */
static int copy_up(int rootfd, const char *path, int mfd) {
        _cleanup_free_ char *rel = mount_target_path(path);
        _cleanup_close_ int src = chase_in_root(rootfd, rel, 0, O_RDONLY | O_DIRECTORY, 0);
        if (src == -ENOENT || src == -ENOTDIR)
                return 0;
        if (src < 0)
                return src;
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(src, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    (r = copy_tree_at(src, de->d_name, de->d_name, mfd, de->d_name, NULL, 0, NULL)) < 0)
                        return r;
        return 0;
}

typedef struct ViewsCollect {
        const char *group;
        char **names, **dirs;
        bool unified_only;
} ViewsCollect;

static int view_add(const MountEntry *e, void *userdata) {
        ViewsCollect *v = userdata;
        bool v2 = streq(e->fstype, "cgroup2");
        if ((!v2 && !streq(e->fstype, "cgroup")) || !streq(e->root, "/"))
                return 0;
        if (v2 && streq(e->target, "/sys/fs/cgroup"))
                v->unified_only = true;
        /* As runc: the v1 hierarchies only.  A unified view next to them
         * would make a systemd inside (which sees its cgroup's full path
         * without a cgroup namespace) try to manage a read-only one. */
        if (v2)
                return 0;
        const char *name = startswith(e->target, "/sys/fs/cgroup/");
        if (!name || !*name || strchr(name, '/'))
                return 0;
        _cleanup_free_ char *dir = xasprintf("%s/%s/payload", e->target, v->group);
        /* cpuset: berth makes no group there (it needs per-group setup). */
        if (access(dir, F_OK) < 0)
                return 0;
        v->names = strv_append(v->names, name);
        v->dirs = strv_append(v->dirs, dir);
        return 0;
}

int rootfs_cgroup_views(RootfsContext *c, const char *group) {
        ViewsCollect v = { .group = group };
        int r = mount_table_foreach(view_add, &v);
        if (r >= 0 && !v.unified_only) {
                c->cgroup_names = TAKE_PTR(v.names);
                c->cgroup_dirs = TAKE_PTR(v.dirs);
        }
        strv_free(v.names);
        strv_free(v.dirs);
        return r;
}

void rootfs_context_done(RootfsContext *c) {
        strv_free(c->cgroup_names);
        strv_free(c->cgroup_dirs);
        c->cgroup_names = c->cgroup_dirs = NULL;
}

/* The "cgroup" mount on a host with v1 hierarchies (see RootfsContext). */
static int cgroup_v1_mount(const RootfsContext *c, const OciMount *m, const MountOpts *o, char *err, size_t errlen) {
        _cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC), mfd = -EBADF;
        if (fs >= 0 && fsconfig(fs, FSCONFIG_SET_STRING, "mode", "755", 0) >= 0 &&
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) >= 0)
                mfd = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned) (o->attr_set & ~MOUNT_ATTR_RDONLY));
        int r = mfd < 0 ? -errno : attach(mfd, c->rootfd, m->destination, true);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Cannot mount a tmpfs on %s: %m", m->destination);
        for (size_t i = 0; c->cgroup_names[i]; i++) {
                _cleanup_free_ char *target = xasprintf("%s/%s", m->destination, c->cgroup_names[i]);
                _cleanup_close_ int tree = open_tree(AT_FDCWD, c->cgroup_dirs[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                struct mount_attr a = { .attr_set = o->attr_set, .attr_clr = o->attr_clr };
                if (tree < 0 || ((a.attr_set || a.attr_clr) && mount_setattr(tree, "", AT_EMPTY_PATH, &a, sizeof a) < 0))
                        return errbuf_printf(err, errlen, errno, "Cannot bind %s: %m", c->cgroup_dirs[i]);
                if ((r = attach(tree, c->rootfd, target, true)) < 0)
                        return errbuf_printf(err, errlen, r, "Cannot bind %s on %s: %m", c->cgroup_dirs[i], target);
        }
        if (o->attr_set & MOUNT_ATTR_RDONLY) {
                _cleanup_close_ int fd = open_target(c->rootfd, m->destination, true);
                struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
                if (fd < 0 || mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof a) < 0)
                        return errbuf_printf(err, errlen, fd < 0 ? fd : errno, "Cannot make %s read-only: %m",
                                             m->destination);
        }
        return 0;
}

static int fs_mount(const RootfsContext *c, const OciMount *m, const MountOpts *o, char *err, size_t errlen) {
        if (streq(m->type, "cgroup") && c->cgroup_names)
                return cgroup_v1_mount(c, m, o, err, errlen);
        /* A "cgroup" mount is the container's view of its own cgroup: with a
         * cgroup namespace, a cgroup2 mount shows it from its root. */
        const char *type = streq(m->type, "cgroup") ? "cgroup2" : m->type;
        _cleanup_close_ int fs = fsopen(type, FSOPEN_CLOEXEC);
        if (fs < 0)
                return errbuf_printf(err, errlen, errno, "Cannot mount %s (%s): %m", m->destination, m->type);
        if (m->source && !streq(type, "cgroup2") && fsconfig(fs, FSCONFIG_SET_STRING, "source", m->source, 0) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot mount %s: bad source %s: %m", m->destination,
                                     m->source);
        for (size_t i = 0; !streq(type, "cgroup2") && o->data && o->data[i]; i++) {
                _cleanup_free_ char *key = xstrdup(o->data[i]);
                char *eq = strchr(key, '=');
                int r;
                if (eq) {
                        *eq = 0;
                        r = fsconfig(fs, FSCONFIG_SET_STRING, key, eq + 1, 0);
                } else
                        r = fsconfig(fs, FSCONFIG_SET_FLAG, key, NULL, 0);
                if (r < 0)
                        return errbuf_printf(err, errlen, errno, "Cannot mount %s (%s): option %s: %m",
                                             m->destination, m->type, o->data[i]);
        }
        _cleanup_close_ int mfd = -EBADF;
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) >= 0)
                mfd = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned) o->attr_set);
        const char *host = streq(type, "sysfs") ? "/sys" : streq(type, "cgroup2") ? "/sys/fs/cgroup" : NULL;
        if (mfd < 0 && host && (errno == EPERM || errno == EBUSY)) {
                /* A user namespace without a network (sysfs) or cgroup namespace
                 * of its own may not mount these: the host's, read-only (as runc). */
                mfd = open_tree(AT_FDCWD, host, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
                struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                                    MOUNT_ATTR_NOEXEC };
                if (mfd >= 0 && mount_setattr(mfd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0)
                        closep(&mfd);
        }
        if (mfd < 0)
                return errbuf_printf(err, errlen, errno, "Cannot mount %s (%s): %m", m->destination, m->type);
        int r;
        if (o->tmpcopyup && streq(type, "tmpfs") && (r = copy_up(c->rootfd, m->destination, mfd)) < 0)
                return errbuf_printf(err, errlen, r, "Cannot copy the contents of %s into its tmpfs: %m",
                                     m->destination);
        r = attach(mfd, c->rootfd, m->destination, true);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Cannot mount %s (%s): %m", m->destination, m->type);
        return 0;
}

static const OciDevice default_devices[] = {
        { .path = (char *) "/dev/null", .type = 'c', .major = 1, .minor = 3, .mode = 0666 },
        { .path = (char *) "/dev/zero", .type = 'c', .major = 1, .minor = 5, .mode = 0666 },
        { .path = (char *) "/dev/full", .type = 'c', .major = 1, .minor = 7, .mode = 0666 },
        { .path = (char *) "/dev/random", .type = 'c', .major = 1, .minor = 8, .mode = 0666 },
        { .path = (char *) "/dev/urandom", .type = 'c', .major = 1, .minor = 9, .mode = 0666 },
        { .path = (char *) "/dev/tty", .type = 'c', .major = 5, .minor = 0, .mode = 0666 },
};

static int make_device(const RootfsContext *c, const OciDevice *d, char *err, size_t errlen) {
        _cleanup_free_ char *rel = mount_target_path(d->path);
        int r = mount_make_parents(c->rootfd, rel);
        if (r < 0)
                return errbuf_printf(err, errlen, r, "Cannot create the parent of %s: %m", d->path);
        dev_t dev = makedev(d->major, d->minor);
        mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
        if (c->new_userns && d->type != 'p') {
                /* No mknod in a user namespace: the host's node, if it is the same device. */
                struct stat st;
                if (stat(d->path, &st) < 0 || (st.st_mode & S_IFMT) != type || st.st_rdev != dev)
                        return errbuf_printf(err, errlen, ENODEV,
                                             "Cannot give the container %s: the host has no such device node to "
                                             "bind, and a user namespace cannot create one.", d->path);
                _cleanup_close_ int tree = open_tree(AT_FDCWD, d->path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                if (tree < 0 || (r = attach(tree, c->rootfd, d->path, false)) < 0)
                        return errbuf_printf(err, errlen, tree < 0 ? errno : r, "Cannot bind %s: %m", d->path);
                return 0;
        }
        _cleanup_free_ char *parent = xstrdup(rel);
        char *slash = strrchr(parent, '/');
        const char *leaf = slash ? slash + 1 : rel;
        if (slash)
                *slash = 0;
        _cleanup_close_ int pfd = slash ? chase_in_root(c->rootfd, parent, CHASE_NO_SYMLINKS, O_PATH | O_DIRECTORY, 0)
                                        : fcntl(c->rootfd, F_DUPFD_CLOEXEC, 3);
        if (pfd < 0)
                return errbuf_printf(err, errlen, pfd, "Cannot open the directory of %s: %m", d->path);
        if (slash)
                leaf = rel + (slash - parent) + 1;
        (void) unlinkat(pfd, leaf, 0);
        if (mknodat(pfd, leaf, type | (d->mode & 07777), dev) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot create the device node %s: %m", d->path);
        if (fchmodat(pfd, leaf, d->mode & 07777, 0) < 0 || fchownat(pfd, leaf, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot set up the device node %s: %m", d->path);
        return 0;
}

static int make_devices(const RootfsContext *c, char *err, size_t errlen) {
        const OciSpec *s = c->spec;
        int r;
        for (size_t i = 0; i < s->n_devices; i++)
                if ((r = make_device(c, &s->devices[i], err, errlen)) < 0)
                        return r;
        for (size_t i = 0; i < ELEMENTSOF(default_devices); i++) {
                bool listed = false;
                for (size_t k = 0; k < s->n_devices && !listed; k++)
                        listed = streq(s->devices[k].path, default_devices[i].path);
                if (!listed && (r = make_device(c, &default_devices[i], err, errlen)) < 0)
                        return r;
        }
        _cleanup_close_ int dev = chase_in_root(c->rootfd, "dev", CHASE_NO_SYMLINKS, O_PATH | O_DIRECTORY, 0);
        if (dev < 0)
                return 0;
        static const char *const links[][2] = {
                { "fd", "/proc/self/fd" },     { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
                { "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" },
        };
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                if (symlinkat(links[i][1], dev, links[i][0]) < 0 && errno != EEXIST)
                        return errbuf_printf(err, errlen, errno, "Cannot create /dev/%s: %m", links[i][0]);
        return 0;
}

static int mask_paths(const RootfsContext *c, char *err, size_t errlen) {
        for (size_t i = 0; c->spec->masked_paths && c->spec->masked_paths[i]; i++) {
                const char *p = c->spec->masked_paths[i];
                _cleanup_free_ char *rel = mount_target_path(p);
                _cleanup_close_ int fd = chase_in_root(c->rootfd, rel, 0, O_PATH, 0);
                if (fd == -ENOENT)
                        continue;
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0)
                        return errbuf_printf(err, errlen, fd < 0 ? fd : errno, "Cannot mask %s: %m", p);
                _cleanup_close_ int mfd = -EBADF;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
                        if (fs >= 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) >= 0)
                                mfd = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
                } else
                        mfd = open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                if (mfd < 0 || move_mount(mfd, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                        return errbuf_printf(err, errlen, errno, "Cannot mask %s: %m", p);
        }
        for (size_t i = 0; c->spec->readonly_paths && c->spec->readonly_paths[i]; i++) {
                const char *p = c->spec->readonly_paths[i];
                _cleanup_free_ char *rel = mount_target_path(p);
                _cleanup_close_ int fd = chase_in_root(c->rootfd, rel, 0, O_PATH, 0);
                if (fd == -ENOENT)
                        continue;
                if (fd < 0)
                        return errbuf_printf(err, errlen, fd, "Cannot make %s read-only: %m", p);
                _cleanup_close_ int tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
                                                                 AT_EMPTY_PATH);
                struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
                if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0 ||
                    move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                        return errbuf_printf(err, errlen, errno, "Cannot make %s read-only: %m", p);
        }
        return 0;
}

int rootfs_prepare(RootfsContext *c, char *err, size_t errlen) {
        /* Nothing we mount may reach the host; the host's unmounts still reach us. */
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot make the mount tree private: %m");
        const char *root = c->rootfs;
        if (c->root_tree >= 0) {
                /* Attached in the state dir, not on the rootfs path: the container's
                 * root may not search the engine's directories above it. */
                root = c->root_mountpoint;
                if (move_mount(c->root_tree, "", AT_FDCWD, root, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return errbuf_printf(err, errlen, errno, "Cannot attach the idmapped root on %s: %m", root);
                closep(&c->root_tree);
        } else if (mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot bind the root %s: %m", c->rootfs);
        c->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c->rootfd < 0)
                return errbuf_printf(err, errlen, errno, "Cannot open the root %s: %m", c->rootfs);

        for (size_t i = 0; i < c->spec->n_mounts; i++) {
                const OciMount *m = &c->spec->mounts[i];
                _cleanup_(mount_opts_done) MountOpts o = {};
                int r = mount_opts_parse(m->options, &o);
                if (r < 0)
                        return errbuf_printf(err, errlen, r, "mounts[%zu] (%s): idmapped mounts are not supported.",
                                             i, m->destination);
                if (o.bind || streq_ptr(m->type, "bind"))
                        r = bind_mount(c, i, m, &o, err, errlen);
                else if (m->type)
                        r = fs_mount(c, m, &o, err, errlen);
                else
                        r = errbuf_printf(err, errlen, EINVAL, "mounts[%zu] (%s): no type and not a bind.", i,
                                          m->destination);
                if (r < 0)
                        return r;
        }
        return make_devices(c, err, errlen);
}

int rootfs_open_pty(RootfsContext *c, int *ret_master, int *ret_slave, char *name, size_t name_len, char *err,
                    size_t errlen) {
        _cleanup_close_ int master = chase_in_root(c->rootfd, "dev/pts/ptmx", 0, O_RDWR | O_NOCTTY, 0);
        if (master < 0)
                return errbuf_printf(err, errlen, master, "Cannot open /dev/pts/ptmx in the container (process.terminal "
                                     "needs a devpts mount on /dev/pts): %m");
        int n, unlock = 0;
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot set up the pty: %m");
        int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return errbuf_printf(err, errlen, errno, "Cannot open the pty's terminal: %m");
        snprintf(name, name_len, "/dev/pts/%d", n);
        *ret_master = TAKE_FD(master);
        *ret_slave = slave;
        return 0;
}

int rootfs_pivot(RootfsContext *c, char *err, size_t errlen) {
        if (fchdir(c->rootfd) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot enter the root: %m");
        if (c->no_pivot) {
                if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
                        return errbuf_printf(err, errlen, errno, "Cannot move the root into place: %m");
        } else if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0)
                return errbuf_printf(err, errlen, errno, "pivot_root failed: %m");
        if (chdir("/") < 0)
                return errbuf_printf(err, errlen, errno, "chdir / failed: %m");
        closep(&c->rootfd);
        if (c->spec->root_readonly) {
                struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
                if (mount_setattr(AT_FDCWD, "/", 0, &a, sizeof a) < 0)
                        return errbuf_printf(err, errlen, errno, "Cannot make the root read-only: %m");
        }
        return 0;
}

int rootfs_finish(RootfsContext *c, char *err, size_t errlen) {
        const OciSpec *s = c->spec;
        if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot set the hostname: %m");
        for (size_t i = 0; s->sysctl && s->sysctl[i]; i++) {
                _cleanup_free_ char *key = xstrdup(s->sysctl[i]);
                char *eq = strchr(key, '=');
                *eq = 0;
                for (char *p = key; *p; p++)
                        if (*p == '.')
                                *p = '/';
                _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
                int r = write_string_at(AT_FDCWD, path, eq + 1);
                if (r < 0)
                        return errbuf_printf(err, errlen, r, "Cannot set sysctl %s: %m", s->sysctl[i]);
        }
        /* Last, as runc: the sysctls above write to /proc/sys, which is
         * usually among the read-only paths.  The root is now "/". */
        c->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c->rootfd < 0)
                return errbuf_printf(err, errlen, errno, "Cannot open the root: %m");
        int r = mask_paths(c, err, errlen);
        closep(&c->rootfd);
        return r;
}
