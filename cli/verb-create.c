/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth create: check the arguments, then build the machine in a staging
 * dir (lib/create.h) from a template, a directory or a tarball. */

#include <sys/stat.h>
#include <time.h>

#include "berth.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "newidmap.h"
#include "rootfs.h"
#include "runtime.h"
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

/* Every --set (--network and --device among them) into CFG: 0 or
 * ERR_USAGE (logged). */
static int config_from_set(MachineConfig *cfg, char *const *set) {
        machine_config_init(cfg);
        for (char *const *s = set; s && *s; s++) {
                _cleanup_free_ char *err = NULL;
                if (machine_config_set_from_cli(cfg, *s, &err) < 0) {
                        log_error("%s", err ?: "Invalid --set.");
                        return ERR_USAGE;
                }
        }
        return 0;
}

int staging_begin(Context *ctx, const char *name, char *const *set, uid_t shared_base, MachineConfig *cfg,
                  Staging *ret) {
        /* Every --set is validated before anything exists on disk. */
        int r = config_from_set(cfg, set);
        if (r != 0)
                return r;
        if (context_open_store(ctx) < 0 || staging_make(&ctx->store, name, shared_base, ret) < 0)
                return ERR_FAILED;
        return 0;
}

static int populate(Context *ctx, const CreateArgs *a, const char *name, const char *rootfs) {
        if (a->template)
                return template_populate(&ctx->store, a->template, a->release, name, rootfs, false);
        if (a->from_dir)
                return copy_tree(a->from_dir, rootfs);
        return unpack_tarball(a->from_tar, a->max_size_resolved, rootfs);
}

static char *format_info(const CreateArgs *a) {
        const char *kind = a->template ? "template" : a->from_dir ? "dir" : "tar";
        const char *what = a->template ?: a->from_dir ?: a->from_tar;
        return xasprintf("SOURCE=%s:%s%s%s\nCREATED_USEC=%llu\n", kind, what, a->release ? ":" : "",
                         a->release ?: "", (unsigned long long) now_usec(CLOCK_REALTIME));
}

static const OptionSpec create_options[] = {
        { "template", 't', 't', "TEMPLATE", "build from a template: busybox or debian" },
        { "release", 0, 'R', "RELEASE", "with --template debian: the release (bookworm)" },
        { "from-dir", 0, 'd', "DIR", "copy a root file system from DIR" },
        { "from-tar", 0, 'T', "FILE", "unpack a root file system tarball (gzip, xz, zstd)" },
        { "max-size", 0, 'm', "SIZE", "with --from-tar: refuse to unpack more than SIZE" },
        { "set", 0, 's', "SECTION.KEY=VALUE", "a machine.conf setting (repeatable; see berth.machine(5))" },
        { "image", 0, 'I', "REF", "a pulled image (berth pull), as a machine over its shared layers" },
        { "copy", 0, 'C', NULL, "with --image: a flat copy of the image instead of layers" },
        { "layered", 0, 'L', NULL, "with --template: over the template's image (built once, kept in the store)" },
        { "refresh", 0, 'F', NULL, "with --template: rebuild the template's image first (implies --layered)" },
        { "network", 0, 'N', "MODE|cni:NAME", "the network mode (bridge, none, host, macvlan, ipvlan) or a CNI network" },
        FILES_OPTIONS,
        DEVICE_OPTION("(kept in machine.conf)"),
        {},
};

const VerbSpec create_verb = {
        .name = "create",
        .func = verb_create,
        .args = "NAME",
        .summary = "Build a machine from a template, a directory or a rootfs tarball",
        .example = "create web --template debian --release bookworm\ncreate box --from-tar rootfs.tar.zst --set Resources.MemoryMax=1G",
        .options = create_options,
        .complete = COMPLETE_NONE,
        .rootless = true,
};

int verb_create(Context *ctx, int argc, char **argv) {
        _cleanup_strv_free_ char **set = NULL;
        _cleanup_(files_options_done) FilesOptions files = {};
        CreateArgs a = {};
        const char *image = NULL;
        bool copy = false, layered = false, refresh = false;
        OptionParser p;
        option_parser_init(&p, &create_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 't':
                        a.template = p.arg;
                        break;
                case 'R':
                        a.release = p.arg;
                        break;
                case 'd':
                        a.from_dir = p.arg;
                        break;
                case 'T':
                        a.from_tar = p.arg;
                        break;
                case 's':
                        set = strv_append(set, p.arg);
                        break;
                case 'D': {
                        /* As --set Devices.Allow=: kept in machine.conf. */
                        _cleanup_free_ char *one = NULL;
                        if (device_option_add(&one, p.arg) < 0)
                                return ERR_USAGE;
                        _cleanup_free_ char *value = device_allow_from_option(p.arg);
                        _cleanup_free_ char *assignment = xasprintf("Devices.Allow=%s", value);
                        set = strv_append(set, assignment);
                        break;
                }
                case 'm':
                        a.max_size = p.arg;
                        break;
                case 'N': {
                        /* As --set Network.Mode= (and CNINetwork=): kept in machine.conf. */
                        _cleanup_free_ char *err = NULL;
                        if (machine_config_network_option(p.arg, &set, &err) < 0) {
                                log_error("%s.", err);
                                return ERR_USAGE;
                        }
                        break;
                }
                case 'I':
                        image = p.arg;
                        break;
                case 'C':
                        copy = true;
                        break;
                case 'L':
                        layered = true;
                        break;
                case 'F':
                        refresh = true;
                        break;
                case FILES_OPT_BIND:
                case FILES_OPT_BIND_RO:
                case FILES_OPT_TMPFS:
                        if (files_option(c, p.arg, &files) != 0)
                                return ERR_USAGE;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        /* Kept in machine.conf, as --set Files.Bind= would be. */
        files_options_to_set(&files, &set);
        a.set = set;
        int r = expect_args(&p, 1, 1);
        if (r != 0)
                return r;
        const char *name = p.args[0];
        r = check_name(name);
        if (r != 0)
                return r;

        int sources = !!a.template + !!a.from_dir + !!a.from_tar + !!image;
        if (sources != 1) {
                log_error("Give exactly one of --template, --from-dir, --from-tar or --image.");
                return ERR_USAGE;
        }
        if (copy && !image) {
                log_error("--copy only goes with --image.");
                return ERR_USAGE;
        }
        /* Without root only the sources that unpack inside the machine's
         * user namespace exist yet (--image: in the image store's). */
        if (geteuid() != 0 && !a.from_tar && !image && !a.template) {
                log_error("Without root, machines are made with --template, --from-tar or --image only so far; "
                          "run this as root, or use one of those.");
                return ERR_USAGE;
        }
        if (image)
                return create_from_image(ctx, name, image, copy, set, a.max_size);
        if (a.release && !a.template) {
                log_error("--release only goes with --template.");
                return ERR_USAGE;
        }
        if ((layered || refresh) && !a.template) {
                log_error("--%s only goes with --template.", refresh ? "refresh" : "layered");
                return ERR_USAGE;
        }
        if (a.template) {
                if (!template_is_known(a.template)) {
                        log_error("Unknown template '%s'. Available: busybox, debian.", a.template);
                        return ERR_USAGE;
                }
                r = template_release_check(a.release);
                if (r != 0)
                        return r;
        }
        if (a.from_dir) {
                struct stat st;
                if (stat(a.from_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                        log_error("--from-dir %s: not a directory.", a.from_dir);
                        return ERR_USAGE;
                }
        }
        if (a.from_tar && access(a.from_tar, R_OK) < 0) {
                log_error_errno(errno, "--from-tar %s: %m", a.from_tar);
                return ERR_USAGE;
        }
        if (a.max_size && !a.from_tar) {
                log_error("--max-size only goes with --from-tar.");
                return ERR_USAGE;
        }
        if (layered || refresh) {
                /* Over the template's image, as create --image makes a machine:
                 * built when the store lacks it or --refresh asks.  Every
                 * argument is checked first: a usage error changes nothing,
                 * the store's image included. */
                {
                        _cleanup_(machine_config_done) MachineConfig check = {};
                        r = config_from_set(&check, set);
                        if (r != 0)
                                return r;
                }
                if (context_open_store(ctx) < 0)
                        return ERR_FAILED;
                if (store_machine_exists(&ctx->store, name) > 0) {
                        log_error("Machine '%s' already exists. Remove it first with 'berth rm %s'.", name, name);
                        return ERR_USAGE;
                }
                _cleanup_free_ char *ref = template_image_ref(a.template, a.release);
                int have = refresh ? 0 : template_image_exists(ctx, a.template, a.release);
                if (have < 0)
                        return ERR_FAILED;
                if (!have && (r = template_image_build(ctx, a.template, a.release, refresh, refresh, NULL)) != 0)
                        return r;
                return create_from_image(ctx, name, ref, false, set, NULL);
        }
        _cleanup_free_ char *max_size = NULL;
        if (a.from_tar) {
                r = import_max_size(ctx, a.max_size, &max_size);
                if (r != 0)
                        return r;
                a.max_size_resolved = max_size;
        }

        _cleanup_(machine_config_done) MachineConfig cfg = {};
        _cleanup_(staging_done) Staging stg = STAGING_INIT;
        r = staging_begin(ctx, name, set, 0, &cfg, &stg);
        if (r != 0)
                return r;
        _cleanup_free_ char *conf = machine_config_format(&cfg, cfg.set_mask);
        _cleanup_free_ char *info = format_info(&a);
        const char *rootfs = stg.rootfs;
        r = populate(ctx, &a, name, rootfs);
        if (r >= 0)
                r = rootfs_write_hostname_as_machine(stg.fd, rootfs, cfg.hostname ?: name);
        if (r >= 0) {
                _cleanup_free_ char *init_name = NULL;
                _cleanup_free_ char *init = xstrdup(cfg.init);
                /* A rootfs without an init can still be created (an init may be
                 * installed later), but say so now rather than at start. */
                if (rootfs_check(rootfs, init, &init_name) < 0)
                        log_warning("Machine '%s' will not boot as it is (see above).", name);
        }
        if (staging_commit(&ctx->store, &stg, name, conf, info, r) < 0)
                return ERR_FAILED;
        if (!ctx->quiet && isatty(STDOUT_FILENO))
                printf("Created machine %s.\n", name);
        return 0;
}
