/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Template images: what a template builds, kept in the image store as an
 * image of one layer (ROOT/images, image-store.h), named
 * localhost/berth/template/TEMPLATE:RELEASE (RELEASE "latest" when none is
 * asked for).  berth images lists it like a pulled image, rmi and images
 * prune remove it, create --template T --layered makes machines over its
 * layer as create --image does, and a rebuild (images build, create
 * --refresh) replaces it while the machines of the old one keep its layer
 * (their layer lists reference it). */

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "berth.h"
#include "create.h"
#include "build-config.h"
#include "fs.h"
#include "image-ref.h"
#include "image-store.h"
#include "idmap.h"
#include "layers.h"
#include "log.h"
#include "newidmap.h"
#include "spawn.h"
#include "store.h"
#include "userns.h"
#include "util.h"

#define TEMPLATE_REF_PREFIX "localhost/berth/template/"
/* Where a template's tree is built, below ROOT/images; only while the
 * build lock is held, so whatever the lock finds is a killed build's. */
#define BUILD_PREFIX ".template-build."

int template_release_check(const char *release) {
        /* It becomes the tag of the image's reference (and debootstrap's
         * suite): the tag rules keep both sane. */
        if (release && !image_ref_tag_valid(release)) {
                _cleanup_free_ char *p = strdup_printable(release);
                log_error("Invalid --release '%s': a release is letters, digits, '_', '.' and '-', not starting "
                          "with '.' or '-', at most 128 (e.g. bookworm).", p);
                return ERR_USAGE;
        }
        return 0;
}

char *template_image_ref(const char *template, const char *release) {
        return xasprintf(TEMPLATE_REF_PREFIX "%s:%s", template, release ?: "latest");
}

/* Remove the build dirs of killed builds (we hold the build lock), each
 * named on REPORT (may be NULL).  Returns how many went. */
static int clean_stale_builds(Context *ctx, FILE *report) {
        _cleanup_closedir_ DIR *d = NULL;
        if (opendir_dup(ctx->store.images_fd, &d) < 0)
                return 0;
        int n = 0;
        struct dirent *de;
        _cleanup_free_ char *images = xasprintf("%s/images", ctx->store.root);
        while ((de = readdir(d)))
                if (startswith(de->d_name, BUILD_PREFIX)) {
                        /* A user's tree is its range's: removed through it. */
                        int r = store_rm_ranged_dir_at(ctx->store.images_fd, images, de->d_name);
                        if (r < 0)
                                log_warning_errno(r, "Cannot remove %s/images/%s, left by a killed build, "
                                                  "ignoring: %m", ctx->store.root, de->d_name);
                        else {
                                n++;
                                if (report)
                                        fprintf(report, "Removed the template build %s/images/%s (killed)\n",
                                                ctx->store.root, de->d_name);
                        }
                }
        return n;
}

int template_builds_gc(Context *ctx, FILE *report) {
        if (context_open_store(ctx) < 0)
                return -EIO;
        /* Without waiting: a build that holds the lock is alive, and its
         * directory is not a leftover. */
        _cleanup_close_ int lock = lock_file_at(ctx->store.locks_fd, ".template-build", true, false);
        if (lock == -EWOULDBLOCK)
                return 0;
        if (lock < 0)
                return log_error_errno(lock, "Failed to lock the template builds of %s: %m", ctx->store.root);
        return clean_stale_builds(ctx, report);
}

/* For userns_call_range(): what berth-export wrote in the store (IMAGES_FD)
 * as root of the range, index.json and blobs, becomes the user's, as a
 * pull's blobs are (NEWIDMAP_SELF_ID is the user here). */
static int give_store_back_call(void *userdata) {
        int images_fd = *(const int *) userdata;
        struct stat st;
        if (fstatat(images_fd, "index.json", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == 0 &&
            fchownat(images_fd, "index.json", NEWIDMAP_SELF_ID, NEWIDMAP_SELF_ID, AT_SYMLINK_NOFOLLOW) < 0)
                return log_error_errno(errno, "Failed to give the image index back to you: %m");
        _cleanup_close_ int blobs = open_dir_nofollow(images_fd, "blobs/sha256");
        _cleanup_closedir_ DIR *d = NULL;
        int r = blobs < 0 ? blobs : opendir_dup(blobs, &d);
        if (r < 0)
                return log_error_errno(r, "Failed to open the store's blobs: %m");
        struct dirent *de;
        while ((de = readdir(d)))
                if (fstatat(blobs, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                    st.st_uid == 0 &&
                    fchownat(blobs, de->d_name, NEWIDMAP_SELF_ID, NEWIDMAP_SELF_ID, AT_SYMLINK_NOFOLLOW) < 0)
                        return log_error_errno(errno, "Failed to give blob %s back to you: %m", de->d_name);
        return 0;
}

/* The tree at ROOTFS as image REF of the store, by berth-export (which
 * walks the tree and hashes the layer in a sandboxed process); for a user
 * as root of the namespace of BASE's range, which owns the tree (the layer
 * then holds the IDs the machines see, as root's export writes them). */
static int store_tree(Context *ctx, const char *rootfs, const char *ref, uid_t base) {
        _cleanup_close_ int lock = image_store_lock(ctx->store.images_fd, true);
        if (lock < 0)
                return ERR_FAILED;
        /* The store's dirs are the user's: made here, not by the range. */
        if (base != 0 && image_store_prepare(ctx->store.images_fd) < 0)
                return ERR_FAILED;
        _cleanup_free_ char *store = xasprintf("%s/images", ctx->store.root);
        char *args[] = { (char *) (secure_getenv("BERTH_EXPORT") ?: BERTH_EXPORT_PATH),
                         (char *) "--format",
                         (char *) "oci-store",
                         (char *) "--ref",
                         (char *) ref,
                         (char *) "--",
                         (char *) rootfs,
                         store,
                         NULL };
        int r = base != 0 ? spawn_in_userns(args, base, NULL) : spawn_sandboxed(args);
        if (r == 0 && base != 0)
                r = userns_call_range(base, give_store_back_call, &ctx->store.images_fd);
        if (r != 0) {
                if (r < 0)
                        log_error_errno(r, "Failed to store the template's tree as %s: %m", ref);
                else
                        log_error("Failed to store the template's tree as %s (berth-export said why).", ref);
                return ERR_FAILED;
        }
        /* A rebuild leaves the old manifest to nobody: its blobs go, and its
         * layers with them unless machines stand on them. */
        uint64_t freed;
        if (image_store_gc(ctx->store.images_fd, &freed) < 0)
                log_warning("The blobs of the image %s replaced stay until 'berth images prune'.", ref);
        return 0;
}

/* The image store's range for a user's build in DIR (userns.h), claimed
 * under the layers' lock as an unpack claims it, and written to DIR's
 * idmap.  0 or -errno (logged). */
static int build_range(Context *ctx, const char *dir, uid_t *ret) {
        _cleanup_close_ int lock = layers_lock(&ctx->store);
        if (lock < 0)
                return log_error_errno(lock, "Failed to lock %s/images/layers: %m", ctx->store.root);
        int r = userns_image_range(&ctx->store, ret);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        r = dfd < 0 ? dfd : idmap_write_at(dfd, *ret);
        return r < 0 ? log_error_errno(r, "Failed to write %s/idmap: %m", dir) : 0;
}

int template_image_build(Context *ctx, const char *template, const char *release, bool force, bool refresh_cache,
                         char **ret_ref) {
        if (!template_is_known(template)) {
                log_error("Unknown template '%s'. Available: busybox, debian.", template);
                return ERR_USAGE;
        }
        int r = template_release_check(release);
        if (r != 0)
                return r;
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        _cleanup_free_ char *ref = template_image_ref(template, release);
        /* One build at a time: a template may take a minute (debootstrap). */
        _cleanup_close_ int lock = lock_file_at(ctx->store.locks_fd, ".template-build", true, true);
        if (lock < 0) {
                log_error_errno(lock, "Failed to lock the template builds of %s: %m", ctx->store.root);
                return ERR_FAILED;
        }
        if (!force) {
                /* Whoever held the lock before us may have built it: a second
                 * build would replace the image the first one's machines
                 * just recorded. */
                _cleanup_free_ char *digest = NULL;
                r = image_store_find(ctx->store.images_fd, ref, &digest);
                if (r < 0) {
                        log_error_errno(r, "Failed to read the image store of %s: %m", ctx->store.root);
                        return ERR_FAILED;
                }
                if (digest) {
                        if (ret_ref)
                                *ret_ref = TAKE_PTR(ref);
                        return 0;
                }
        }
        (void) clean_stale_builds(ctx, NULL);
        _cleanup_free_ char *dir = xasprintf("%s/images/" BUILD_PREFIX "XXXXXX", ctx->store.root);
        if (!mkdtemp(dir)) {
                log_error_errno(errno, "Failed to create a directory in %s/images: %m", ctx->store.root);
                return ERR_FAILED;
        }
        _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", dir), *before = NULL;
        /* What the name held before (under the build lock, only we change it). */
        if (image_store_find(ctx->store.images_fd, ref, &before) < 0)
                before = NULL;
        int status = ERR_FAILED;
        /* The guest's "/": 0755 like any root directory. */
        r = RET_NERRNO(mkdir(rootfs, 0755));
        if (r >= 0)
                r = RET_NERRNO(chmod(rootfs, 0755));
        if (r < 0)
                log_error_errno(r, "Failed to create %s: %m", rootfs);
        /* A user's template fills the tree as root of the image store's
         * range, which its layer gets too: the build dir says which, as a
         * machine dir does for its rootfs (template_populate()). */
        uid_t base = 0;
        if (r >= 0 && geteuid() != 0) {
                r = build_range(ctx, dir, &base);
                if (r < 0)
                        base = 0;
        }
        if (r >= 0 && template_populate(&ctx->store, template, release, template, rootfs, refresh_cache) >= 0)
                status = store_tree(ctx, rootfs, ref, base);
        /* A user's tree is its range's: removed through it. */
        _cleanup_free_ char *images = xasprintf("%s/images", ctx->store.root);
        int k = store_rm_ranged_dir_at(ctx->store.images_fd, images, strrchr(dir, '/') + 1);
        if (k < 0)
                log_warning_errno(k, "Cannot remove %s, the next build will: %m", dir);
        /* Its one layer unpacked now, as a pull does: machines only mount it. */
        if (status == 0)
                status = image_unpack_or_drop(ctx, ref, NULL, NULL, before);
        /* Failed too: for a user, a build that leaves no layer gives the
         * store's range back (layers_prune()), as a failed pull does, so
         * that a user with one range can still make a machine. */
        layers_prune_or_warn(&ctx->store);
        if (status != 0)
                return status;
        if (ret_ref)
                *ret_ref = TAKE_PTR(ref);
        return 0;
}

int template_image_exists(Context *ctx, const char *template, const char *release) {
        if (context_open_store(ctx) < 0)
                return -EIO;
        _cleanup_free_ char *ref = template_image_ref(template, release), *digest = NULL;
        int r = image_store_find(ctx->store.images_fd, ref, &digest);
        return r < 0 ? r : !!digest;
}

int template_run_base_build(Context *ctx, int bases_fd, const char *template) {
        /* Without root there is no image store (its layers are root's): the
         * template fills the run image's own rootfs, in a range of the user's. */
        if (geteuid() != 0) {
                if (context_open_store(ctx) < 0)
                        return -EIO;
                return image_build_template_user(&ctx->store, bases_fd, template);
        }
        _cleanup_free_ char *ref = template_image_ref(template, NULL), *digest = NULL;
        int r = template_image_exists(ctx, template, NULL);
        if (r < 0)
                return r;
        if (r == 0 && template_image_build(ctx, template, NULL, false, false, NULL) != 0)
                return -EIO;
        _cleanup_strv_free_ char **layers = NULL;
        {
                /* Shared: no rmi between reading the digest and the layers. */
                _cleanup_close_ int lock = image_store_lock(ctx->store.images_fd, false);
                if (lock < 0)
                        return lock;
                r = image_store_find(ctx->store.images_fd, ref, &digest);
                if (r < 0)
                        return r;
                if (!digest)
                        return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "Image %s went from the store while it was "
                                               "used (a concurrent rmi?); run again.", ref);
                /* Unpacked already: this only reads the list (and finishes
                 * what a killed build left). */
                if (image_layers_unpack(ctx, ref, NULL, NULL, digest, &layers, NULL) != 0)
                        return -EIO;
        }
        /* Under the layers' lock, nothing prunes them between the check and
         * the moment the run image's "layers" file keeps them. */
        _cleanup_close_ int llock = layers_lock(&ctx->store);
        if (llock < 0)
                return log_error_errno(llock, "Failed to lock %s/images/layers: %m", ctx->store.root);
        for (char **l = layers; *l; l++) {
                _cleanup_free_ char *chain = xasprintf("layers/%s/" LAYER_CHAIN_FILE, *l);
                if (faccessat(ctx->store.images_fd, chain, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "Layer %s of %s went away (a concurrent "
                                               "rmi or prune?); run again.", *l, ref);
        }
        return image_build_layered(&ctx->store, bases_fd, template, layers, digest);
}
