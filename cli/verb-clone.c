/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth clone, snapshot, snapshots, restore: copies of a stopped machine's
 * root file system.  Where the filesystem makes reflinks, copy_tree() copies
 * it (cheaply); elsewhere the rootfs is frozen into a shared layer and the
 * copy is overlay-backed (layers.h); --copy and --overlay choose.  Snapshots
 * live in the machine's own directory, machines/NAME/snapshots/SNAP/
 * {rootfs or layers,machine.conf,info}, and go with it. */
#include <json-c/json.h>
#include <sys/random.h>
#include <time.h>

#include "berth.h"
#include "fs.h"
#include "gc.h"
#include "idmap.h"
#include "layers.h"
#include "log.h"
#include "name.h"
#include "newidmap.h"
#include "rootfs.h"
#include "runtime.h"
#include "store.h"
#include "userns.h"
#include "util.h"

/* Refuse a running machine: a copy of a live tree is no state at all. */
static int require_stopped(Context *ctx, const char *name, const char *what) {
        if (runtime_is_active(ctx->store.run_fd, name) > 0) {
                log_error("Machine '%s' is running; stop it first to %s it ('berth stop %s').", name, what, name);
                return ERR_FAILED;
        }
        return 0;
}

/* Open the guest's regular file PATH in ROOT for writing (truncated):
 * resolved inside the rootfs, no symlink followed, and never anything but a
 * regular file (a device node planted there must not be opened from here).
 * Returns an fd or -errno. */
static int open_guest_file(int root, const char *path) {
        _cleanup_close_ int fd = chase_in_root(root, path, CHASE_NO_SYMLINKS, O_PATH, 0);
        if (fd < 0)
                return fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        return RET_NERRNO(open(proc, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY));
}

/* A clone is another machine: an empty etc/machine-id makes systemd give it
 * a new one at boot, and its etc/hostname names it (HOSTNAME), whatever the
 * source's said.  Returns 0 or -errno (logged). */
static int reset_identity(const char *rootfs, const char *hostname) {
        _cleanup_close_ int root = open_dir_nofollow(AT_FDCWD, rootfs);
        if (root < 0)
                return log_error_errno(root, "Failed to open %s: %m", rootfs);
        _cleanup_close_ int id = open_guest_file(root, "etc/machine-id");
        if (id < 0 && id != -ENOENT)
                log_warning_errno(id, "Cannot reset the clone's etc/machine-id, it keeps the source's: %m");
        return rootfs_write_hostname(rootfs, hostname);
}

typedef struct IdentityArgs {
        const char *rootfs;
        const char *hostname;
} IdentityArgs;

/* For userns_call(): a user's clone is written as its machine's root. */
static int reset_identity_call(void *userdata) {
        const IdentityArgs *a = userdata;
        return reset_identity(a->rootfs, a->hostname);
}

typedef struct OverlayCloneArgs {
        Store *store;
        const Staging *stg;
        char *const *layers;
        const char *hostname;
} OverlayCloneArgs;

/* For userns_call(): a user's overlay clone gets its upper and its identity
 * as root of the range it shares with its layers, on the merged view
 * mounted in a mount namespace of that user namespace (overlayfs allows it
 * there, the layers being the range's), which ends with this child. */
static int overlay_clone_call(void *userdata) {
        const OverlayCloneArgs *a = userdata;
        int r = layers_init_upper(a->store, a->stg->fd, "rootfs", a->layers);
        if (r >= 0)
                r = layers_mount_merged(a->store, a->stg->path);
        if (r < 0)
                return log_error_errno(r, "Failed to mount the layers of the clone: %m");
        return reset_identity(a->stg->rootfs, a->hostname);
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* How a copy is made: --copy, --overlay, or by what the filesystem can do. */
typedef enum CopyMode {
        COPY_AUTO,
        COPY_FULL,
        COPY_OVERLAY,
} CopyMode;

#define COPY_MODE_OPTIONS                                                                                \
        { "copy", 0, 'C', NULL, "a full copy (reflinks where the file system has them)" },                \
        { "overlay", 0, 'O', NULL, "an overlay-backed copy: the source frozen into a shared layer" }

/* --copy or --overlay: true when C was one of them. */
static bool copy_mode_option(int c, CopyMode *mode) {
        if (c != 'C' && c != 'O')
                return false;
        *mode = c == 'C' ? COPY_FULL : COPY_OVERLAY;
        return true;
}

/* Reflinks make a full copy cheap; without them a copy is overlay-backed. */
static bool use_overlay(Context *ctx, CopyMode mode) {
        if (mode != COPY_AUTO)
                return mode == COPY_OVERLAY;
        int r = reflink_supported(ctx->store.machines_fd);
        if (r < 0)
                log_debug_errno(r, "Cannot tell whether %s/machines makes reflinks, assuming not: %m", ctx->store.root);
        return r <= 0;
}

typedef struct FreezeArgs {
        Store *store;
        int mfd;
        uid_t range;
} FreezeArgs;

/* For userns_call(): a user's rootfs and its new layer are the range's. */
static int freeze_call(void *userdata) {
        const FreezeArgs *a = userdata;
        _cleanup_strv_free_ char **layers = NULL;
        return layers_freeze(a->store, a->mfd, a->range, &layers);
}

/* Freeze the rootfs of NAME (stopped, locked by us) into a layer.  On
 * success *RET_LOCK holds the layers' lock (keep it until the layer list is
 * written where it belongs) and *RET_LAYERS lists NAME's content.  Logs. */
static int freeze_machine(Context *ctx, const char *name, int *ret_lock, char ***ret_layers) {
        /* Run instances of NAME boot its layers and rootfs: not while they move. */
        _cleanup_close_ int base_lock = store_lock_base(&ctx->store, name, false);
        if (base_lock < 0)
                return log_error_errno(base_lock,
                                       "Machine '%s' is the base of running 'berth run' machines, so its rootfs "
                                       "cannot become a shared layer now; let them end, or use --copy.",
                                       name);
        _cleanup_close_ int lock = layers_lock(&ctx->store);
        if (lock < 0)
                return log_error_errno(lock, "Failed to lock %s/images/layers: %m", ctx->store.root);
        _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
        int r = mfd;
        if (mfd >= 0 && geteuid() == 0)
                r = layers_freeze(&ctx->store, mfd, 0, ret_layers);
        else if (mfd >= 0) {
                /* A user's: as root of the machine's namespace, in a child,
                 * which leaves the machine's new layer list in its dir. */
                uid_t range;
                r = idmap_read_at(mfd, &range);
                /* The layer store is the user's, made here if missing, not by
                 * the range's root. */
                if (r >= 0 && mkdirat(ctx->store.images_fd, "layers", 0700) < 0 && errno != EEXIST)
                        r = -errno;
                if (r >= 0)
                        r = userns_call(mfd, freeze_call, &(FreezeArgs) { &ctx->store, mfd, range });
                if (r >= 0)
                        r = layers_read(mfd, "layers", ret_layers);
                if (r >= 0 && !*ret_layers)
                        r = -EBADMSG;
        }
        if (r == -E2BIG)
                return log_error_errno(r, "Machine '%s' sits on %d layers already; flatten it first with a full copy "
                                          "('berth clone --copy %s NEW').",
                                       name, LAYERS_MAX, name);
        if (r < 0)
                return log_error_errno(r, "Failed to freeze the rootfs of '%s' into a layer: %m", name);
        *ret_lock = TAKE_FD(lock);
        return 0;
}

/* For a full copy of a layered machine: its merged view on its rootfs path,
 * in this process only.  Logs. */
static int mount_merged(Context *ctx, const char *name) {
        _cleanup_free_ char *mpath = store_machine_path(&ctx->store, name);
        int r = layers_mount_merged(&ctx->store, mpath);
        if (r < 0)
                log_error_errno(r, "Failed to mount the layers of '%s': %m", name);
        return r;
}

static const OptionSpec clone_options[] = {
        COPY_MODE_OPTIONS,
        { "set", 0, 's', "SECTION.KEY=VALUE", "a machine.conf setting of the copy (repeatable)" },
        {},
};

const VerbSpec clone_verb = {
        .name = "clone",
        .func = verb_clone,
        .args = "SRC DST",
        .summary = "Copy a stopped machine: own machine-id, hostname, UID range and address",
        .example = "clone --overlay web web2",
        .options = clone_options,
        .complete = COMPLETE_STOPPED,
        .rootless = true,
};

int verb_clone(Context *ctx, int argc, char **argv) {
        _cleanup_strv_free_ char **set = NULL;
        CopyMode mode = COPY_AUTO;
        OptionParser p;
        option_parser_init(&p, &clone_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                if (c == 's')
                        set = strv_append(set, p.arg);
                else if (!copy_mode_option(c, &mode))
                        return ERR_USAGE;
        if (c < 0)
                return c;
        int r = expect_args(&p, 2, 2);
        if (r != 0)
                return r;
        const char *src = p.args[0], *dst = p.args[1];
        r = check_name(src);
        if (r == 0)
                r = check_name(dst);
        if (r != 0)
                return r;
        r = look_up_machine(ctx, src);
        if (r != 0)
                return r;

        /* A user's overlay clone runs in the source's range, the range of
         * the layer they share (layers.h): it takes none of its own. */
        bool user = geteuid() != 0;
        bool user_overlay = user && mode == COPY_OVERLAY;
        _cleanup_(machine_config_done) MachineConfig cfg = {};
        _cleanup_(staging_done) Staging stg = STAGING_INIT;
        r = staging_begin(ctx, dst, set, user_overlay ? STAGING_RANGE_LATER : 0, &cfg, &stg);
        if (r != 0)
                return r;
        /* SRC must not start (or change) while we copy it. */
        _cleanup_close_ int src_lock = store_lock_machine(&ctx->store, src, true);
        int status = ERR_FAILED;
        if (src_lock < 0)
                log_error("Machine '%s' is busy (another berth command holds it); try again.", src);
        else
                status = require_stopped(ctx, src, "clone");
        _cleanup_close_ int src_fd = status == 0 ? open_dir_nofollow(ctx->store.machines_fd, src) : -EBADF;
        if (status == 0 && (src_fd < 0 || rootfs_switch_recover(&ctx->store, src_fd) < 0)) {
                log_error("Cannot recover machine '%s' from an interrupted change of its rootfs.", src);
                status = ERR_FAILED;
        }

        _cleanup_free_ char *src_rootfs = store_rootfs_path(&ctx->store, src);
        r = status == 0 ? 0 : -EPERM;
        if (r >= 0) {
                /* The source's configuration below --set, but not what belongs
                 * to one machine only: its hostname and its host ports. */
                uint64_t cli = cfg.set_mask;
                _cleanup_free_ char *conf_path = xasprintf("%s/machines/%s/machine.conf", ctx->store.root, src);
                _cleanup_free_ char *err = NULL;
                r = machine_config_parse_file(&cfg, conf_path, CONFIG_SOURCE_MACHINE, true, true, &err);
                if (r < 0)
                        log_error("%s", err ?: "Invalid configuration of the source.");
                uint64_t own = CONFIG_KEY_BIT(CONFIG_MACHINE_HOSTNAME) | CONFIG_KEY_BIT(CONFIG_NETWORK_PORT);
                cfg.set_mask &= ~(own & ~cli);
        }
        /* A user's clone is a full copy unless --overlay says otherwise:
         * an overlay one shares the source's range for good. */
        bool overlay = user ? user_overlay : use_overlay(ctx, mode);
        /* The source's Hostname= is not the clone's (see above), unless --set gave one. */
        bool own_hostname = (cfg.set_mask & CONFIG_KEY_BIT(CONFIG_MACHINE_HOSTNAME)) && cfg.hostname;
        const char *hostname = own_hostname ? cfg.hostname : dst;
        _cleanup_close_ int layers_lock_fd = -EBADF;
        _cleanup_strv_free_ char **layers = NULL;
        if (r >= 0 && user_overlay) {
                /* SRC's rootfs becomes a layer of its range; DST runs in it too. */
                uid_t base;
                r = freeze_machine(ctx, src, &layers_lock_fd, &layers);
                if (r >= 0) {
                        /* Both keep the range for good (userns.h); the
                         * source says so once the clone is made (below). */
                        r = idmap_read_at(src_fd, &base);
                        if (r >= 0)
                                r = idmap_write_at(stg.fd, base);
                        if (r >= 0)
                                r = write_file_atomic_at(stg.fd, USERNS_SHARED_FILE, "", 0, 0644);
                        if (r >= 0)
                                r = layers_write(stg.fd, "layers", layers);
                        if (r < 0)
                                log_error_errno(r, "Failed to set up the layers of '%s': %m", dst);
                }
                if (r >= 0)
                        r = userns_call(stg.fd, overlay_clone_call,
                                        &(OverlayCloneArgs) { &ctx->store, &stg, layers, hostname });
        } else if (r >= 0 && overlay) {
                /* SRC's rootfs becomes a shared layer; SRC and DST each get an upper. */
                r = freeze_machine(ctx, src, &layers_lock_fd, &layers);
                if (r >= 0)
                        r = layers_write(stg.fd, "layers", layers);
                if (r >= 0)
                        r = layers_init_upper(&ctx->store, stg.fd, "rootfs", layers);
                if (r >= 0)
                        r = layers_mount_merged(&ctx->store, stg.path);
                if (r < 0)
                        log_error_errno(r, "Failed to set up the layers of '%s': %m", dst);
        } else if (r >= 0 && user) {
                /* The source's files carry its range's host IDs; the clone
                 * gets its own range (staging_begin() took it). */
                uid_t src_base, dst_base;
                r = idmap_read_at(src_fd, &src_base);
                if (r >= 0)
                        r = idmap_read_at(stg.fd, &dst_base);
                if (r < 0)
                        log_error_errno(r, "Cannot read the UID ranges of '%s' and its clone: %m", src);
                else {
                        /* A machine of image layers (create --image) is copied whole. */
                        _cleanup_free_ char *mpath = store_machine_path(&ctx->store, src);
                        bool layered = faccessat(src_fd, "layers", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
                        r = copy_tree_to_range(&ctx->store, layered ? mpath : NULL, src_rootfs, src_base,
                                               stg.rootfs, dst_base);
                }
        } else if (r >= 0) {
                r = mount_merged(ctx, src);
                if (r >= 0)
                        r = copy_tree(src_rootfs, stg.rootfs);
        }
        if (r >= 0 && !user_overlay)
                r = userns_call(stg.fd, reset_identity_call, &(IdentityArgs) { stg.rootfs, hostname });
        /* Only our own mount namespace has it; the rename below wants it gone. */
        if (overlay && !user)
                layers_umount_merged(stg.rootfs);
        _cleanup_free_ char *conf = machine_config_format(&cfg, cfg.set_mask);
        _cleanup_free_ char *info = xasprintf("SOURCE=clone:%s\nCREATED_USEC=%llu\n", src,
                                              (unsigned long long) now_usec(CLOCK_REALTIME));
        if (staging_commit(&ctx->store, &stg, dst, conf, info, r) < 0)
                return ERR_FAILED;
        /* Only now: a failed clone must not leave the source sharing its
         * range with nobody (still under SRC's lock: it does not start).
         * Should this fail, the source keeps the registry's entry it holds,
         * so nothing moves until the entry passes to DST. */
        if (user_overlay) {
                r = write_file_atomic_at(src_fd, USERNS_SHARED_FILE, "", 0, 0644);
                if (r < 0) {
                        log_error_errno(r, "Cloned %s to %s, but failed to write %s/machines/%s/" USERNS_SHARED_FILE
                                        " (create that empty file, or remove %s): %m",
                                        src, dst, ctx->store.root, src, dst);
                        return ERR_FAILED;
                }
        }
        if (!ctx->quiet && isatty(STDOUT_FILENO))
                printf("Cloned %s to %s.\n", src, dst);
        return 0;
}

/* ----- snapshots ----- */

/* machines/NAME/snapshots, created when CREATE. */
static int snapshots_dir(Context *ctx, const char *name, bool create) {
        _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
        if (mfd < 0)
                return mfd;
        if (create && mkdirat(mfd, "snapshots", 0700) < 0 && errno != EEXIST)
                return -errno;
        return open_dir_nofollow(mfd, "snapshots");
}

static int check_snapshot_name(const char *snap) {
        const char *reason;
        if (machine_name_validate(snap, &reason) < 0) {
                log_error("Invalid snapshot name '%s': %s.", snap, reason);
                return ERR_USAGE;
        }
        return 0;
}

/* NAME's lock, NAME stopped: what every snapshot verb that writes needs. */
static int open_stopped(Context *ctx, const char *name, const char *what, int *ret_lock) {
        int r = open_machine(ctx, name, ret_lock);
        if (r != 0)
                return r;
        return require_stopped(ctx, name, what);
}

static const OptionSpec snapshot_options[] = {
        COPY_MODE_OPTIONS,
        { "rm", 0, 'r', NULL, "remove snapshot SNAP instead" },
        {},
};

const VerbSpec snapshot_verb = {
        .name = "snapshot",
        .func = verb_snapshot,
        .args = "NAME [SNAP]",
        .summary = "Save a stopped machine's state as SNAP (default: the time), or remove one with --rm",
        .example = "snapshot web before-upgrade\nsnapshot --rm web before-upgrade",
        .options = snapshot_options,
        .complete = COMPLETE_MACHINE_SNAPSHOT,
        .rootless = true,
};

int verb_snapshot(Context *ctx, int argc, char **argv) {
        bool rm = false;
        CopyMode mode = COPY_AUTO;
        OptionParser p;
        option_parser_init(&p, &snapshot_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                if (c == 'r')
                        rm = true;
                else if (!copy_mode_option(c, &mode))
                        return ERR_USAGE;
        if (c < 0)
                return c;
        int n = p.n_args;
        if (rm && n != 2)
                return usage_error(&snapshot_verb, "--rm needs NAME and SNAP.");
        int r = expect_args(&p, 1, 2);
        if (r != 0)
                return r;
        const char *name = p.args[0];
        char stamp[32];
        const char *snap = n == 2 ? p.args[1] : NULL;
        if (!snap) {
                time_t t = time(NULL);
                struct tm tm;
                strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime_r(&t, &tm));
                snap = stamp;
        }
        r = check_name(name);
        if (r == 0)
                r = check_snapshot_name(snap);
        if (r != 0)
                return r;

        /* A user's snapshot is a full copy in the machine's own range unless
         * --overlay asks for a layer (of that range, as clone --overlay). */
        bool user = geteuid() != 0;
        _cleanup_close_ int lock = -EBADF;
        if (rm) {
                r = open_machine(ctx, name, &lock);
                if (r != 0)
                        return r;
                _cleanup_close_ int sdir = snapshots_dir(ctx, name, false);
                if (sdir < 0 || faccessat(sdir, snap, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
                        log_error("Machine '%s' has no snapshot '%s'. See 'berth snapshots %s'.", name, snap, name);
                        return ERR_NO_MACHINE;
                }
                _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
                r = mfd < 0 ? mfd : store_rm_tree_in_range(mfd, sdir, NULL, snap);
                if (r < 0) {
                        log_error_errno(r, "Failed to remove snapshot '%s': %m", snap);
                        return ERR_FAILED;
                }
                layers_prune_or_warn(&ctx->store);
                return 0;
        }

        r = open_stopped(ctx, name, "snapshot", &lock);
        if (r != 0)
                return r;
        _cleanup_close_ int sdir = snapshots_dir(ctx, name, true);
        if (sdir < 0) {
                log_error_errno(sdir, "Failed to open the snapshots of '%s': %m", name);
                return ERR_FAILED;
        }
        if (faccessat(sdir, snap, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                log_error("Machine '%s' has a snapshot '%s' already; remove it with 'berth snapshot --rm %s %s'.",
                          name, snap, name, snap);
                return ERR_FAILED;
        }
        /* Built under a hidden name, renamed when complete: a killed snapshot
         * leaves no half copy that restore could take, and its leftover goes
         * now (we hold the machine's lock: no other snapshot of it runs). */
        _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
        if (mfd < 0) {
                log_error_errno(mfd, "Failed to open machine '%s': %m", name);
                return ERR_FAILED;
        }
        gc_snapshot_staging(mfd, sdir);
        uint64_t rnd = 0;
        (void) getrandom(&rnd, sizeof rnd, 0);
        _cleanup_free_ char *tmp = xasprintf(".staging-%s.%016llx", snap, (unsigned long long) rnd);
        _cleanup_free_ char *mpath = store_machine_path(&ctx->store, name);
        _cleanup_free_ char *tpath = xasprintf("%s/snapshots/%s", mpath, tmp);
        _cleanup_free_ char *trootfs = xasprintf("%s/rootfs", tpath);
        _cleanup_free_ char *rootfs = store_rootfs_path(&ctx->store, name);
        r = RET_NERRNO(mkdirat(sdir, tmp, 0700));
        _cleanup_close_ int tfd = r < 0 ? r : open_dir_nofollow(sdir, tmp);
        r = tfd < 0 ? tfd : 0;
        /* Held until the snapshot lists its layers: gc would take them. */
        _cleanup_close_ int layers_lock_fd = -EBADF;
        if (r >= 0 && (user ? mode == COPY_OVERLAY : use_overlay(ctx, mode))) {
                _cleanup_strv_free_ char **layers = NULL;
                r = freeze_machine(ctx, name, &layers_lock_fd, &layers);
                if (r >= 0)
                        r = layers_write(tfd, "layers", layers);
        } else if (r >= 0) {
                r = RET_NERRNO(mkdirat(tfd, "rootfs", 0755));
                /* A user's layered machine's view is mounted where the copy
                 * runs, in its range's namespace (copy_tree_as_machine()). */
                bool layered = faccessat(mfd, "layers", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
                if (r >= 0 && !user)
                        r = mount_merged(ctx, name);
                if (r >= 0)
                        r = copy_tree_as_machine(&ctx->store, mfd, user && layered ? mpath : NULL, rootfs,
                                                 trootfs);
        }
        if (r >= 0) {
                _cleanup_free_ char *conf = NULL;
                if (read_file_at(mfd, "machine.conf", CONFIG_FILE_MAX, &conf, NULL) >= 0)
                        r = write_file_atomic_at(tfd, "machine.conf", conf, strlen(conf), 0644);
                _cleanup_free_ char *info = xasprintf("CREATED_USEC=%llu\n", (unsigned long long) now_usec(CLOCK_REALTIME));
                if (r >= 0)
                        r = write_file_atomic_at(tfd, "info", info, strlen(info), 0644);
        }
        if (r >= 0 && syncfs(tfd) < 0)
                r = -errno;
        if (r >= 0 && renameat2(sdir, tmp, sdir, snap, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0) {
                log_error_errno(r, "Failed to snapshot '%s': %m", name);
                (void) store_rm_tree_in_range(mfd, sdir, NULL, tmp);
                return ERR_FAILED;
        }
        if (!ctx->quiet)
                printf("%s\n", snap);
        return 0;
}

static const OptionSpec snapshots_options[] = { JSON_OPTION, {} };

const VerbSpec snapshots_verb = {
        .name = "snapshots",
        .func = verb_snapshots,
        .args = "NAME",
        .summary = "List a machine's snapshots",
        .example = "snapshots --json web",
        .options = snapshots_options,
        .complete = COMPLETE_MACHINE,
        .rootless = true,
};

int verb_snapshots(Context *ctx, int argc, char **argv) {
        OptionParser p;
        option_parser_init(&p, &snapshots_verb, argc, argv);
        int r = parse_json_option(ctx, &p);
        if (r != 0)
                return r;
        const char *name;
        r = one_name(&p, &name);
        if (r == 0)
                r = look_up_machine(ctx, name);
        if (r != 0)
                return r;
        _cleanup_close_ int sdir = snapshots_dir(ctx, name, false);
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        if (sdir >= 0 && opendir_dup(sdir, &d) >= 0) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.')
                                names = strv_append(names, de->d_name);
        }
        size_t n = strv_length(names);
        if (n > 0)
                qsort(names, n, sizeof *names, strcmp_ptr);
        json_object *arr = ctx->json ? json_object_new_array() : NULL;
        if (!arr && n > 0)
                printf("%-32s %s\n", "SNAPSHOT", "CREATED");
        for (size_t i = 0; i < n; i++) {
                _cleanup_close_ int fd = open_dir_nofollow(sdir, names[i]);
                _cleanup_free_ char *info = NULL;
                unsigned long long usec = 0;
                const char *v;
                if (fd >= 0 && read_file_at(fd, "info", 4096, &info, NULL) >= 0 &&
                    (v = strstr(info, "CREATED_USEC=")))
                        usec = strtoull(v + 13, NULL, 10);
                if (arr) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "name", json_object_new_string(names[i]));
                        json_object_object_add(o, "created_usec", json_object_new_uint64(usec));
                        json_object_array_add(arr, o);
                } else {
                        char when[32] = "-";
                        time_t t = (time_t) (usec / 1000000);
                        struct tm tm;
                        if (usec > 0)
                                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
                        printf("%-32s %s\n", names[i], when);
                }
        }
        if (arr) {
                puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
                json_object_put(arr);
        }
        return 0;
}

typedef struct SwitchArgs {
        Store *store;
        int mfd;
        const RootfsSwitch *sw;
} SwitchArgs;

static int switch_call(void *userdata) {
        const SwitchArgs *a = userdata;
        return rootfs_switch(a->store, a->mfd, a->sw);
}

const VerbSpec restore_verb = {
        .name = "restore",
        .func = verb_restore,
        .args = "NAME SNAP",
        .summary = "Put a stopped machine back to a snapshot",
        .example = "restore web before-upgrade",
        .options = no_options,
        .complete = COMPLETE_MACHINE_SNAPSHOT,
        .rootless = true,
};

int verb_restore(Context *ctx, int argc, char **argv) {
        OptionParser p;
        option_parser_init(&p, &restore_verb, argc, argv);
        int r = option_next(&p);
        if (r == 0)
                r = expect_args(&p, 2, 2);
        if (r != 0)
                return r < 0 ? r : ERR_USAGE;
        const char *name = p.args[0], *snap = p.args[1];
        r = check_name(name);
        if (r == 0)
                r = check_snapshot_name(snap);
        if (r != 0)
                return r;
        _cleanup_close_ int lock = -EBADF;
        r = open_stopped(ctx, name, "restore", &lock);
        if (r != 0)
                return r;
        /* Instances of 'berth run' boot this rootfs: it must not change under them. */
        _cleanup_close_ int base_lock = store_lock_base(&ctx->store, name, false);
        if (base_lock < 0) {
                log_error("Machine '%s' is the base of running 'berth run' machines; stop them first.", name);
                return ERR_FAILED;
        }
        _cleanup_close_ int sdir = snapshots_dir(ctx, name, false);
        _cleanup_close_ int snapfd = sdir < 0 ? sdir : open_dir_nofollow(sdir, snap);
        if (snapfd < 0) {
                log_error("Machine '%s' has no snapshot '%s'. See 'berth snapshots %s'.", name, snap, name);
                return ERR_NO_MACHINE;
        }

        /* One rootfs_switch(): the rootfs, its layers and machine.conf change
         * together, and a killed restore is finished or undone by the next
         * command on the machine, never left half done. */
        _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
        _cleanup_free_ char *mpath = store_machine_path(&ctx->store, name);
        _cleanup_free_ char *spath = xasprintf("%s/snapshots/%s/rootfs", mpath, snap);
        _cleanup_free_ char *npath = xasprintf("%s/" ROOTFS_NEW, mpath);
        if (mfd < 0) {
                log_error_errno(mfd, "Failed to open machine '%s': %m", name);
                return ERR_FAILED;
        }
        _cleanup_free_ char *conf = NULL;
        r = read_file_at(snapfd, "machine.conf", CONFIG_FILE_MAX, &conf, NULL);
        if (r == -ENOENT)
                r = 0; /* the machine's own stays */
        _cleanup_strv_free_ char **layers = NULL;
        if (r >= 0)
                r = layers_read(snapfd, "layers", &layers);
        _cleanup_close_ int lock_layers = r < 0 ? r : layers_lock(&ctx->store);
        r = lock_layers < 0 ? lock_layers : rootfs_switch_recover(&ctx->store, mfd);
        if (r >= 0 && !layers) {
                /* A full copy of the snapshot's rootfs, made beside the machine's. */
                r = RET_NERRNO(mkdirat(mfd, ROOTFS_NEW, 0755));
                if (r >= 0)
                        r = copy_tree_as_machine(&ctx->store, mfd, NULL, spath, npath);
        }
        const RootfsSwitch sw = { .layers = layers, .conf = conf, .populated = !layers };
        /* A user's new upper over the snapshot's layers gets the top layer's
         * owner, a range's ID: made as that range's root. */
        if (r >= 0 && layers && geteuid() != 0)
                r = userns_call(mfd, switch_call, &(SwitchArgs) { &ctx->store, mfd, &sw });
        else if (r >= 0)
                r = rootfs_switch(&ctx->store, mfd, &sw);
        if (r < 0) {
                (void) rootfs_switch_recover(&ctx->store, mfd);
                log_error_errno(r, "Failed to restore '%s' to '%s': %m", name, snap);
                return ERR_FAILED;
        }
        closep(&lock_layers);
        /* The layers only the old rootfs had. */
        layers_prune_or_warn(&ctx->store);
        if (!ctx->quiet && isatty(STDOUT_FILENO))
                printf("Restored %s to %s.\n", name, snap);
        return 0;
}
