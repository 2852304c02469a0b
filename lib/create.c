/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Making machines: the staging directory a machine is built in and renamed
 * into place from only when complete, so a killed create leaves nothing that
 * "berth list" shows and the next create of that name cleans up; and what
 * fills its rootfs (a tree copy, a tarball, a template). */

#include <errno.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "build-config.h"
#include "chown-tree.h"
#include "cni.h"
#include "create.h"
#include "fs.h"
#include "import-exit.h"
#include "gc.h"
#include "kv.h"
#include "idmap.h"
#include "layers.h"
#include "log.h"
#include "newidmap.h"
#include "name.h"
#include "runtime.h"
#include "spawn.h"
#include "userns.h"
#include "util.h"

#define IMAGE_INFO_MAX 4096

void image_info_done(ImageInfo *i) {
        free(i->source_kind);
        free(i->manifest);
        free(i->ports);
        *i = (ImageInfo) {};
}

static char *image_value(const KeyValues *kv, const char *key) {
        const char *v = key_values_get(kv, key);
        size_t n = v ? strlen(v) : 0;
        if (n == 0 || n > 200 ||
            strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/._- ") < n)
                return NULL;
        return xstrdup(v);
}

int image_info_read_at(int dir_fd, ImageInfo *ret) {
        *ret = (ImageInfo) {};
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(dir_fd, "image", IMAGE_INFO_MAX, &kv);
        if (r < 0)
                return r;
        *ret = (ImageInfo) {
                .source_kind = image_value(&kv, "SOURCE_KIND"),
                .manifest = image_value(&kv, "MANIFEST"),
                .ports = image_value(&kv, "PORTS"),
        };
        return 0;
}

typedef struct TemplateInfo {
        const char *name;
        /* Without root, its cache is made first by the template run as the
         * user (--bootstrap-only: debian's mmdebstrap --mode=unshare, which
         * maps the user's subordinate IDs itself), then the rootfs by the
         * template as root of the machine's namespace (--unprivileged). */
        bool user_bootstrap;
} TemplateInfo;

static const TemplateInfo known_templates[] = {
        { "busybox", false },
        { "debian", true },
};

static const TemplateInfo *template_find(const char *template) {
        for (size_t i = 0; i < ELEMENTSOF(known_templates); i++)
                if (streq(template, known_templates[i].name))
                        return &known_templates[i];
        return NULL;
}

static const char *template_dir(void) {
        return secure_getenv("BERTH_TEMPLATE_DIR") ?: BERTH_TEMPLATE_DIR;
}

/* Remove the hidden dirs killed creates and rms left: .staging-NAME.RANDOM
 * and .removing-NAME.RANDOM.  HELD: only those of NAME HELD, whose lock the
 * caller holds; else those of every NAME whose lock is free (whoever makes
 * or removes NAME holds it, so a free lock means their command was killed).
 * Returns how many were removed. */
static int remove_leftovers(Store *store, const char *held, bool verbose) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(store->machines_fd, &d);
        if (r < 0)
                return r;
        int removed = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                /* NAME is what is between the prefix and the last dot. */
                const char *rest = startswith(de->d_name, ".staging-") ?: startswith(de->d_name, ".removing-");
                const char *dot = rest ? strrchr(rest, '.') : NULL;
                if (!dot || dot == rest)
                        continue;
                _cleanup_free_ char *name = strndup(rest, (size_t) (dot - rest));
                if (!name || !machine_name_is_valid(name) || (held && !streq(name, held)))
                        continue;
                _cleanup_close_ int lock = held ? -EBADF : store_lock_machine(store, name, true);
                if (!held && lock < 0)
                        continue;
                r = store_rm_machine_dir(store, de->d_name);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove stale %s/machines/%s, ignoring: %m", store->root,
                                          de->d_name);
                else {
                        removed++;
                        if (verbose)
                                log_info("Removed %s, left by an interrupted create or rm of '%s'.", de->d_name,
                                         name);
                        else
                                log_debug("Removed stale %s from an interrupted create.", de->d_name);
                }
        }
        return removed;
}

int staging_gc(Store *store, bool verbose) {
        return remove_leftovers(store, NULL, verbose);
}

static int make_staging(Store *store, const char *name, char **ret) {
        for (int tries = 0; tries < 16; tries++) {
                uint64_t rnd;
                if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                        return -errno;
                _cleanup_free_ char *s = xasprintf(".staging-%s.%016llx", name, (unsigned long long) rnd);
                if (mkdirat(store->machines_fd, s, 0700) < 0) {
                        if (errno == EEXIST)
                                continue;
                        return -errno;
                }
                *ret = TAKE_PTR(s);
                return 0;
        }
        return -EEXIST;
}

int staging_commit(Store *store, const Staging *s, const char *name, const char *conf, const char *info, int r) {
        if (r >= 0) {
                _cleanup_free_ char *text = xasprintf("# berth machine configuration; see berth.machine(5).\n%s", conf);
                r = write_file_atomic_at(s->fd, "machine.conf", text, strlen(text), 0644);
                if (r >= 0)
                        r = write_file_atomic_at(s->fd, "info", info, strlen(info), 0644);
                if (r < 0)
                        log_error_errno(r, "Failed to write the machine's configuration: %m");
        }
        if (r >= 0 && syncfs(s->fd) < 0)
                r = log_error_errno(errno, "Failed to sync %s: %m", s->path);
        if (r >= 0 && renameat2(store->machines_fd, s->name, store->machines_fd, name, RENAME_NOREPLACE) < 0)
                r = log_error_errno(errno, "Failed to move the new machine into place: %m");
        if (r < 0) {
                /* Helpers report only that they failed; the file system tells why. */
                if (fs_is_full(s->fd))
                        log_error("No space left on device: the file system holding %s/machines is full. Free "
                                  "space there and run the command again; nothing was created.",
                                  store->root);
                int k = store_rm_machine_dir(store, s->name);
                if (k < 0)
                        log_warning_errno(k, "Failed to remove %s, the next create will: %m", s->path);
        }
        return r;
}

/* Run the helper ARGV that fills the rootfs dir ROOTFS (a machine dir's
 * "rootfs"): as root in a sandbox; without root as root of a user namespace
 * mapped to the machine's range (the machine dir's idmap), so that what it
 * writes belongs to the machine's IDs with no host-root step. */
static int spawn_filler(char *const argv[], const char *rootfs) {
        if (geteuid() == 0)
                return spawn_sandboxed(argv);
        _cleanup_free_ char *dir = xasprintf("%s/..", rootfs);
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        if (dfd < 0)
                return log_error_errno(dfd, "Failed to open the machine directory of %s: %m", rootfs);
        uid_t base;
        int r = idmap_read_at(dfd, &base);
        if (r < 0)
                return log_error_errno(r, "Cannot read the UID range of %s: %m", rootfs);
        return spawn_in_userns(argv, base, rootfs);
}

int copy_tree(const char *src, const char *dst) {
        _cleanup_free_ char *from = xasprintf("%s/.", src);
        char *argv[] = { (char *) "/bin/cp", (char *) "-a", (char *) "--reflink=auto", (char *) "--", from,
                         (char *) dst, NULL };
        int r = spawn_sandboxed(argv);
        if (r < 0)
                return r;
        return r == 0 ? 0 : log_error_errno(SYNTHETIC_ERRNO(EIO), "Copying %s failed.", src);
}

typedef struct RangeCopy {
        Store *store;
        const char *src_mpath;
        const char *src;
        const char *dst;
} RangeCopy;

/* In a namespace already: a plain cp -a, which keeps the IDs. */
static int copy_tree_in_range(void *userdata) {
        const RangeCopy *c = userdata;
        /* A layered source: its whole view, mounted where only this
         * namespace sees it (its root may mount it: the layers belong to
         * the source's range, mapped here). */
        if (c->src_mpath) {
                int r = layers_mount_merged(c->store, c->src_mpath);
                if (r < 0)
                        return log_error_errno(r, "Failed to mount the layers of %s: %m", c->src_mpath);
        }
        /* Already in the namespace: a plain cp -a keeps the source's IDs
         * (0..65535 here), then they move to the second range. */
        _cleanup_free_ char *from = xasprintf("%s/.", c->src);
        char *argv[] = { (char *) "/bin/cp", (char *) "-a", (char *) "--reflink=auto", (char *) "--", from,
                         (char *) c->dst, NULL };
        int r = spawn_plain(argv);
        if (r < 0)
                return r;
        return r == 0 ? 0 : log_error_errno(SYNTHETIC_ERRNO(EIO), "Copying %s failed.", c->src);
}

static int copy_tree_in_pair(void *userdata) {
        const RangeCopy *c = userdata;
        /* The copy keeps the source's IDs (0..65535 here), then they move
         * to the second range. */
        int r = copy_tree_in_range(userdata);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open_dir_nofollow(AT_FDCWD, c->dst);
        if (fd < 0)
                return log_error_errno(fd, "Failed to open %s: %m", c->dst);
        r = chown_tree_shift(fd, 0, NEWIDMAP_SECOND_ID, USERNS_RANGE_SIZE);
        if (r < 0)
                return log_error_errno(r, "Failed to give %s to its machine's IDs: %m", c->dst);
        return 0;
}

int copy_tree_as_machine(Store *store, int machine_dir_fd, const char *src_mpath, const char *src,
                         const char *dst) {
        if (geteuid() == 0)
                return copy_tree(src, dst);
        /* A user: as the machine's root, so the copy keeps its owners. */
        return userns_call(machine_dir_fd, copy_tree_in_range, &(RangeCopy) { store, src_mpath, src, dst });
}

int copy_tree_to_range(Store *store, const char *src_mpath, const char *src, uid_t src_base, const char *dst,
                       uid_t dst_base) {
        return userns_call_pair(src_base, dst_base, copy_tree_in_pair,
                                &(RangeCopy) { store, src_mpath, src, dst });
}

void staging_done(Staging *s) {
        free(s->name);
        free(s->path);
        free(s->rootfs);
        closep(&s->fd);
        closep(&s->lock);
        *s = (Staging) STAGING_INIT;
}

int staging_make(Store *store, const char *name, uid_t shared_base, Staging *ret) {
        _cleanup_close_ int lock = store_lock_machine(store, name, false);
        if (lock < 0)
                return lock;
        int r = store_machine_exists(store, name);
        if (r < 0)
                return log_error_errno(r, "Failed to look up machine '%s': %m", name);
        if (r > 0)
                return log_error_errno(SYNTHETIC_ERRNO(EEXIST),
                                       "Machine '%s' already exists. Remove it first with 'berth rm %s'.", name, name);
        (void) remove_leftovers(store, name, false);

        _cleanup_free_ char *staging = NULL;
        r = make_staging(store, name, &staging);
        if (r < 0)
                return log_error_errno(r, "Failed to create a staging directory in %s/machines: %m", store->root);
        _cleanup_free_ char *path = xasprintf("%s/machines/%s", store->root, staging);
        _cleanup_close_ int sfd = open_dir_nofollow(store->machines_fd, staging);
        r = sfd;
        /* The rootfs dir is the guest's "/": 0755 like any root directory. */
        if (r >= 0)
                r = RET_NERRNO(mkdirat(sfd, "rootfs", 0755));
        if (r >= 0)
                r = RET_NERRNO(fchmodat(sfd, "rootfs", 0755, 0));
        if (r < 0)
                log_error_errno(r, "Failed to prepare %s: %m", path);
        if (r >= 0) {
                /* Every machine gets its private UID range at birth, used whenever
                 * it runs with PrivateUsers=yes; one that shares a range takes
                 * none of its own (the range's owner holds the claim). */
                uid_t base;
                r = shared_base == STAGING_RANGE_LATER ? 0 :
                    shared_base != 0                   ? idmap_write_at(sfd, shared_base) :
                                                         userns_ensure_range(store, sfd, &base);
                if (r < 0)
                        log_error_errno(r, "Failed to %s a UID range: %m", shared_base != 0 ? "record" : "allocate");
        }
        if (r < 0) {
                (void) store_rm_machine_dir(store, staging);
                return r;
        }
        /* Initializers are evaluated in no set order: rootfs before path is taken. */
        char *rootfs = xasprintf("%s/rootfs", path);
        *ret = (Staging) {
                .rootfs = rootfs,
                .path = TAKE_PTR(path),
                .name = TAKE_PTR(staging),
                .fd = TAKE_FD(sfd),
                .lock = TAKE_FD(lock),
        };
        return 0;
}

bool template_is_known(const char *template) {
        return template_find(template) != NULL;
}

/* Without root: TEMPLATE's cache, built as the user (see TemplateInfo). */
static int template_user_bootstrap(const char *tpl, const char *template, const char *release, const char *cache,
                                   bool refresh) {
        char *argv[] = { (char *) tpl, (char *) "--bootstrap-only", (char *) "--cache-dir", (char *) cache,
                         NULL, NULL, NULL, NULL };
        size_t n = 4;
        if (release) {
                argv[n++] = (char *) "--release";
                argv[n++] = (char *) release;
        }
        if (refresh)
                argv[n++] = (char *) "--refresh";
        /* Plainly as the user: mmdebstrap makes its own namespaces (a PID
         * namespace of ours would leave it no newuidmap to reach). */
        int r = spawn_plain(argv);
        if (r < 0)
                return r;
        if (r != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Template '%s' failed to build its cache without root "
                                       "(exit status %d).", template, r);
        return 0;
}

int template_populate(Store *store, const char *template, const char *release, const char *name, const char *rootfs,
                      bool refresh) {
        _cleanup_free_ char *tpl = xasprintf("%s/%s", template_dir(), template);
        _cleanup_free_ char *cache = xasprintf("%s/images/templates", store->root);
        int r = mkdir_p_at(AT_FDCWD, cache, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", cache);
        const TemplateInfo *info = template_find(template);
        bool user_bootstrap = info && info->user_bootstrap && geteuid() != 0;
        if (user_bootstrap) {
                r = template_user_bootstrap(tpl, template, release, cache, refresh);
                if (r < 0)
                        return r;
        }
        char *argv[] = { tpl, (char *) "--rootfs", (char *) rootfs, (char *) "--name", (char *) name,
                         (char *) "--cache-dir", cache, NULL, NULL, NULL, NULL, NULL };
        size_t n = 7;
        if (release) {
                argv[n++] = (char *) "--release";
                argv[n++] = (char *) release;
        }
        if (user_bootstrap)
                argv[n++] = (char *) "--unprivileged";
        else if (refresh)
                argv[n++] = (char *) "--refresh";
        r = spawn_filler(argv, rootfs);
        if (r < 0)
                return r;
        if (r != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Template '%s' failed (exit status %d).", template, r);
        return 0;
}

int unpack_tarball(const char *tar, const char *max_size, const char *rootfs) {
        /* Untrusted archive parsing happens in its own sandboxed process. */
        const char *unpack = secure_getenv("BERTH_UNPACK") ?: BERTH_UNPACK_PATH;
        char *argv[] = { (char *) unpack, (char *) "--max-size", (char *) max_size, (char *) "--", (char *) tar,
                         (char *) rootfs, NULL };
        int r = spawn_filler(argv, rootfs);
        if (r < 0)
                return r;
        return r == 0 ? 0 : log_error_errno(SYNTHETIC_ERRNO(EIO), "Unpacking %s failed.", tar);
}

/* Remove what killed builds of image NAME left (we hold its build lock);
 * a user's through the range of each (image_build_template_user()). */
static void clean_image_staging(Store *store, int images_fd, const char *name) {
        _cleanup_free_ char *prefix = xasprintf(".staging-%s.", name);
        _cleanup_free_ char *bases = xasprintf("%s/images/bases", store->root);
        _cleanup_closedir_ DIR *d = NULL;
        if (opendir_dup(images_fd, &d) < 0)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (startswith(de->d_name, prefix))
                        (void) store_rm_ranged_dir_at(images_fd, bases, de->d_name);
}

/* Finish the run image NAME built in STAGING (SFD) of IMAGES_FD, unless R
 * says the build failed: its machine.conf, info and IMAGE (may be NULL)
 * files, then the rename; else (or if that fails) remove the staging dir,
 * a user's through its range.  0 or -errno (logged). */
static int run_image_commit(Store *store, int images_fd, int sfd, const char *staging, const char *name,
                            const char *image, int r) {
        static const char conf[] = "# berth image configuration; see berth.machine(5).\n";
        _cleanup_free_ char *info = xasprintf("SOURCE=template:%s\nCREATED_USEC=%llu\n", name,
                                              (unsigned long long) now_usec(CLOCK_REALTIME));
        if (r >= 0)
                r = write_file_atomic_at(sfd, "machine.conf", conf, strlen(conf), 0644);
        if (r >= 0)
                r = write_file_atomic_at(sfd, "info", info, strlen(info), 0644);
        if (r >= 0 && image)
                r = write_file_atomic_at(sfd, "image", image, strlen(image), 0644);
        if (r >= 0 && syncfs(sfd) < 0)
                r = -errno;
        if (r >= 0 && renameat2(images_fd, staging, images_fd, name, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0) {
                _cleanup_free_ char *bases = xasprintf("%s/images/bases", store->root);
                int k = store_rm_ranged_dir_at(images_fd, bases, staging);
                if (k < 0)
                        log_warning_errno(k, "Failed to remove %s/%s, the next build will: %m", bases, staging);
                return log_error_errno(r, "Failed to build the image '%s' from its template: %m", name);
        }
        return 0;
}

int image_build_layered(Store *store, int images_fd, const char *name, char *const *layers, const char *manifest) {
        clean_image_staging(store, images_fd, name);
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                return log_error_errno(errno, "getrandom failed: %m");
        _cleanup_free_ char *staging = xasprintf(".staging-%s.%016llx", name, (unsigned long long) rnd);
        if (mkdirat(images_fd, staging, 0700) < 0)
                return log_error_errno(errno, "Failed to create %s/images/bases/%s: %m", store->root, staging);
        _cleanup_close_ int sfd = open_dir_nofollow(images_fd, staging);
        /* The rootfs is the run image's (empty) upper over LAYERS; the
         * guest's "/" gets its attributes from the top layer. */
        int r = sfd < 0 ? sfd : RET_NERRNO(mkdirat(sfd, "rootfs", 0755));
        if (r >= 0)
                r = layers_write(sfd, "layers", layers);
        if (r >= 0)
                r = layers_init_upper(store, sfd, "rootfs", layers);
        /* As a machine of an image records it (image_info_read_at()). */
        _cleanup_free_ char *image = xasprintf("MANIFEST=%s\n", manifest);
        return run_image_commit(store, images_fd, sfd, staging, name, image, r);
}

int image_build_template_user(Store *store, int images_fd, const char *name) {
        clean_image_staging(store, images_fd, name);
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                return log_error_errno(errno, "getrandom failed: %m");
        _cleanup_free_ char *staging = xasprintf(".staging-%s.%016llx", name, (unsigned long long) rnd);
        _cleanup_free_ char *bases = xasprintf("%s/images/bases", store->root);
        _cleanup_free_ char *path = xasprintf("%s/%s", bases, staging);
        if (mkdirat(images_fd, staging, 0700) < 0)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        _cleanup_close_ int sfd = open_dir_nofollow(images_fd, staging);
        _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", path);
        /* The guest's "/": 0755 like any root directory. */
        int r = sfd < 0 ? sfd : RET_NERRNO(mkdirat(sfd, "rootfs", 0755));
        if (r >= 0)
                r = RET_NERRNO(fchmodat(sfd, "rootfs", 0755, 0));
        if (r < 0)
                log_error_errno(r, "Failed to prepare %s: %m", path);
        /* A range of the user's own, which the image's instances boot in
         * (no idmapped mounts without root to give them others): the
         * registry counts the dir's siblings, so the rename keeps it. */
        uid_t base;
        if (r >= 0)
                r = userns_ensure_range_at(images_fd, bases, sfd, &base);
        if (r >= 0)
                r = template_populate(store, name, NULL, name, rootfs, false);
        return run_image_commit(store, images_fd, sfd, staging, name, NULL, r);
}

int run_image_remove(Store *store, int images_fd, const char *name) {
        _cleanup_free_ char *bases = xasprintf("%s/images/bases", store->root);
        _cleanup_close_ int dfd = open_dir_nofollow(images_fd, name);
        uid_t base;
        /* Root's images have no range of their own (their instances take one). */
        bool ranged = dfd >= 0 && geteuid() != 0 && idmap_read_at(dfd, &base) >= 0;
        int r = store_rm_ranged_dir_at(images_fd, bases, name);
        if (r < 0)
                return r;
        if (ranged)
                store_range_release(base);
        return 0;
}

int run_instance_make(Store *store, int src_fd, const char *base, const char *name, bool remove, const char *id) {
        uint64_t rnd = 0;
        (void) getrandom(&rnd, sizeof rnd, 0);
        _cleanup_free_ char *staging = xasprintf(".staging-%s.%016llx", name, (unsigned long long) rnd);
        if (mkdirat(store->machines_fd, staging, 0700) < 0)
                return log_error_errno(errno, "Failed to create the run machine: %m");
        _cleanup_close_ int sfd = open_dir_nofollow(store->machines_fd, staging);
        _cleanup_free_ char *conf = NULL;
        int r = sfd < 0 ? sfd : 0;
        /* The source's configuration, as it is now. */
        if (r >= 0) {
                r = read_file_at(src_fd, "machine.conf", CONFIG_FILE_MAX, &conf, NULL);
                if (r == -ENOENT) {
                        conf = xstrdup("");
                        r = 0;
                }
        }
        if (r >= 0)
                r = write_file_atomic_at(sfd, "machine.conf", conf, strlen(conf), 0644);
        _cleanup_free_ char *text = xasprintf("BASE=%s\nREMOVE=%d\nID=%s\n", base, remove, id);
        if (r >= 0)
                r = write_file_atomic_at(sfd, "base", text, strlen(text), 0644);
        const char *what = startswith(base, STORE_IMAGE_PREFIX) ?: base;
        _cleanup_free_ char *info = xasprintf("SOURCE=run:%s\nCREATED_USEC=%llu\n", what,
                                              (unsigned long long) now_usec(CLOCK_REALTIME));
        if (r >= 0)
                r = write_file_atomic_at(sfd, "info", info, strlen(info), 0644);
        uid_t uid;
        /* Without root an instance boots in its base's range (no idmapped
         * mounts to give it another): it takes none of the user's. */
        if (r >= 0 && geteuid() == 0)
                r = userns_ensure_range(store, sfd, &uid);
        if (r >= 0 && renameat2(store->machines_fd, staging, store->machines_fd, name, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0) {
                (void) rm_rf_at(store->machines_fd, staging);
                return log_error_errno(r, "Failed to create the run machine '%s': %m", name);
        }
        return 0;
}

bool run_instance_is_ours(Store *store, const char *name, const char *id) {
        _cleanup_close_ int dfd = open_dir_nofollow(store->machines_fd, name);
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        return dfd >= 0 && key_values_read_at(dfd, "base", 256, &kv) >= 0 && streq_ptr(key_values_get(&kv, "ID"), id);
}

/* The runtime dir of a machine that is gone, with the CNI attachment of a
 * killed supervisor it may still record (its DEL first). */
static void runtime_dir_remove(Store *store, const char *name) {
        _cleanup_close_ int dfd = open_dir_nofollow(store->run_fd, name);
        if (dfd >= 0)
                (void) cni_cache_cleanup(dfd, name);
        (void) rm_rf_at(store->run_fd, name);
}

void run_instance_remove(Store *store, const char *name) {
        if (gc_machine_scratch(store, name, NULL) < 0)
                return;
        _cleanup_free_ char *tmp = xasprintf(".removing-%s.run", name);
        (void) store_remove_machine(store, name, tmp);
        runtime_dir_remove(store, name);
}

int import_helper_run(const ImportOptions *o, bool progress, const char *source, const char *rootfs,
                      const char *outdir) {
        char *argv[20];
        size_t n = 0;
        argv[n++] = (char *) (secure_getenv("BERTH_IMPORT") ?: BERTH_IMPORT_PATH);
        if (o->ref) {
                argv[n++] = (char *) "--ref";
                argv[n++] = (char *) o->ref;
        }
        if (o->platform) {
                argv[n++] = (char *) "--platform";
                argv[n++] = (char *) o->platform;
        }
        argv[n++] = (char *) "--boot";
        argv[n++] = (char *) o->boot;
        argv[n++] = (char *) "--max-size";
        argv[n++] = (char *) o->max_size;
        if (progress)
                argv[n++] = (char *) "--progress";
        if (o->layers_dir) {
                argv[n++] = (char *) "--layers";
                argv[n++] = (char *) o->layers_dir;
        }
        if (o->configure_only)
                argv[n++] = (char *) "--configure-only";
        argv[n++] = (char *) "--";
        argv[n++] = (char *) source;
        argv[n++] = (char *) rootfs;
        argv[n++] = (char *) outdir;
        argv[n] = NULL;
        /* Without root, as root of the new machine's namespace (as create
         * --from-tar): what it unpacks belongs to the machine's range. */
        int r = geteuid() == 0 ? spawn_sandboxed(argv) : spawn_filler(argv, rootfs);
        if (r < 0) /* logged; -EINVAL is kept for the helper's refusal */
                return r == -EINVAL ? -EIO : r;
        if (r == IMPORT_EXIT_USAGE)
                return -EINVAL; /* the helper said why: not an image, no such ref or platform */
        if (r == IMPORT_EXIT_IMAGE_REFUSED)
                return -EBADMSG; /* it said why: a blob failed its check, or the limit */
        if (r != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Importing %s failed; nothing was created.", source);
        return 0;
}

int image_config_apply(MachineConfig *cfg, const char *fragment) {
        const uint64_t image_keys =
                CONFIG_KEY_BIT(CONFIG_MACHINE_INIT) | CONFIG_KEY_BIT(CONFIG_MACHINE_HOSTNAME) |
                CONFIG_KEY_BIT(CONFIG_MACHINE_POWEROFF_SIGNAL) | CONFIG_KEY_BIT(CONFIG_MACHINE_BOOT) |
                CONFIG_KEY_BIT(CONFIG_EXEC_COMMAND) | CONFIG_KEY_BIT(CONFIG_EXEC_ENVIRONMENT) |
                CONFIG_KEY_BIT(CONFIG_EXEC_WORKING_DIRECTORY) | CONFIG_KEY_BIT(CONFIG_EXEC_USER);
        MachineConfig scratch;
        machine_config_init(&scratch);
        int r = machine_config_parse_text(&scratch, fragment, strlen(fragment), "image configuration",
                                          CONFIG_SOURCE_MACHINE, true, NULL);
        uint64_t mask = scratch.set_mask;
        machine_config_done(&scratch);
        if (r >= 0 && (mask & ~image_keys) != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "The import helper set configuration an image cannot set; refusing it.");
        _cleanup_free_ char *err = NULL;
        r = machine_config_parse_text(cfg, fragment, strlen(fragment), "image configuration", CONFIG_SOURCE_MACHINE,
                                      true, &err);
        if (r < 0)
                log_error("%s", err ?: "The image's configuration is invalid.");
        return r;
}

int machine_remove(Store *store, const char *name) {
        uint64_t rnd = 0;
        (void) getrandom(&rnd, sizeof rnd, 0);
        _cleanup_free_ char *tmp = xasprintf(".removing-%s.%016llx", name, (unsigned long long) rnd);
        int r = store_remove_machine(store, name, tmp);
        if (r < 0)
                return log_error_errno(r, "Failed to remove machine '%s' (%s/machines/%s): %m", name, store->root,
                                       tmp);
        runtime_dir_remove(store, name);
        return 0;
}
