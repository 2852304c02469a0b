/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth import NAME SOURCE: make a machine from an OCI image (layout dir,
 * oci-archive, docker-archive), a plain rootfs tar or an OCI runtime bundle.
 * The work happens in berth-import, a sandboxed helper (the only process
 * that parses the untrusted image); berth builds the machine under a
 * staging name like create does, takes the helper's machine.conf fragment
 * through its own strict parser, and renames the machine into place only
 * when everything succeeded. */

#include <inttypes.h>
#include <sys/stat.h>

#include "berth.h"
#include "config.h"
#include "create.h"
#include "fs.h"
#include "idmap.h"
#include "layers.h"
#include "log.h"
#include "newidmap.h"
#include "rootfs.h"
#include "runtime.h"
#include "unpack-limit.h"
#include "userns.h"
#include "util.h"

/* The image's ports, if they hold only what a port list can hold (the
 * helper checked; a comment must stay one line). */
static char *image_ports(const ImageInfo *img) {
        size_t n = img->ports ? strlen(img->ports) : 0;
        if (n == 0 || n > 120 || strspn(img->ports, "0123456789abcdefghijklmnopqrstuvwxyz/ ") < n)
                return NULL;
        return xstrdup(img->ports);
}

int load_global_config(Context *ctx, MachineConfig *ret) {
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        machine_config_init(ret);
        _cleanup_free_ char *err = NULL;
        if (machine_config_parse_file(ret, ctx->store.config_path, CONFIG_SOURCE_GLOBAL, false, true, &err) < 0) {
                log_error("%s", err ?: "The global configuration is invalid.");
                return ERR_USAGE;
        }
        return 0;
}

int import_max_size(Context *ctx, const char *arg, char **ret) {
        uint64_t v;
        if (arg) {
                if (unpack_max_size_parse(arg, &v) < 0) {
                        log_error("--max-size takes a size with K, M, G or T, like 100G, or 'infinity', not '%s'.",
                                  arg);
                        return ERR_USAGE;
                }
        } else {
                _cleanup_(machine_config_done) MachineConfig c = {};
                int r = load_global_config(ctx, &c);
                if (r != 0)
                        return r;
                v = c.import_max_size;
        }
        *ret = v == UINT64_MAX ? xstrdup("infinity") : xasprintf("%" PRIu64, v);
        return 0;
}

int boot_option(const char *arg, ImportOptions *a) {
        if (!streq(arg, "auto") && !streq(arg, "yes") && !streq(arg, "no")) {
                log_error("--boot takes auto, yes or no, not '%s'.", arg);
                return -EINVAL;
        }
        a->boot = arg;
        return 0;
}

/* Run the helper; 0, or a verb error (logged).  *RET_REFUSED (may be
 * NULL) says whether it refused the image's content (import_helper_run()). */
static int run_helper(Context *ctx, const ImportOptions *a, const char *source, const char *rootfs,
                      const char *outdir, bool *ret_refused) {
        int r = import_helper_run(a, !ctx->quiet && isatty(STDERR_FILENO), source, rootfs, outdir);
        if (ret_refused)
                *ret_refused = r == -EBADMSG;
        if (r == -EINVAL)
                return ERR_USAGE; /* the helper said why: not an image, no such ref or platform */
        return r < 0 ? ERR_FAILED : 0;
}

/* A layered machine NAME's layers remember the image they came from (its
 * MANIFEST digest), so that they outlive its last machine while the store
 * has the image (layers.h).  Still under the layers' lock.  Failing costs
 * only that: a warning. */
static void mark_layers(Context *ctx, const char *name, const char *manifest) {
        _cleanup_strv_free_ char **layers = NULL;
        _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
        int r = mfd < 0 ? mfd : layers_read(mfd, "layers", &layers);
        if (r >= 0)
                r = layers_mark_image(&ctx->store, layers, manifest);
        if (r < 0)
                log_warning_errno(r, "Cannot note the image in the layers of '%s' (the next machine of it may "
                                  "unpack them again): %m", name);
}

/* Whatever a killed pull or create left half unpacked in the layer store
 * (caller holds layers_lock()). */
static void clean_stale_layers(Context *ctx) {
        int r = layers_clean_stale(&ctx->store);
        if (r < 0)
                log_warning_errno(r, "Cannot remove what a killed unpack left in %s/images/layers, ignoring: %m",
                                  ctx->store.root);
}

/* The layers of image SOURCE (A->ref) that the layer store lacks unpacked
 * into it by the helper (--layers), which leaves the image's layer list,
 * top first, in OUTDIR (fd OUTDIR_FD); ROOTFS is a directory it does not
 * fill.  Caller holds layers_lock().  *RET_LAYERS gets the list.  0, or
 * -errno with *RET_STATUS set (logged). */
static int unpack_layers(Context *ctx, ImportOptions *a, const char *source, const char *rootfs, int outdir_fd,
                         const char *outdir, char ***ret_layers, int *ret_status, bool *ret_refused) {
        if (mkdirat(ctx->store.images_fd, "layers", 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s/images/layers: %m", ctx->store.root);
        _cleanup_free_ char *layers_dir = xasprintf("%s/images/layers", ctx->store.root);
        a->layers_dir = layers_dir;
        int k = run_helper(ctx, a, source, rootfs, outdir, ret_refused);
        a->layers_dir = NULL;
        if (k != 0) {
                *ret_status = k;
                return -EIO;
        }
        _cleanup_strv_free_ char **layers = NULL;
        int r = layers_read(outdir_fd, "image-layers", &layers);
        if (r >= 0 && !layers)
                r = -ENODATA;
        (void) unlinkat(outdir_fd, "image-layers", 0);
        if (r < 0)
                return log_error_errno(r, "The import helper left no valid layer list%s: %m",
                                       r == -ENODATA ? " (an image without layers)" : "");
        /* Image layers only (they have a chain file): never a machine's
         * frozen rootfs, whatever the helper, which parsed the image, says. */
        for (char **l = layers; *l; l++) {
                _cleanup_free_ char *chain = xasprintf("layers/%s/" LAYER_CHAIN_FILE, *l);
                if (faccessat(ctx->store.images_fd, chain, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                               "The import helper listed layer %s, which is no image layer.", *l);
        }
        *ret_layers = TAKE_PTR(layers);
        return 0;
}

static int remove_rootfs_call(void *userdata) {
        return rm_rf_at(*(const int *) userdata, "rootfs");
}

int image_layers_unpack(Context *ctx, const char *ref, const char *platform, const char *max_size_arg,
                        const char *manifest, char ***ret_layers, bool *ret_refused) {
        if (ret_refused)
                *ret_refused = false;
        _cleanup_free_ char *max_size = NULL;
        int r = import_max_size(ctx, max_size_arg, &max_size);
        if (r != 0)
                return r;
        ImportOptions a = { .ref = ref, .platform = platform, .boot = "auto", .max_size = max_size };
        _cleanup_close_ int lock = layers_lock(&ctx->store);
        if (lock < 0) {
                log_error_errno(lock, "Failed to lock %s/images/layers: %m", ctx->store.root);
                return ERR_FAILED;
        }
        if (mkdirat(ctx->store.images_fd, "layers", 0700) < 0 && errno != EEXIST) {
                log_error_errno(errno, "Failed to create %s/images/layers: %m", ctx->store.root);
                return ERR_FAILED;
        }
        clean_stale_layers(ctx);
        /* The helper's scratch: inside the layer store, hidden, so that a
         * killed pull's is removed with the rest (layers_clean_stale()). */
        _cleanup_free_ char *tmp = xasprintf("%s/images/layers/.unpack-XXXXXX", ctx->store.root);
        if (!mkdtemp(tmp)) {
                log_error_errno(errno, "Failed to create a directory in %s/images/layers: %m", ctx->store.root);
                return ERR_FAILED;
        }
        _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", tmp);
        _cleanup_close_ int tfd = open_dir_nofollow(AT_FDCWD, tmp);
        r = tfd < 0 ? tfd : RET_NERRNO(mkdirat(tfd, "rootfs", 0700));
        /* A user's helper runs in the image store's range (userns.h): the
         * scratch dir says which, as a machine dir does for its rootfs. */
        uid_t base = 0;
        if (r >= 0 && geteuid() != 0) {
                r = userns_image_range(&ctx->store, &base);
                if (r >= 0)
                        r = idmap_write_at(tfd, base);
        }
        int status = ERR_FAILED;
        _cleanup_strv_free_ char **layers = NULL;
        if (r < 0)
                log_error_errno(r, "Failed to prepare %s: %m", tmp);
        else {
                _cleanup_free_ char *store = xasprintf("%s/images", ctx->store.root);
                r = unpack_layers(ctx, &a, store, rootfs, tfd, tmp, &layers, &status, ret_refused);
        }
        /* A user's scratch rootfs belongs to the store's range: only root
         * of that range's namespace may remove it. */
        if (base != 0 && tfd >= 0) {
                int k = userns_call(tfd, remove_rootfs_call, &tfd);
                if (k < 0)
                        log_warning_errno(k, "Cannot remove %s/rootfs, ignoring: %m", tmp);
        }
        (void) rm_rf_at(AT_FDCWD, tmp);
        if (r < 0) {
                /* A user's first image that failed leaves no layer: the
                 * range this claimed goes back (layers_prune()), so that a
                 * user with one range can still make a machine. */
                int k = base != 0 ? layers_prune(&ctx->store) : 0;
                if (k < 0)
                        log_warning_errno(k, "Failed to remove unused layers, ignoring (berth gc will): %m");
                return status;
        }
        r = layers_mark_image(&ctx->store, layers, manifest);
        if (r < 0) {
                log_error_errno(r, "Cannot note image %s in its layers: %m", ref);
                return ERR_FAILED;
        }
        if (ret_layers)
                *ret_layers = TAKE_PTR(layers);
        return 0;
}

typedef struct UpperArgs {
        Store *store;
        int mfd;
        char *const *layers;
} UpperArgs;

static int init_upper_call(void *userdata) {
        const UpperArgs *u = userdata;
        return layers_init_upper(u->store, u->mfd, "rootfs", u->layers);
}

/* The first run of create --image: the layers the store lacks unpacked into
 * it, the machine's layer list written, its rootfs an empty upper with the
 * merged view mounted on it (in our own mount namespace), for the second
 * run (--configure-only) and the hostname.  *RET_LOCK gets the layers'
 * lock.  0, or -errno with *RET_STATUS set (logged). */
static int layered_layers(Context *ctx, ImportOptions *a, const char *source, const Staging *stg, int *ret_lock,
                          int *ret_status) {
        *ret_lock = layers_lock(&ctx->store);
        if (*ret_lock < 0)
                return log_error_errno(*ret_lock, "Failed to lock %s/images/layers: %m", ctx->store.root);
        /* A user's machine runs in the store's range, claimed (or kept) under
         * the lock no prune gives it back without. */
        uid_t base;
        int r;
        if (geteuid() != 0) {
                r = userns_image_range(&ctx->store, &base);
                if (r < 0)
                        return r;
                r = idmap_write_at(stg->fd, base);
                if (r < 0)
                        return log_error_errno(r, "Failed to write %s/idmap: %m", stg->path);
        }
        clean_stale_layers(ctx);
        _cleanup_strv_free_ char **layers = NULL;
        r = unpack_layers(ctx, a, source, stg->rootfs, stg->fd, stg->path, &layers, ret_status, NULL);
        if (r < 0)
                return r;
        r = layers_write(stg->fd, "layers", layers);
        /* A user's steps on the merged view run in children that are root
         * of the machine's namespace (merged_step()): only they may
         * mount it, and change what the image's range owns. */
        if (r >= 0 && geteuid() != 0)
                r = userns_call(stg->fd, init_upper_call, &(UpperArgs) { &ctx->store, stg->fd, layers });
        else if (r >= 0)
                r = layers_init_upper(&ctx->store, stg->fd, "rootfs", layers);
        if (r >= 0 && geteuid() == 0)
                r = layers_mount_merged(&ctx->store, stg->path);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the layers of the new machine: %m");
        a->configure_only = true;
        return 0;
}

/* What a user's create --image does on the merged view of the new machine
 * (root mounts it in its own mount namespace and does these directly). */
typedef struct MergedStep {
        Context *ctx;
        const Staging *stg;
        const ImportOptions *a;
        const char *source;
        const char *name;
        const char *hostname; /* NULL: run the helper's --configure-only pass */
        const char *init;     /* the init to check, or NULL */
} MergedStep;

static int merged_step(void *userdata) {
        const MergedStep *m = userdata;
        int r = layers_mount_merged(&m->ctx->store, m->stg->path);
        if (r < 0)
                return log_error_errno(r, "Failed to mount the layers of the new machine: %m");
        if (!m->hostname) {
                /* Root here: the helper runs in a sandbox of this namespace.
                 * Its -EINVAL (the helper said the input is wrong) is told
                 * apart from a mount's or a write's EINVAL above. */
                r = import_helper_run(m->a, !m->ctx->quiet && isatty(STDERR_FILENO), m->source,
                                      m->stg->rootfs, m->stg->path);
                return r == -EINVAL ? -EMEDIUMTYPE : r;
        }
        r = rootfs_write_hostname(m->stg->rootfs, m->hostname);
        if (r < 0)
                return log_error_errno(r, "Failed to write the machine's hostname: %m");
        if (m->init) {
                _cleanup_free_ char *init = xstrdup(m->init), *init_name = NULL;
                if (rootfs_check(m->stg->rootfs, init, &init_name) < 0)
                        log_warning("Machine '%s' will not boot as it is (see above); if the image is an "
                                    "application, import it with --boot=no.",
                                    m->name);
        }
        return 0;
}

static const OptionSpec import_options[] = {
        { "ref", 0, 'r', "TAG|DIGEST", "the image to take from a layout or archive holding several" },
        { "platform", 0, 'p', "OS/ARCH[/VARIANT]", "the platform to take from a multi-platform image" },
        { "boot", 0, 'b', "auto|yes|no", "boot the image's own init (yes), or run its entrypoint under a minimal init (no)" },
        { "max-size", 0, 'm', "SIZE", "refuse to unpack more than SIZE" },
        { "set", 0, 's', "SECTION.KEY=VALUE", "a machine.conf setting (repeatable; see berth.machine(5))" },
        {},
};

const VerbSpec import_verb = {
        .name = "import",
        .func = verb_import,
        .args = "NAME SOURCE",
        .summary = "Make a machine of an OCI image (layout, oci-archive, docker-archive), a rootfs tar or a bundle",
        .example = "import web ./nginx-oci.tar --platform linux/amd64",
        .options = import_options,
        .complete = COMPLETE_FILE,
        .rootless = true,
};

int verb_import(Context *ctx, int argc, char **argv) {
        _cleanup_strv_free_ char **set = NULL;
        ImportOptions a = { .boot = "auto" };
        const char *max_size_arg = NULL;
        OptionParser p;
        option_parser_init(&p, &import_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'r':
                        a.ref = p.arg;
                        break;
                case 'p':
                        a.platform = p.arg;
                        break;
                case 'b':
                        if (boot_option(p.arg, &a) < 0)
                                return ERR_USAGE;
                        break;
                case 's':
                        set = strv_append(set, p.arg);
                        break;
                case 'm':
                        max_size_arg = p.arg;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        int r = expect_args(&p, 2, 2);
        if (r != 0)
                return r;
        const char *name = p.args[0], *source = p.args[1];
        r = check_name(name);
        if (r != 0)
                return r;
        if (isempty(a.ref) && a.ref) {
                log_error("--ref must not be empty.");
                return ERR_USAGE;
        }
        struct stat st;
        if (stat(source, &st) < 0) {
                log_error_errno(errno, "Cannot import %s: %m", source);
                return ERR_USAGE;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
                log_error("Cannot import %s: not a directory (OCI layout, bundle) or a file (archive).", source);
                return ERR_USAGE;
        }
        _cleanup_free_ char *label = xasprintf("import:%s", source);
        return import_machine(ctx, name, source, label, &a, set, max_size_arg);
}

int import_machine(Context *ctx, const char *name, const char *source, const char *label, ImportOptions *a_in,
                   char *const *set, const char *max_size_arg) {
        ImportOptions a = *a_in;
        _cleanup_free_ char *max_size = NULL;
        int r = import_max_size(ctx, max_size_arg, &max_size);
        if (r != 0)
                return r;
        a.max_size = max_size;

        /* --set wins over what the image says: validated and marked first. */
        /* A user's machine of image layers runs in the image store's range
         * (userns.h): it takes none of the user's others, and gets the
         * store's in layered_layers(). */
        bool user_layered = a.layered && geteuid() != 0;
        _cleanup_(machine_config_done) MachineConfig cfg = {};
        _cleanup_(staging_done) Staging stg = STAGING_INIT;
        r = staging_begin(ctx, name, set, user_layered ? STAGING_RANGE_LATER : 0, &cfg, &stg);
        if (r != 0)
                return r;
        const char *rootfs = stg.rootfs, *staging_path = stg.path;
        int sfd = stg.fd;
        int status = ERR_FAILED;
        r = 0;
        /* Held until the machine lists its layers: the ones the helper adds
         * are referenced by nothing before, and gc, rm and prune would take
         * them. */
        _cleanup_close_ int layers_lock_fd = -EBADF;
        bool merged = false;
        if (a.layered) {
                r = layered_layers(ctx, &a, source, &stg, &layers_lock_fd, &status);
                merged = r >= 0 && !user_layered;
        }
        if (r >= 0 && user_layered) {
                int k = userns_call(sfd, merged_step, &(MergedStep) { ctx, &stg, &a, source, name, NULL, NULL });
                if (k < 0) {
                        status = k == -EMEDIUMTYPE ? ERR_USAGE : ERR_FAILED;
                        r = -EIO;
                }
        } else if (r >= 0) {
                int k = run_helper(ctx, &a, source, rootfs, staging_path, NULL);
                if (k != 0) {
                        status = k;
                        r = -EIO;
                }
        }

        /* The fragment is untrusted text: the strict parser judges it. */
        _cleanup_free_ char *fragment = NULL;
        _cleanup_(image_info_done) ImageInfo img = {};
        if (r >= 0) {
                r = read_file_at(sfd, "image.conf", CONFIG_FILE_MAX, &fragment, NULL);
                /* Malformed facts only cost the ports comment, as before. */
                if (r >= 0 && (r = image_info_read_at(sfd, &img)) == -EBADMSG)
                        r = 0;
                if (r < 0)
                        log_error_errno(r, "The import helper left no configuration: %m");
        }
        if (r >= 0) {
                r = image_config_apply(&cfg, fragment);
                (void) unlinkat(sfd, "image.conf", 0);
        }
        if (r >= 0 && user_layered)
                r = userns_call(sfd, merged_step,
                                &(MergedStep) { ctx, &stg, &a, source, name, cfg.hostname ?: name,
                                                cfg.boot ? cfg.init : NULL });
        else if (r >= 0)
                r = rootfs_write_hostname_as_machine(sfd, rootfs, cfg.hostname ?: name);
        if (r >= 0 && cfg.boot && !user_layered) {
                _cleanup_free_ char *init_name = NULL;
                _cleanup_free_ char *init = xstrdup(cfg.init);
                if (rootfs_check(rootfs, init, &init_name) < 0)
                        log_warning("Machine '%s' will not boot as it is (see above); if the image is an "
                                    "application, import it with --boot=no.",
                                    name);
        }
        /* Only our own mount namespace has it; the rename below wants it gone. */
        if (merged)
                layers_umount_merged(rootfs);
        /* machine.conf: the ports the image exposes (not published) as a
         * comment, then what it asked for. */
        _cleanup_free_ char *conf = machine_config_format(&cfg, cfg.set_mask);
        _cleanup_free_ char *ports = r >= 0 ? image_ports(&img) : NULL;
        _cleanup_free_ char *text = xasprintf("# Imported with 'berth import'; what the image asked for is below.\n"
                                              "%s%s%s%s",
                                              ports ? "# Ports the image exposes (not published): " : "",
                                              ports ?: "", ports ? "\n" : "", conf);
        _cleanup_free_ char *meta = xasprintf("SOURCE=%s\nCREATED_USEC=%llu\n", label,
                                              (unsigned long long) now_usec(CLOCK_REALTIME));
        if (staging_commit(&ctx->store, &stg, name, text, meta, r) < 0)
                return status;
        if (a.layered && img.manifest)
                mark_layers(ctx, name, img.manifest);
        if (!ctx->quiet && isatty(STDOUT_FILENO))
                printf("Imported machine %s (%s).\n", name, cfg.boot ? "boots its init" : "runs its command");
        return 0;
}
