/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fs.h"
#include "idmap.h"
#include "image-ref.h"
#include "layers.h"
#include "log.h"
#include "newidmap.h"
#include "rootfs.h"
#include "spawn.h"
#include "store.h"
#include "userns.h"
#include "util.h"

/* Names in a machine dir.  ".next-*" and ".rootfs-new" exist only while a
 * rootfs_switch() runs (or was killed). */
#define NEXT_LAYERS ".next-layers"
#define NEXT_CONF ".next-machine.conf"
#define NEXT_ROOTFS ".next-rootfs"
#define OLD_ROOTFS ".old-rootfs"
#define LAYER_ID_LEN 16

int layers_lock(Store *s) {
        /* A name no machine can have: machine names never start with a dot. */
        return lock_file_at(s->locks_fd, ".layers", true, true);
}

static bool layer_id_is_valid(const char *id) {
        if (strlen(id) != LAYER_ID_LEN)
                return false;
        for (const char *p = id; *p; p++)
                if (!strchr("0123456789abcdef", *p))
                        return false;
        return true;
}

int layers_read(int dirfd, const char *name, char ***ret) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_file_at(dirfd, name, (LAYERS_MAX + 1) * (LAYER_ID_LEN + 1), &text, &len);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        /* A NUL would end the list early, silently. */
        if (memchr(text, 0, len))
                return -EBADMSG;
        _cleanup_strv_free_ char **l = NULL;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                /* An ID is never a path: a list cannot point outside the store.
                 * overlayfs refuses a lower dir twice: so does the list. */
                if (!layer_id_is_valid(line) || strv_length(l) >= LAYERS_MAX || strv_contains(l, line))
                        return -EBADMSG;
                l = strv_append(l, line);
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static char *layers_format(char *const *layers) {
        char *text = xstrdup("");
        for (char *const *l = layers; l && *l; l++)
                strextendf(&text, "%s\n", *l);
        return text;
}

int layers_write(int dirfd, const char *name, char *const *layers) {
        _cleanup_free_ char *text = layers_format(layers);
        return write_file_atomic_at(dirfd, name, text, strlen(text), 0644);
}

char *layer_tree_path(Store *s, const char *id) {
        return xasprintf("%s/images/layers/%s/tree", s->root, id);
}

static int layers_dir(Store *s, bool create) {
        if (create && mkdirat(s->images_fd, "layers", 0700) < 0 && errno != EEXIST)
                return -errno;
        return open_dir_nofollow(s->images_fd, "layers");
}

int reflink_supported(int dirfd) {
        _cleanup_close_ int a = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (a < 0)
                return errno == EOPNOTSUPP || errno == EISDIR ? 0 : -errno;
        _cleanup_close_ int b = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (b < 0)
                return -errno;
        int r = write_all(a, "berth", 5);
        if (r < 0)
                return r;
        if (ioctl(b, FICLONE, a) == 0)
                return 1;
        return errno == EOPNOTSUPP || errno == ENOTTY || errno == EINVAL || errno == EXDEV ? 0 : -errno;
}

static int exists_at(int dirfd, const char *name) {
        if (faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return 1;
        return errno == ENOENT ? 0 : -errno;
}

static int unlink_if_exists(int dirfd, const char *name) {
        return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

/* The order of the steps, which makes a killed switch recoverable: the
 * new parts are prepared under .next-* names, then the old rootfs moves
 * away (the commit), then the .next-* parts take their places, the rootfs
 * last.  So a machine dir with a rootfs never is mid-commit (whatever
 * .next-* it holds is dropped), and one without a rootfs but with a
 * .next-rootfs is committed (finished here). */
/* A tree of the machine dir MFD: a user's is its range's (store.h). */
static int rm_machine_tree(int mfd, const char *name) {
        return store_rm_tree_in_range(mfd, mfd, NULL, name);
}

static int switch_recover(int mfd, bool keep_new) {
        int r = keep_new ? 0 : rm_machine_tree(mfd, ROOTFS_NEW);
        if (r < 0)
                return r;
        int has_rootfs = exists_at(mfd, "rootfs"), has_next = exists_at(mfd, NEXT_ROOTFS);
        if (has_rootfs < 0 || has_next < 0)
                return has_rootfs < 0 ? has_rootfs : has_next;
        if (has_rootfs) {
                r = rm_machine_tree(mfd, NEXT_ROOTFS);
                if (r >= 0)
                        r = unlink_if_exists(mfd, NEXT_LAYERS);
                if (r >= 0)
                        r = unlink_if_exists(mfd, NEXT_CONF);
                if (r >= 0)
                        r = rm_machine_tree(mfd, OLD_ROOTFS);
                return r;
        }
        if (!has_next)
                return -ENOENT; /* no rootfs, and nothing to finish */

        _cleanup_free_ char *list = NULL;
        r = read_file_at(mfd, NEXT_LAYERS, (LAYERS_MAX + 1) * (LAYER_ID_LEN + 1), &list, NULL);
        if (r >= 0 && isempty(list)) {
                r = unlink_if_exists(mfd, "layers");
                if (r >= 0)
                        r = unlink_if_exists(mfd, NEXT_LAYERS);
        } else if (r >= 0)
                r = RET_NERRNO(renameat(mfd, NEXT_LAYERS, mfd, "layers"));
        else if (r == -ENOENT)
                r = 0; /* moved already */
        if (r >= 0 && renameat(mfd, NEXT_CONF, mfd, "machine.conf") < 0 && errno != ENOENT)
                r = -errno;
        /* Overlayfs's work dir belongs to the old upper (and for a user to
         * the range: overlayfs made its work/ as the machine's root). */
        if (r >= 0)
                r = rm_machine_tree(mfd, OVERLAY_WORK);
        if (r >= 0)
                r = RET_NERRNO(renameat(mfd, NEXT_ROOTFS, mfd, "rootfs"));
        if (r >= 0)
                r = rm_machine_tree(mfd, OLD_ROOTFS);
        if (r >= 0 && syncfs(mfd) < 0)
                r = -errno;
        return r;
}

int rootfs_switch_recover(Store *s, int mfd) {
        (void) s;
        return switch_recover(mfd, false);
}

/* Give dir NAME below MFD the owner and mode of ST's. */
static int copy_root_attrs(int mfd, const char *name, const struct stat *st) {
        if (fchownat(mfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return RET_NERRNO(fchmodat(mfd, name, st->st_mode & 07777, 0));
}

int layers_init_upper(Store *s, int mfd, const char *name, char *const *layers) {
        if (!layers || !layers[0])
                return 0;
        _cleanup_free_ char *top = layer_tree_path(s, layers[0]);
        struct stat st;
        if (stat(top, &st) < 0)
                return -errno;
        return copy_root_attrs(mfd, name, &st);
}


int rootfs_switch(Store *s, int mfd, const RootfsSwitch *sw) {
        int r = switch_recover(mfd, sw->populated);
        if (r < 0)
                return r;
        if (sw->freeze_id && !layer_id_is_valid(sw->freeze_id))
                return -EINVAL;

        _cleanup_free_ char *list = layers_format(sw->layers);
        r = write_file_atomic_at(mfd, NEXT_LAYERS, list, strlen(list), 0644);
        if (r >= 0 && sw->conf)
                r = write_file_atomic_at(mfd, NEXT_CONF, sw->conf, strlen(sw->conf), 0644);
        if (r >= 0 && !sw->populated) {
                /* A frozen rootfs is the new top layer: the upper gets its root's attributes. */
                struct stat st;
                r = RET_NERRNO(mkdirat(mfd, ROOTFS_NEW, 0755));
                if (r >= 0 && sw->freeze_id)
                        r = fstatat(mfd, "rootfs", &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno
                                                                                 : copy_root_attrs(mfd, ROOTFS_NEW, &st);
                else if (r >= 0)
                        r = layers_init_upper(s, mfd, ROOTFS_NEW, sw->layers);
        }
        if (r >= 0)
                r = RET_NERRNO(renameat(mfd, ROOTFS_NEW, mfd, NEXT_ROOTFS));
        if (r >= 0 && syncfs(mfd) < 0)
                r = -errno;

        /* The commit: the old rootfs goes. */
        _cleanup_close_ int ldir = -EBADF;
        if (r >= 0 && sw->freeze_id) {
                ldir = layers_dir(s, true);
                r = ldir < 0 ? ldir : RET_NERRNO(mkdirat(ldir, sw->freeze_id, 0700));
                _cleanup_close_ int lfd = r < 0 ? r : open_dir_nofollow(ldir, sw->freeze_id);
                /* A user's layer says its range before it holds anything,
                 * so that whatever is left of it is removed through it;
                 * its dir is the user's, as a machine dir is, and open to
                 * the machines' namespaces, as an image layer's is (the
                 * layer store around it is the user's, 0700). */
                if (lfd >= 0 && sw->freeze_range != 0) {
                        r = idmap_write_at(lfd, sw->freeze_range);
                        if (r >= 0 &&
                            (fchown(lfd, NEWIDMAP_SELF_ID, NEWIDMAP_SELF_ID) < 0 || fchmod(lfd, 0755) < 0))
                                r = -errno;
                }
                if (r >= 0)
                        r = lfd < 0 ? lfd : RET_NERRNO(renameat(mfd, "rootfs", lfd, "tree"));
        } else if (r >= 0)
                r = RET_NERRNO(renameat(mfd, "rootfs", mfd, OLD_ROOTFS));
        if (r < 0) {
                (void) rootfs_switch_recover(s, mfd); /* undo what was prepared */
                return r;
        }
        if (syncfs(mfd) < 0)
                log_debug_errno(errno, "syncfs failed, ignoring: %m");
        return rootfs_switch_recover(s, mfd);
}

static int new_layer_id(char ret[static LAYER_ID_LEN + 1]) {
        uint64_t rnd;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                return -errno;
        snprintf(ret, LAYER_ID_LEN + 1, "%016llx", (unsigned long long) rnd);
        return 0;
}

/* Whether the upper dir holds nothing over LAYERS: no entry, and the root's
 * owner and mode those of the top layer's root. */
static int upper_is_unchanged(Store *s, int mfd, char *const *layers) {
        _cleanup_close_ int ufd = open_dir_nofollow(mfd, "rootfs");
        if (ufd < 0)
                return ufd;
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(ufd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        return 0;
        _cleanup_free_ char *top = layer_tree_path(s, layers[0]);
        struct stat a, b;
        if (fstat(ufd, &a) < 0 || stat(top, &b) < 0)
                return -errno;
        return a.st_uid == b.st_uid && a.st_gid == b.st_gid && a.st_mode == b.st_mode;
}

int layers_freeze(Store *s, int mfd, uid_t range, char ***ret) {
        _cleanup_strv_free_ char **cur = NULL;
        int r = layers_read(mfd, "layers", &cur);
        if (r < 0)
                return r;
        if (cur) {
                r = upper_is_unchanged(s, mfd, cur);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = TAKE_PTR(cur);
                        return 0;
                }
        }
        if (strv_length(cur) >= LAYERS_MAX)
                return -E2BIG;
        char id[LAYER_ID_LEN + 1];
        r = new_layer_id(id);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **next = strv_append(NULL, id);
        for (char **l = cur; l && *l; l++)
                next = strv_append(next, *l);
        r = rootfs_switch(s, mfd, &(RootfsSwitch) { .layers = next, .freeze_id = id, .freeze_range = range });
        if (r < 0)
                return r;
        *ret = TAKE_PTR(next);
        return 0;
}

/* Add the IDs listed in file NAME below DIRFD to *REFS. */
/* Add the layers of list NAME below DIRFD (WHERE, for the message) to REFS.
 * A list that cannot be read may name any layer: then nothing may be pruned. */
static int collect_refs(int dirfd, const char *where, const char *name, char ***refs) {
        _cleanup_strv_free_ char **l = NULL;
        int r = layers_read(dirfd, name, &l);
        if (r < 0)
                return log_error_errno(r, "Cannot read the layer list %s/%s: %m. No layer is removed until it is "
                                       "fixed or its machine removed.", where, name);
        for (char **p = l; p && *p; p++)
                *refs = strv_append(*refs, *p);
        return 0;
}

/* The layers the read-only images of berth run (ROOT/images/bases/NAME,
 * finished or staging) stand on: those built over a template's image. */
static int base_refs(Store *s, char ***refs) {
        _cleanup_close_ int bdir = open_dir_nofollow(s->images_fd, "bases");
        if (bdir == -ENOENT)
                return 0;
        if (bdir < 0)
                return bdir;
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(bdir, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_close_ int fd = open_dir_nofollow(bdir, de->d_name);
                if (fd == -ENOTDIR || fd == -ENOENT || fd == -ELOOP)
                        continue;
                if (fd < 0)
                        return fd;
                _cleanup_free_ char *where = xasprintf("%s/images/bases/%s", s->root, de->d_name);
                r = collect_refs(fd, where, "layers", refs);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Every layer any machine dir (finished, staging, being removed), pending
 * switch or snapshot (finished or staging), or run image names. */
static int referenced_layers(Store *s, char ***ret) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(s->machines_fd, &d);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **refs = NULL;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_close_ int mfd = open_dir_nofollow(s->machines_fd, de->d_name);
                if (mfd == -ENOTDIR || mfd == -ENOENT || mfd == -ELOOP)
                        continue;
                if (mfd < 0)
                        return mfd;
                _cleanup_free_ char *where = xasprintf("%s/machines/%s", s->root, de->d_name);
                r = collect_refs(mfd, where, "layers", &refs);
                if (r >= 0)
                        r = collect_refs(mfd, where, NEXT_LAYERS, &refs);
                if (r < 0)
                        return r;
                _cleanup_close_ int sdir = open_dir_nofollow(mfd, "snapshots");
                _cleanup_closedir_ DIR *sd = NULL;
                if (sdir < 0 || opendir_dup(sdir, &sd) < 0)
                        continue;
                struct dirent *se;
                while ((se = readdir(sd))) {
                        _cleanup_close_ int snap = open_dir_nofollow(sdir, se->d_name);
                        if (snap < 0 || streq(se->d_name, "..") || streq(se->d_name, "."))
                                continue;
                        _cleanup_free_ char *swhere = xasprintf("%s/snapshots/%s", where, se->d_name);
                        r = collect_refs(snap, swhere, "layers", &refs);
                        if (r < 0)
                                return r;
                }
        }
        r = base_refs(s, &refs);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(refs);
        return 0;
}

/* The most a layer's LAYER_IMAGES_FILE is read: it lists only manifests
 * still stored (layers_mark_image() drops the others), but a file written
 * before that was done may be long; this reads it to shrink it. */
#define LAYER_IMAGES_MAX (4 * 1024 * 1024)

/* Whether manifest DIGEST (valid) is a blob of ROOT/images. */
static bool manifest_stored(Store *s, const char *digest) {
        const char *colon = strchr(digest, ':');
        _cleanup_free_ char *blob = xasprintf("blobs/%.*s/%s", (int) (colon - digest), digest, colon + 1);
        return faccessat(s->images_fd, blob, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Whether layer NAME (below LDIR) belongs to an image the store still has:
 * one whose manifest, listed in the layer's LAYER_IMAGES_FILE, is a blob of
 * ROOT/images.  Such a layer outlives its last machine, so that the next
 * machine of the image takes no unpack; rmi (which removes the blob) and
 * images prune let it go.  1, 0, or -errno when the list cannot be read
 * (the caller keeps the layer then: it may be a stored image's). */
static int layer_image_stored(Store *s, int ldir, const char *name) {
        _cleanup_free_ char *path = xasprintf("%s/" LAYER_IMAGES_FILE, name), *text = NULL;
        int r = read_file_at(ldir, path, LAYER_IMAGES_MAX, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (image_digest_valid(line) && manifest_stored(s, line))
                        return 1;
        }
        return 0;
}

static int mark_image(Store *s, char *const *layers, const char *manifest) {
        _cleanup_close_ int ldir = layers_dir(s, false);
        if (ldir < 0)
                return ldir;
        for (char *const *l = layers; l && *l; l++) {
                _cleanup_free_ char *path = xasprintf("%s/" LAYER_IMAGES_FILE, *l), *text = NULL;
                int r = read_file_at(ldir, path, LAYER_IMAGES_MAX, &text, NULL);
                if (r < 0 && r != -ENOENT)
                        return r;
                /* The images still stored, each once, and MANIFEST: the
                 * lines of images gone (rmi, rebuilds) are dropped, so the
                 * file stays as long as the store's images of the layer. */
                _cleanup_free_ char *orig = text ? xstrdup(text) : NULL, *new_text = xstrdup("");
                for (char *line = text, *next; line && *line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        if (!image_digest_valid(line) || strstr(new_text, line) ||
                            (!streq(line, manifest) && !manifest_stored(s, line)))
                                continue;
                        char *t = xasprintf("%s%s\n", new_text, line);
                        free(new_text);
                        new_text = t;
                }
                if (!strstr(new_text, manifest)) {
                        char *t = xasprintf("%s%s\n", new_text, manifest);
                        free(new_text);
                        new_text = t;
                }
                if (streq_ptr(orig, new_text))
                        continue;
                _cleanup_close_ int lfd = open_dir_nofollow(ldir, *l);
                r = lfd < 0 ? lfd : write_file_atomic_at(lfd, LAYER_IMAGES_FILE, new_text, strlen(new_text), 0644);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Whether layer NAME below LDIR is a user's frozen one (LAYER_RANGE_FILE). */
static bool layer_is_ranged(int ldir, const char *name) {
        _cleanup_close_ int lfd = open_dir_nofollow(ldir, name);
        uid_t base;
        return lfd >= 0 && idmap_read_at(lfd, &base) >= 0;
}

/* Remove the layers nothing references: with RANGED a user's frozen ones,
 * each through its own range (as a machine dir: store_rm_tree_in_range()),
 * else the others (image layers, root's), directly.  Returns how many, or
 * -errno. */
static int prune_some(Store *s, bool ranged) {
        _cleanup_close_ int ldir = layers_dir(s, false);
        if (ldir == -ENOENT)
                return 0;
        if (ldir < 0)
                return ldir;
        _cleanup_strv_free_ char **refs = NULL;
        int r = referenced_layers(s, &refs);
        if (r < 0)
                return r;
        _cleanup_closedir_ DIR *d = NULL;
        r = opendir_dup(ldir, &d);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = xasprintf("%s/images/layers", s->root);
        int removed = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || strv_contains(refs, de->d_name) ||
                    layer_image_stored(s, ldir, de->d_name) != 0 || layer_is_ranged(ldir, de->d_name) != ranged)
                        continue;
                _cleanup_close_ int lfd = ranged ? open_dir_nofollow(ldir, de->d_name) : -EBADF;
                r = !ranged ? rm_rf_at(ldir, de->d_name)
                    : lfd < 0 ? lfd
                              : store_rm_tree_in_range(lfd, ldir, path, de->d_name);
                if (r < 0)
                        return r;
                removed++;
        }
        return removed;
}

static int prune(Store *s) {
        return prune_some(s, false);
}

static int clean_stale(Store *s) {
        _cleanup_close_ int ldir = layers_dir(s, false);
        if (ldir == -ENOENT)
                return 0;
        if (ldir < 0)
                return ldir;
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(ldir, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] == '.' && !streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    (r = rm_rf_at(ldir, de->d_name)) < 0)
                        return r;
        return 0;
}

/* A user's image layers belong to the image store's range (userns.h),
 * where the user cannot change them: FN(USERDATA) runs as root of a
 * namespace mapped to it, in a child.  Root, and a user whose store has no
 * range yet (so no layer of an image), call FN directly. */
static int as_layer_owner(Store *s, int (*fn)(void *userdata), void *userdata) {
        uid_t base;
        if (geteuid() == 0 || idmap_read_at(s->images_fd, &base) < 0)
                return fn(userdata);
        return userns_call_range(base, fn, userdata);
}

typedef struct MarkArgs {
        Store *s;
        char *const *layers;
        const char *manifest;
} MarkArgs;

static int mark_image_call(void *userdata) {
        MarkArgs *a = userdata;
        return mark_image(a->s, a->layers, a->manifest);
}

int layers_mark_image(Store *s, char *const *layers, const char *manifest) {
        if (!image_digest_valid(manifest))
                return -EINVAL;
        return as_layer_owner(s, mark_image_call, &(MarkArgs) { s, layers, manifest });
}

static int clean_stale_call(void *userdata) {
        return clean_stale(userdata);
}

int layers_clean_stale(Store *s) {
        return as_layer_owner(s, clean_stale_call, s);
}

/* The layer store's entries, to count what a child removed; with HIDDEN
 * also its scratch (.staging-*, .unpack-*), to see whether it is empty. */
static int count_layers(Store *s, bool hidden) {
        _cleanup_close_ int ldir = layers_dir(s, false);
        if (ldir < 0)
                return ldir == -ENOENT ? 0 : ldir;
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(ldir, &d);
        if (r < 0)
                return r;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' || (hidden && !streq(de->d_name, ".") && !streq(de->d_name, "..")))
                        n++;
        return n;
}

static int prune_call(void *userdata) {
        int r = prune(userdata);
        return r < 0 ? r : 0;
}

int layers_prune(Store *s) {
        if (geteuid() == 0)
                return prune(s);
        /* Frozen layers first, each through its range; then the image
         * layers, through the store's. */
        int ranged = prune_some(s, true);
        if (ranged < 0)
                return ranged;
        int before = count_layers(s, false);
        if (before < 0)
                return before;
        int r = as_layer_owner(s, prune_call, s);
        if (r < 0)
                return r;
        int after = count_layers(s, false);
        if (after < 0)
                return after;
        /* The last layer gone: so may be the user's store range (userns.h),
         * which a user with one range of subordinate IDs needs back for a
         * machine.  Scratch a killed unpack left is the range's: it keeps it. */
        int left = count_layers(s, true);
        if (left == 0)
                r = userns_image_range_release(s);
        return left < 0 ? left : r < 0 ? r : ranged + before - after;
}

/* The kernel explains a refused filesystem configuration on the fs fd. */
static int fs_error(int fsfd) {
        int e = errno;
        char msg[256];
        ssize_t k = read(fsfd, msg, sizeof msg - 1);
        if (k > 0) {
                msg[k] = 0;
                log_debug("overlayfs: %s", msg);
        }
        return -e;
}

int overlay_make(const int *lowers, size_t n, int upper, int work, unsigned attrs) {
        _cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return -errno;
        char p[64];
        /* Layers by fd: no path is looked up again here. */
        for (size_t i = 0; i < n; i++) {
                snprintf(p, sizeof p, "/proc/self/fd/%d", lowers[i]);
                if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", p, 0) < 0)
                        return fs_error(fsfd);
        }
        if (upper >= 0) {
                snprintf(p, sizeof p, "/proc/self/fd/%d", upper);
                if (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", p, 0) < 0)
                        return fs_error(fsfd);
                snprintf(p, sizeof p, "/proc/self/fd/%d", work);
                if (fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", p, 0) < 0)
                        return fs_error(fsfd);
        }
        /* Overlayfs's metadata in user.* xattrs: the only kind it may use in a
         * user namespace, so the host reads an upper the same way. */
        if (fsconfig(fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return fs_error(fsfd);
        int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
        return mfd < 0 ? -errno : mfd;
}

static void close_all(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                closep(&fds[i]);
}

void layers_umount_merged(const char *rootfs) {
        (void) umount2(rootfs, MNT_DETACH);
}

/* The merged view of MPATH's layers on MPATH/rootfs, in a mount namespace
 * of our own.  READ_ONLY: the upper joins the lowers and there is no
 * workdir, so any number of these may stand at once (run instances check
 * their shared base concurrently; overlayfs resets a workdir at every
 * mount, which would pull it from under another mount of the same one). */
static int mount_merged(Store *s, const char *mpath, bool read_only, bool *ret_mounted) {
        if (ret_mounted)
                *ret_mounted = false;
        _cleanup_close_ int mfd = open_dir_nofollow(AT_FDCWD, mpath);
        if (mfd < 0)
                return mfd;
        _cleanup_strv_free_ char **layers = NULL;
        int r = layers_read(mfd, "layers", &layers);
        if (r < 0 || !layers)
                return r;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return -errno;
        /* Reopen in the new namespace: a mount goes only onto one of its own. */
        closep(&mfd);
        mfd = open_dir_nofollow(AT_FDCWD, mpath);
        if (mfd < 0)
                return mfd;
        size_t n = strv_length(layers);
        int lowers[LAYERS_MAX + 1];
        _cleanup_close_ int upper = open_dir_nofollow(mfd, "rootfs");
        if (upper < 0)
                return upper;
        size_t opened = 0;
        if (read_only) {
                /* The upper on top of the lowers: what the guest sees. */
                lowers[opened] = fcntl(upper, F_DUPFD_CLOEXEC, 3);
                if (lowers[opened] < 0)
                        return -errno;
                opened++;
                n++;
        }
        for (; opened < n; opened++) {
                _cleanup_free_ char *tree = layer_tree_path(s, layers[opened - (read_only ? 1 : 0)]);
                lowers[opened] = open(tree, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (lowers[opened] < 0) {
                        r = -errno;
                        close_all(lowers, opened);
                        return r;
                }
        }
        _cleanup_close_ int work = -EBADF;
        if (!read_only) {
                if (mkdirat(mfd, OVERLAY_WORK, 0700) < 0 && errno != EEXIST)
                        r = -errno;
                work = open_dir_nofollow(mfd, OVERLAY_WORK);
        }
        unsigned attrs = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | (read_only ? MOUNT_ATTR_RDONLY : 0);
        _cleanup_close_ int mnt = r < 0 ? r : !read_only && work < 0 ? work
                                : overlay_make(lowers, n, read_only ? -EBADF : upper, work, attrs);
        close_all(lowers, n);
        if (mnt < 0)
                return mnt;
        if (move_mount(mnt, "", upper, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return -errno;
        if (ret_mounted)
                *ret_mounted = true;
        return 0;
}

int layers_mount_merged(Store *s, const char *mpath) {
        return mount_merged(s, mpath, false, NULL);
}

int layers_prepare_start(Store *s, const char *mpath, char ***ret) {
        _cleanup_close_ int mfd = open_dir_nofollow(AT_FDCWD, mpath);
        if (mfd < 0)
                return mfd;
        _cleanup_strv_free_ char **layers = NULL;
        int r = layers_read(mfd, "layers", &layers);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **trees = NULL;
        for (char **l = layers; l && *l; l++) {
                char *tree = layer_tree_path(s, *l);
                trees = strv_append(trees, tree);
                free(tree);
                struct stat st;
                if (lstat(trees[strv_length(trees) - 1], &st) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
        }
        if (layers && mkdirat(mfd, OVERLAY_WORK, 0700) < 0 && errno != EEXIST)
                return -errno;
        *ret = TAKE_PTR(trees);
        return 0;
}

typedef struct MergedCall {
        Store *s;
        const char *mpath;
        int (*fn)(void *userdata);
        void *userdata;
} MergedCall;

static int merged_call(void *userdata) {
        const MergedCall *c = userdata;
        bool mounted;
        int r = mount_merged(c->s, c->mpath, false, &mounted);
        if (r < 0)
                return log_error_errno(r, "Failed to mount the layers of %s: %m", c->mpath);
        r = c->fn(c->userdata);
        /* Only what we mounted, in the namespace we made for it: for root's
         * plain rootfs that is none, and we are still in the host's, where
         * MPATH/rootfs may be a mount of the admin's. */
        if (mounted) {
                _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", c->mpath);
                layers_umount_merged(rootfs);
        }
        return r;
}

int layers_call_merged(Store *s, const char *mpath, int (*fn)(void *userdata), void *userdata) {
        _cleanup_close_ int mfd = open_dir_nofollow(AT_FDCWD, mpath);
        if (mfd < 0)
                return log_error_errno(mfd, "Failed to open %s: %m", mpath);
        return userns_call(mfd, merged_call, &(MergedCall) { s, mpath, fn, userdata });
}

typedef struct CheckArgs {
        Store *s;
        const char *mpath, *rootfs, *init;
        int wr;
} CheckArgs;

/* In a child of its own: the merged view mounted and checked, the init's
 * name written to C->wr. */
static int check_merged(void *userdata) {
        const CheckArgs *c = userdata;
        /* Read-only: only looked at, maybe by several starts at once. */
        int r = mount_merged(c->s, c->mpath, true, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to mount the layers of %s: %m", c->mpath);
        _cleanup_free_ char *name = NULL;
        r = rootfs_check(c->rootfs, c->init, &name);
        if (r < 0)
                return r;
        if (name)
                (void) write_all(c->wr, name, strlen(name));
        return 0;
}

int layers_rootfs_check(Store *s, const char *mpath, const char *init, char **ret_init_name) {
        _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", mpath);
        _cleanup_close_ int mfd = open_dir_nofollow(AT_FDCWD, mpath);
        if (mfd < 0)
                return log_error_errno(mfd, "Failed to open %s: %m", mpath);
        if (exists_at(mfd, "layers") <= 0)
                return rootfs_check(rootfs, init, ret_init_name);

        /* The merged view exists only in a mount namespace of its own: a
         * child's; a user's child is root of the machine's user namespace,
         * which may mount it.  The name is short: the pipe holds it until
         * the child is waited for. */
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return log_error_errno(errno, "pipe failed: %m");
        _cleanup_close_ int rd = pipefd[0], wr = pipefd[1];
        CheckArgs c = { s, mpath, rootfs, init, wr };
        int r;
        if (geteuid() != 0)
                r = userns_call(mfd, check_merged, &c);
        else {
                pid_t pid = fork();
                if (pid < 0)
                        return log_error_errno(errno, "fork failed: %m");
                if (pid == 0) {
                        closep(&rd);
                        _exit(check_merged(&c) < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
                }
                r = wait_child(pid);
                if (r < 0)
                        return log_error_errno(r, "waitpid failed: %m");
        }
        closep(&wr);
        if (r < 0)
                return r; /* a user's child: its own -errno, and it said why */
        if (r != 0)
                return -EINVAL; /* root's child said why */
        char buf[256];
        size_t len = 0;
        ssize_t k;
        while (len < sizeof buf - 1 && ((k = read(rd, buf + len, sizeof buf - 1 - len)) > 0 || (k < 0 && errno == EINTR)))
                if (k > 0)
                        len += (size_t) k;
        buf[len] = 0;
        if (ret_init_name)
                *ret_init_name = len > 0 ? xstrdup(buf) : NULL;
        return 0;
}

void layers_prune_or_warn(Store *s) {
        _cleanup_close_ int lock = layers_lock(s);
        int r = lock < 0 ? lock : layers_prune(s);
        if (r < 0)
                log_warning_errno(r, "Failed to remove unused layers, ignoring (berth gc will): %m");
}
