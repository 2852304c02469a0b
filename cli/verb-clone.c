/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth clone, snapshot, snapshots, restore: copies of a stopped machine's
 * root file system, made with copy_tree() (reflinks where the filesystem has
 * them, a full copy elsewhere).  Snapshots live in the machine's own
 * directory, machines/NAME/snapshots/SNAP/{rootfs,machine.conf,info}, and go
 * with it. */
#include <getopt.h>
#include <json-c/json.h>
#include <sys/random.h>
#include <time.h>

#include "berth.h"
#include "fs.h"
#include "log.h"
#include "name.h"
#include "runtime.h"
#include "store.h"
#include "userns.h"
#include "util.h"

/* Refuse a running machine: a copy of a live tree is no state at all. */
static int require_stopped(Context *ctx, const char *name, const char *what) {
        if (runtime_is_active(ctx->store.run_fd, name) > 0) {
                log_error("Machine '%s' is running; stop it first to %s it ('berth stop %s').", name, what, name);
                return EXIT_FAIL;
        }
        return EXIT_OK;
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
 * a new one at boot, and an etc/hostname naming the source names the clone. */
static void reset_identity(const char *rootfs, const char *old_name, const char *new_name) {
        _cleanup_close_ int root = open_dir_nofollow(AT_FDCWD, rootfs);
        if (root < 0)
                return;
        _cleanup_close_ int id = open_guest_file(root, "etc/machine-id");
        if (id < 0 && id != -ENOENT)
                log_warning_errno(id, "Cannot reset the clone's etc/machine-id, it keeps the source's: %m");

        /* O_PATH first: only a regular file is ever opened for reading. */
        _cleanup_close_ int hpath = chase_in_root(root, "etc/hostname", CHASE_NO_SYMLINKS, O_PATH, 0);
        struct stat st;
        char buf[256] = "", proc[64];
        if (hpath < 0 || fstat(hpath, &st) < 0 || !S_ISREG(st.st_mode))
                return;
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", hpath);
        _cleanup_close_ int hfd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (hfd < 0)
                return;
        ssize_t n = read(hfd, buf, sizeof buf - 1);
        if (n <= 0)
                return;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        if (!streq(buf, old_name))
                return;
        _cleanup_close_ int w = open_guest_file(root, "etc/hostname");
        _cleanup_free_ char *text = xasprintf("%s\n", new_name);
        if (w < 0 || write_all(w, text, strlen(text)) < 0)
                log_warning("Cannot write the clone's etc/hostname.");
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int verb_clone(Context *ctx, int argc, char **argv) {
        static const struct option opts[] = { { "set", required_argument, NULL, 's' }, {} };
        _cleanup_strv_free_ char **set = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 's':
                        set = strv_append(set, optarg);
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (argc - optind != 2) {
                log_error("Usage: berth clone [--set Section.Key=Value]... SRC DST");
                return EXIT_USAGE;
        }
        const char *src = argv[optind], *dst = argv[optind + 1];
        int r = check_name(src);
        if (r == 0)
                r = check_name(dst);
        if (r != 0)
                return r;
        r = look_up_machine(ctx, src);
        if (r != 0)
                return r;

        _cleanup_(machine_config_done) MachineConfig cfg = {};
        _cleanup_(staging_done) Staging stg = STAGING_INIT;
        r = staging_begin(ctx, dst, set, &cfg, &stg);
        if (r != EXIT_OK)
                return r;
        /* SRC must not start (or change) while we copy it. */
        _cleanup_close_ int src_lock = store_lock_machine(&ctx->store, src, true);
        int status = EXIT_FAIL;
        if (src_lock < 0)
                log_error("Machine '%s' is busy (another berth command holds it); try again.", src);
        else
                status = require_stopped(ctx, src, "clone");

        _cleanup_free_ char *src_rootfs = store_rootfs_path(&ctx->store, src);
        r = status == EXIT_OK ? 0 : -EPERM;
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
        if (r >= 0)
                r = copy_tree(src_rootfs, stg.rootfs);
        if (r >= 0)
                reset_identity(stg.rootfs, src, dst);
        _cleanup_free_ char *conf = machine_config_format(&cfg, cfg.set_mask);
        _cleanup_free_ char *info = xasprintf("SOURCE=clone:%s\nCREATED_USEC=%llu\n", src,
                                              (unsigned long long) now_usec(CLOCK_REALTIME));
        if (staging_commit(ctx, &stg, dst, conf, info, r) < 0)
                return EXIT_FAIL;
        if (!ctx->quiet && isatty(STDOUT_FILENO))
                printf("Cloned %s to %s.\n", src, dst);
        return EXIT_OK;
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
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

/* NAME's lock, NAME stopped: what every snapshot verb that writes needs. */
static int open_stopped(Context *ctx, const char *name, const char *what, int *ret_lock) {
        int r = open_machine(ctx, name, ret_lock);
        if (r != 0)
                return r;
        return require_stopped(ctx, name, what);
}

int verb_snapshot(Context *ctx, int argc, char **argv) {
        static const struct option opts[] = { { "rm", no_argument, NULL, 'r' }, {} };
        bool rm = false;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'r':
                        rm = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        int n = argc - optind;
        if (n < 1 || n > 2 || (rm && n != 2)) {
                log_error("Usage: berth snapshot NAME [SNAP], berth snapshot --rm NAME SNAP");
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        char stamp[32];
        const char *snap = n == 2 ? argv[optind + 1] : NULL;
        if (!snap) {
                time_t t = time(NULL);
                struct tm tm;
                strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime_r(&t, &tm));
                snap = stamp;
        }
        int r = check_name(name);
        if (r == 0)
                r = check_snapshot_name(snap);
        if (r != 0)
                return r;

        _cleanup_close_ int lock = -EBADF;
        if (rm) {
                r = open_machine(ctx, name, &lock);
                if (r != 0)
                        return r;
                _cleanup_close_ int sdir = snapshots_dir(ctx, name, false);
                if (sdir < 0 || faccessat(sdir, snap, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
                        log_error("Machine '%s' has no snapshot '%s'. See 'berth snapshots %s'.", name, snap, name);
                        return EXIT_NO_MACHINE;
                }
                r = rm_rf_at(sdir, snap);
                if (r < 0) {
                        log_error_errno(r, "Failed to remove snapshot '%s': %m", snap);
                        return EXIT_FAIL;
                }
                return EXIT_OK;
        }

        r = open_stopped(ctx, name, "snapshot", &lock);
        if (r != 0)
                return r;
        _cleanup_close_ int sdir = snapshots_dir(ctx, name, true);
        if (sdir < 0) {
                log_error_errno(sdir, "Failed to open the snapshots of '%s': %m", name);
                return EXIT_FAIL;
        }
        if (faccessat(sdir, snap, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                log_error("Machine '%s' has a snapshot '%s' already; remove it with 'berth snapshot --rm %s %s'.",
                          name, snap, name, snap);
                return EXIT_FAIL;
        }
        /* Built under a hidden name, renamed when complete: a killed snapshot
         * leaves no half copy that restore could take. */
        uint64_t rnd = 0;
        (void) getrandom(&rnd, sizeof rnd, 0);
        _cleanup_free_ char *tmp = xasprintf(".staging-%s.%016llx", snap, (unsigned long long) rnd);
        _cleanup_free_ char *mpath = store_machine_path(&ctx->store, name);
        _cleanup_free_ char *tpath = xasprintf("%s/snapshots/%s", mpath, tmp);
        _cleanup_free_ char *trootfs = xasprintf("%s/rootfs", tpath);
        _cleanup_free_ char *rootfs = store_rootfs_path(&ctx->store, name);
        r = RET_NERRNO(mkdirat(sdir, tmp, 0700));
        _cleanup_close_ int tfd = r < 0 ? r : open_dir_nofollow(sdir, tmp);
        r = tfd < 0 ? tfd : RET_NERRNO(mkdirat(tfd, "rootfs", 0755));
        if (r >= 0)
                r = copy_tree(rootfs, trootfs);
        if (r >= 0) {
                _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
                _cleanup_free_ char *conf = NULL;
                if (mfd >= 0 && read_file_at(mfd, "machine.conf", CONFIG_FILE_MAX, &conf, NULL) >= 0)
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
                (void) rm_rf_at(sdir, tmp);
                return EXIT_FAIL;
        }
        if (!ctx->quiet)
                printf("%s\n", snap);
        return EXIT_OK;
}

int verb_snapshots(Context *ctx, int argc, char **argv) {
        static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, {} };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        const char *name;
        int r = one_name(argc, argv, "snapshots NAME [--json]", &name);
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
        return EXIT_OK;
}

int verb_restore(Context *ctx, int argc, char **argv) {
        if (argc != 3) {
                log_error("Usage: berth restore NAME SNAP");
                return EXIT_USAGE;
        }
        const char *name = argv[1], *snap = argv[2];
        int r = check_name(name);
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
                return EXIT_FAIL;
        }
        _cleanup_close_ int sdir = snapshots_dir(ctx, name, false);
        _cleanup_close_ int snapfd = sdir < 0 ? sdir : open_dir_nofollow(sdir, snap);
        if (snapfd < 0) {
                log_error("Machine '%s' has no snapshot '%s'. See 'berth snapshots %s'.", name, snap, name);
                return EXIT_NO_MACHINE;
        }

        /* A full copy beside the rootfs, then one atomic exchange: a killed
         * restore leaves the old rootfs (and a hidden copy gc-able by the
         * next restore), never a half-restored one. */
        _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
        _cleanup_free_ char *mpath = store_machine_path(&ctx->store, name);
        _cleanup_free_ char *spath = xasprintf("%s/snapshots/%s/rootfs", mpath, snap);
        _cleanup_free_ char *npath = xasprintf("%s/.rootfs-restore", mpath);
        if (mfd < 0) {
                log_error_errno(mfd, "Failed to open machine '%s': %m", name);
                return EXIT_FAIL;
        }
        (void) rm_rf_at(mfd, ".rootfs-restore");
        r = RET_NERRNO(mkdirat(mfd, ".rootfs-restore", 0755));
        if (r >= 0)
                r = copy_tree(spath, npath);
        if (r >= 0 && renameat2(mfd, ".rootfs-restore", mfd, "rootfs", RENAME_EXCHANGE) < 0)
                r = -errno;
        if (r >= 0) {
                _cleanup_free_ char *conf = NULL;
                if (read_file_at(snapfd, "machine.conf", CONFIG_FILE_MAX, &conf, NULL) >= 0)
                        (void) write_file_atomic_at(mfd, "machine.conf", conf, strlen(conf), 0644);
        }
        /* After the exchange this is the old rootfs. */
        (void) rm_rf_at(mfd, ".rootfs-restore");
        if (r < 0) {
                log_error_errno(r, "Failed to restore '%s' to '%s': %m", name, snap);
                return EXIT_FAIL;
        }
        if (!ctx->quiet && isatty(STDOUT_FILENO))
                printf("Restored %s to %s.\n", name, snap);
        return EXIT_OK;
}
