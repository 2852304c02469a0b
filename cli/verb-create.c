/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth create: build a machine under a hidden staging name and rename it
 * into place only when complete, so a killed create leaves nothing that
 * "berth list" shows, and the next create of that name cleans up. */

#include <getopt.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "berth.h"
#include "build-config.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "name.h"
#include "rootfs.h"
#include "runtime.h"
#include "spawn.h"
#include "userns.h"
#include "util.h"

typedef struct CreateArgs {
        const char *template;
        const char *release;
        const char *from_dir;
        const char *from_tar;
        const char *max_size;      /* --max-size; NULL: berth.conf's */
        char *max_size_resolved;   /* what berth-unpack gets */
        char **set; /* --set assignments, persisted in machine.conf */
} CreateArgs;

static const char *const known_templates[] = { "busybox", "debian" };

static const char *template_dir(void) {
        return secure_getenv("BERTH_TEMPLATE_DIR") ?: BERTH_TEMPLATE_DIR;
}

/* Remove the hidden dirs killed creates and rms left: .staging-NAME.RANDOM
 * and .removing-NAME.RANDOM.  HELD: only those of NAME HELD, whose lock the
 * caller holds; else those of every NAME whose lock is free (whoever makes
 * or removes NAME holds it, so a free lock means their command was killed).
 * Returns how many were removed. */
static int remove_leftovers(Context *ctx, const char *held, bool verbose) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(ctx->store.machines_fd, &d);
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
                _cleanup_close_ int lock = held ? -EBADF : store_lock_machine(&ctx->store, name, true);
                if (!held && lock < 0)
                        continue;
                r = rm_rf_at(ctx->store.machines_fd, de->d_name);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove stale %s/machines/%s, ignoring: %m", ctx->store.root,
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

int staging_gc(Context *ctx, bool verbose) {
        return remove_leftovers(ctx, NULL, verbose);
}

static int make_staging(Context *ctx, const char *name, char **ret) {
        for (int tries = 0; tries < 16; tries++) {
                uint64_t rnd;
                if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                        return -errno;
                _cleanup_free_ char *s = xasprintf(".staging-%s.%016llx", name, (unsigned long long) rnd);
                if (mkdirat(ctx->store.machines_fd, s, 0700) < 0) {
                        if (errno == EEXIST)
                                continue;
                        return -errno;
                }
                *ret = TAKE_PTR(s);
                return 0;
        }
        return -EEXIST;
}

int staging_commit(Context *ctx, const Staging *s, const char *name, const char *conf, const char *info, int r) {
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
        if (r >= 0 && renameat2(ctx->store.machines_fd, s->name, ctx->store.machines_fd, name, RENAME_NOREPLACE) < 0)
                r = log_error_errno(errno, "Failed to move the new machine into place: %m");
        if (r < 0) {
                /* Helpers report only that they failed; the file system tells why. */
                if (fs_is_full(s->fd))
                        log_error("No space left on device: the file system holding %s/machines is full. Free "
                                  "space there and run the command again; nothing was created.",
                                  ctx->store.root);
                int k = rm_rf_at(ctx->store.machines_fd, s->name);
                if (k < 0)
                        log_warning_errno(k, "Failed to remove %s, the next create will: %m", s->path);
        }
        return r;
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

void staging_done(Staging *s) {
        free(s->name);
        free(s->path);
        free(s->rootfs);
        closep(&s->fd);
        closep(&s->lock);
        *s = (Staging) STAGING_INIT;
}

int staging_begin(Context *ctx, const char *name, char *const *set, MachineConfig *cfg, Staging *ret) {
        /* Every --set is validated before anything exists on disk. */
        machine_config_init(cfg);
        for (char *const *s = set; s && *s; s++) {
                _cleanup_free_ char *err = NULL;
                if (machine_config_set_from_cli(cfg, *s, &err) < 0) {
                        log_error("%s", err ?: "Invalid --set.");
                        return EXIT_USAGE;
                }
        }

        if (context_open_store(ctx) < 0)
                return EXIT_FAIL;
        _cleanup_close_ int lock = store_lock_machine(&ctx->store, name, false);
        if (lock < 0)
                return EXIT_FAIL;
        int r = store_machine_exists(&ctx->store, name);
        if (r < 0) {
                log_error_errno(r, "Failed to look up machine '%s': %m", name);
                return EXIT_FAIL;
        }
        if (r > 0) {
                log_error("Machine '%s' already exists. Remove it first with 'berth rm %s'.", name, name);
                return EXIT_FAIL;
        }
        (void) remove_leftovers(ctx, name, false);

        _cleanup_free_ char *staging = NULL;
        r = make_staging(ctx, name, &staging);
        if (r < 0) {
                log_error_errno(r, "Failed to create a staging directory in %s/machines: %m", ctx->store.root);
                return EXIT_FAIL;
        }
        _cleanup_free_ char *path = xasprintf("%s/machines/%s", ctx->store.root, staging);
        _cleanup_close_ int sfd = open_dir_nofollow(ctx->store.machines_fd, staging);
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
                 * it runs with PrivateUsers=yes. */
                uid_t base;
                r = userns_ensure_range(&ctx->store, sfd, &base);
                if (r < 0)
                        log_error_errno(r, "Failed to allocate a UID range: %m");
        }
        if (r < 0) {
                (void) rm_rf_at(ctx->store.machines_fd, staging);
                return EXIT_FAIL;
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
        return EXIT_OK;
}

bool template_is_known(const char *template) {
        for (size_t i = 0; i < ELEMENTSOF(known_templates); i++)
                if (streq(template, known_templates[i]))
                        return true;
        return false;
}

int template_populate(Context *ctx, const char *template, const char *release, const char *name, const char *rootfs) {
        _cleanup_free_ char *tpl = xasprintf("%s/%s", template_dir(), template);
        _cleanup_free_ char *cache = xasprintf("%s/images/templates", ctx->store.root);
        int r = mkdir_p_at(AT_FDCWD, cache, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", cache);
        char *argv[] = { tpl, (char *) "--rootfs", (char *) rootfs, (char *) "--name", (char *) name,
                         (char *) "--cache-dir", cache, NULL, NULL, NULL };
        if (release) {
                argv[7] = (char *) "--release";
                argv[8] = (char *) release;
        }
        r = spawn_sandboxed(argv);
        if (r < 0)
                return r;
        if (r != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Template '%s' failed (exit status %d).", template, r);
        return 0;
}

static int populate(Context *ctx, const CreateArgs *a, const char *name, const char *rootfs) {
        if (a->template)
                return template_populate(ctx, a->template, a->release, name, rootfs);
        if (a->from_dir)
                return copy_tree(a->from_dir, rootfs);
        /* Untrusted archive parsing happens in its own sandboxed process. */
        const char *unpack = secure_getenv("BERTH_UNPACK") ?: BERTH_UNPACK_PATH;
        char *argv[] = { (char *) unpack, (char *) "--max-size", a->max_size_resolved, (char *) "--",
                         (char *) a->from_tar, (char *) rootfs, NULL };
        int r = spawn_sandboxed(argv);
        if (r < 0)
                return r;
        return r == 0 ? 0 : log_error_errno(SYNTHETIC_ERRNO(EIO), "Unpacking %s failed.", a->from_tar);
}

static char *format_info(const CreateArgs *a) {
        const char *kind = a->template ? "template" : a->from_dir ? "dir" : "tar";
        const char *what = a->template ?: a->from_dir ?: a->from_tar;
        return xasprintf("SOURCE=%s:%s%s%s\nCREATED_USEC=%llu\n", kind, what, a->release ? ":" : "",
                         a->release ?: "", (unsigned long long) now_usec(CLOCK_REALTIME));
}

int verb_create(Context *ctx, int argc, char **argv) {
        static const struct option opts[] = {
                { "template", required_argument, NULL, 't' },
                { "release", required_argument, NULL, 'R' },
                { "from-dir", required_argument, NULL, 'd' },
                { "from-tar", required_argument, NULL, 'T' },
                { "set", required_argument, NULL, 's' },
                { "max-size", required_argument, NULL, 'm' },
                {},
        };
        _cleanup_strv_free_ char **set = NULL;
        CreateArgs a = {};
        int c;
        while ((c = getopt_long(argc, argv, "t:", opts, NULL)) >= 0)
                switch (c) {
                case 't':
                        a.template = optarg;
                        break;
                case 'R':
                        a.release = optarg;
                        break;
                case 'd':
                        a.from_dir = optarg;
                        break;
                case 'T':
                        a.from_tar = optarg;
                        break;
                case 's':
                        set = strv_append(set, optarg);
                        break;
                case 'm':
                        a.max_size = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        a.set = set;
        if (optind != argc - 1) {
                log_error("Usage: berth create NAME --template busybox|debian [--release R] | --from-dir DIR | "
                          "--from-tar FILE [--max-size SIZE] [--set Key=Value...]");
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        int r = check_name(name);
        if (r != 0)
                return r;

        int sources = !!a.template + !!a.from_dir + !!a.from_tar;
        if (sources != 1) {
                log_error("Give exactly one of --template, --from-dir or --from-tar.");
                return EXIT_USAGE;
        }
        if (a.release && !a.template) {
                log_error("--release only goes with --template.");
                return EXIT_USAGE;
        }
        if (a.template) {
                if (!template_is_known(a.template)) {
                        log_error("Unknown template '%s'. Available: busybox, debian.", a.template);
                        return EXIT_USAGE;
                }
        }
        if (a.from_dir) {
                struct stat st;
                if (stat(a.from_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                        log_error("--from-dir %s: not a directory.", a.from_dir);
                        return EXIT_USAGE;
                }
        }
        if (a.from_tar && access(a.from_tar, R_OK) < 0) {
                log_error_errno(errno, "--from-tar %s: %m", a.from_tar);
                return EXIT_USAGE;
        }
        if (a.max_size && !a.from_tar) {
                log_error("--max-size only goes with --from-tar.");
                return EXIT_USAGE;
        }
        _cleanup_free_ char *max_size = NULL;
        if (a.from_tar) {
                r = import_max_size(ctx, a.max_size, &max_size);
                if (r != EXIT_OK)
                        return r;
                a.max_size_resolved = max_size;
        }

        _cleanup_(machine_config_done) MachineConfig cfg = {};
        _cleanup_(staging_done) Staging stg = STAGING_INIT;
        r = staging_begin(ctx, name, set, &cfg, &stg);
        if (r != EXIT_OK)
                return r;
        _cleanup_free_ char *conf = machine_config_format(&cfg, cfg.set_mask);
        _cleanup_free_ char *info = format_info(&a);
        const char *rootfs = stg.rootfs;
        r = populate(ctx, &a, name, rootfs);
        if (r >= 0)
                r = rootfs_write_hostname(rootfs, cfg.hostname ?: name);
        if (r >= 0) {
                _cleanup_free_ char *init_name = NULL;
                _cleanup_free_ char *init = xstrdup(cfg.init);
                /* A rootfs without an init can still be created (an init may be
                 * installed later), but say so now rather than at start. */
                if (rootfs_check(rootfs, init, &init_name) < 0)
                        log_warning("Machine '%s' will not boot as it is (see above).", name);
        }
        if (staging_commit(ctx, &stg, name, conf, info, r) < 0)
                return EXIT_FAIL;
        if (!ctx->quiet && isatty(STDOUT_FILENO))
                printf("Created machine %s.\n", name);
        return EXIT_OK;
}
