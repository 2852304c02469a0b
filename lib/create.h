/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Making and removing machines: what create, import, clone, run and rm
 * share. */

#include <errno.h>
#include <stdbool.h>

#include "config.h"
#include "store.h"

/* What the import helper recorded about an image in the machine's "image"
 * file (see oci-image.h).  Each value is NULL unless present and made only
 * of characters safe to print (the helper parsed untrusted input). */
typedef struct ImageInfo {
        char *source_kind;
        char *manifest;
        char *ports; /* exposed ports, "80/tcp 443/tcp" */
} ImageInfo;
void image_info_done(ImageInfo *i);
/* Read DIR_FD/image.  0, -EBADMSG if malformed (*RET then empty), or
 * another -errno (it is missing or cannot be read). */
int image_info_read_at(int dir_fd, ImageInfo *ret);


/* A new machine is built in machines/.staging-NAME.RANDOM and renamed into
 * place when complete, so a killed create leaves nothing that "berth list"
 * shows, and the next create of that name cleans up. */
typedef struct Staging {
        char *name;   /* .staging-NAME.RANDOM, below machines/ */
        char *path;   /* its host path */
        char *rootfs; /* PATH/rootfs */
        int fd;       /* the staging dir */
        int lock;     /* NAME's lock */
} Staging;
#define STAGING_INIT { .fd = -EBADF, .lock = -EBADF }
void staging_done(Staging *s);
/* How create, import, clone start: NAME locked and not yet a machine,
 * leftovers of killed creates of NAME removed, and a fresh staging
 * directory made with an empty rootfs/ (0755) and the machine's own UID
 * range, or SHARED_BASE's when not 0, or none yet with STAGING_RANGE_LATER
 * (a user's machine of image layers runs in the image store's range, which
 * the caller writes under layers_lock(), where no prune gives it back
 * between: userns_image_range()).  0, or -errno (logged; -EEXIST: NAME is
 * a machine already); then nothing was made. */
#define STAGING_RANGE_LATER ((uid_t) -1)
int staging_make(Store *store, const char *name, uid_t shared_base, Staging *ret);
/* And how they end: unless R < 0, write CONF (machine.conf, below a header)
 * and INFO into the staging dir, sync, and rename it to NAME; on any failure
 * remove the staging dir.  Returns R or the new -errno (logged). */
int staging_commit(Store *store, const Staging *s, const char *name, const char *conf, const char *info, int r);
/* Remove the hidden dirs killed creates and rms left (.staging-NAME.*,
 * .removing-NAME.*) whose NAME nobody holds the lock of.  VERBOSE: say
 * which.  Returns how many, or -errno. */
int staging_gc(Store *store, bool verbose);

/* Copy the tree SRC into the existing directory DST as cp -a does (owners,
 * modes, times, xattrs, hard links; symlinks copied, never followed), with
 * reflinks where the filesystem has them: a sandboxed /bin/cp.  0 or -errno
 * (logged). */
int copy_tree(const char *src, const char *dst);

/* The same for a user, whose machines' trees carry their ranges' host IDs:
 * SRC (owned by SRC_BASE's range) into DST, owned then by DST_BASE's range
 * (a clone's own), as root of a namespace that maps both (userns_call_pair(),
 * newidmap.h).  The shift is chown_tree_shift()'s, so file capabilities are
 * lost, as with PrivateUsersOwnership=chown.  SRC_MPATH (or NULL) is the
 * dir of a layered machine whose rootfs SRC is: its merged view is copied
 * (layers_mount_merged() in that namespace).  0 or -errno (logged). */
int copy_tree_to_range(Store *store, const char *src_mpath, const char *src, uid_t src_base, const char *dst,
                       uid_t dst_base);
/* copy_tree() of a tree within one machine's range (a snapshot, a
 * restore): for a user as root of the namespace of MACHINE_DIR_FD's idmap,
 * so the copy keeps its owners with no host root; SRC_MPATH, if not NULL,
 * is the dir of a layered machine whose rootfs SRC is, whose merged view is
 * copied (root mounts it before).  0 or -errno (logged). */
int copy_tree_as_machine(Store *store, int machine_dir_fd, const char *src_mpath, const char *src,
                         const char *dst);
/* Unpack the tarball TAR into the empty dir ROOTFS with the sandboxed
 * berth-unpack, at most MAX_SIZE (bytes or "infinity").  0 or -errno
 * (logged). */
int unpack_tarball(const char *tar, const char *max_size, const char *rootfs);

/* Templates: is TEMPLATE one berth has; populate the empty dir ROOTFS from
 * it (RELEASE may be NULL), the guest named NAME, caching downloads under
 * STORE's images/templates; REFRESH: the template builds its cache anew
 * (its --refresh) rather than use the one there.  0 or -errno (logged). */
bool template_is_known(const char *template);
int template_populate(Store *store, const char *template, const char *release, const char *name, const char *rootfs,
                      bool refresh);

/* The read-only image NAME of berth run in ROOT/images/bases (IMAGES_FD),
 * over LAYERS (top first) of the layer store: the layer of the template's
 * store image MANIFEST (berth images build), which the run image's "layers"
 * file then keeps.  Made in a staging dir renamed into place when complete,
 * after removing what killed builds left.  The caller holds the image's
 * build lock and layers_lock(), saw no image and saw LAYERS in place.  0 or
 * -errno (logged). */
int image_build_layered(Store *store, int images_fd, const char *name, char *const *layers, const char *manifest);

/* Without root: the run image NAME in ROOT/images/bases (IMAGES_FD) of
 * template NAME, a plain rootfs the template fills as root of a range of
 * the user's own, which the image keeps (its idmap) and its instances boot
 * in.  Made in a staging dir renamed into place when complete.  The caller
 * holds the image's build lock and saw no image.  0 or -errno (logged). */
int image_build_template_user(Store *store, int images_fd, const char *name);
/* Remove the run image dir NAME of IMAGES_FD (images/bases), a user's
 * through its range, which then goes back to the user.  0 or -errno. */
int run_image_remove(Store *store, int images_fd, const char *name);

/* Run instances (berth run): machine entries without a rootfs of their own.
 * Make instance NAME of BASE (a machine, or STORE_IMAGE_PREFIX and an
 * image), whose dir SRC_FD holds the machine.conf it starts with; REMOVE:
 * gc removes it once it no longer runs; ID tells this instance from a later
 * one of the same name.  0 or -errno (logged). */
int run_instance_make(Store *store, int src_fd, const char *base, const char *name, bool remove, const char *id);
/* Is machine NAME still the instance ID?  While its command ran the run
 * held no lock: it may have been stopped, collected by gc and replaced by
 * another run's instance of the same name, which is not ours to stop. */
bool run_instance_is_ours(Store *store, const char *name, const char *id);
/* Remove instance NAME (the caller holds its lock; it does not run), quietly. */
void run_instance_remove(Store *store, const char *name);

/* berth-import, the sandboxed helper that parses an untrusted image into
 * ROOTFS and leaves its findings in OUTDIR ("image.conf", a machine.conf
 * fragment, and "image", see ImageInfo). */
typedef struct ImportOptions {
        const char *ref;      /* --ref, or NULL */
        const char *platform; /* --platform, or NULL */
        const char *boot;     /* auto, yes or no */
        const char *max_size; /* bytes or "infinity" */
        bool layered;         /* create --image: a layered machine over the layer store */
        const char *layers_dir; /* the helper's --layers (set by import_machine) */
        bool configure_only;  /* the helper's --configure-only (set by import_machine) */
} ImportOptions;
/* Run it on SOURCE (PROGRESS: it shows progress on stderr).  0, -EINVAL if
 * it refused the arguments or the source (it said why), -EBADMSG if it
 * refused the image's content (a check or the size limit failed; it said
 * why), or another -errno (logged). */
int import_helper_run(const ImportOptions *o, bool progress, const char *source, const char *rootfs,
                      const char *outdir);
/* Take the helper's machine.conf FRAGMENT into CFG: untrusted text, so the
 * strict parser judges it, and only the keys an image can set (a helper made
 * to write Port= or Network.Link= would reach the host's network) are
 * accepted.  0 or -errno (logged). */
int image_config_apply(MachineConfig *cfg, const char *fragment);

/* Remove machine NAME (the caller holds its lock; it does not run): its dir
 * is renamed to .removing-NAME.RANDOM first, so a killed rm leaves nothing
 * "berth list" shows (gc removes the rest), then its runtime dir.  0 or
 * -errno (logged). */
int machine_remove(Store *store, const char *name);
