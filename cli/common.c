/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the verbs. */

#include <unistd.h>

#include "berth.h"
#include "binds.h"
#include "build-config.h"
#include "fs.h"
#include "layers.h"
#include "log.h"
#include "name.h"
#include "oci-record.h"
#include "util.h"

const OptionSpec no_options[] = { {} };

int check_name(const char *name) {
        const char *reason;
        if (machine_name_validate(name, &reason) < 0) {
                log_error("Invalid machine name: %s. Names are 1-%d ASCII letters, digits and '-', "
                          "in labels separated by single dots.",
                          reason, MACHINE_NAME_MAX);
                return ERR_USAGE;
        }
        return 0;
}

int context_open_store(Context *ctx) {
        /* Verbs built on others (run on start and exec) open it once. */
        if (ctx->store.root_fd >= 0)
                return 0;
        return store_open(&ctx->store, ctx->root, ctx->config);
}

int one_name(const OptionParser *p, const char **ret) {
        int r = expect_args(p, 1, 1);
        if (r != 0)
                return r;
        r = check_name(p->args[0]);
        if (r != 0)
                return r;
        *ret = p->args[0];
        return 0;
}

int only_args(const VerbSpec *verb, int argc, char **argv, int min, int max, OptionParser *p) {
        option_parser_init(p, verb, argc, argv);
        int c = option_next(p);
        if (c != 0)
                return c < 0 ? c : ERR_USAGE;
        return expect_args(p, min, max);
}

int only_name(const VerbSpec *verb, int argc, char **argv, const char **ret) {
        OptionParser p;
        int r = only_args(verb, argc, argv, 1, 1, &p);
        return r != 0 ? r : one_name(&p, ret);
}

int network_option_check(const char *arg) {
        _cleanup_strv_free_ char **set = NULL;
        _cleanup_free_ char *err = NULL;
        if (machine_config_network_option(arg, &set, &err) < 0) {
                log_error("%s.", err);
                return ERR_USAGE;
        }
        return 0;
}

/* Open the store, take the machine's lock, check it exists. */
int open_machine(Context *ctx, const char *name, int *ret_lock) {
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        int lock = store_lock_machine(&ctx->store, name, false);
        if (lock < 0)
                return ERR_FAILED;
        int r = store_machine_exists(&ctx->store, name);
        if (r <= 0) {
                close(lock);
                if (r < 0)
                        log_error_errno(r, "Failed to look up machine '%s': %m", name);
                else if (refuse_oci_container(ctx, name) == 0)
                        log_error("No machine '%s'. See 'berth list'.", name);
                return r < 0 ? ERR_FAILED : ERR_NO_MACHINE;
        }
        /* A clone, snapshot or restore killed while it replaced the rootfs:
         * finish or undo it before anyone looks at the machine. */
        _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
        r = mfd < 0 ? mfd : rootfs_switch_recover(&ctx->store, mfd);
        if (r < 0 && r != -ENOENT) {
                close(lock);
                log_error_errno(r, "Failed to recover machine '%s' from an interrupted change of its rootfs: %m",
                                name);
                return ERR_FAILED;
        }
        *ret_lock = lock;
        return 0;
}


int parse_json_option(Context *ctx, OptionParser *p) {
        int c;
        while ((c = option_next(p)) > 0) {
                if (c != 'j')
                        return ERR_USAGE;
                ctx->json = true;
        }
        return c;
}

int look_up_machine(Context *ctx, const char *name) {
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        int r = store_machine_exists(&ctx->store, name);
        if (r < 0) {
                log_error_errno(r, "Failed to look up machine '%s': %m", name);
                return ERR_FAILED;
        }
        if (r == 0) {
                if (refuse_oci_container(ctx, name) == 0)
                        log_error("No machine '%s'. See 'berth list'.", name);
                return ERR_NO_MACHINE;
        }
        return 0;
}

const char *context_oci_records(Context *ctx) {
        bool explicit;
        const char *dir = oci_record_dir(&explicit);
        /* A private state root (tests, --root) sees only its own machines. */
        return explicit || streq_ptr(ctx->store.root, BERTH_STATE_DIR) ? dir : NULL;
}

int refuse_oci_container(Context *ctx, const char *name) {
        const char *dir = context_oci_records(ctx);
        _cleanup_(oci_record_done) OciRecord rec = {};
        if (!dir || oci_record_find(dir, name, &rec) < 0 || !oci_record_alive(&rec))
                return 0;
        log_error("'%s' is an OCI container managed by %s/berth-oci (container %s, state in %s), not a berth "
                  "machine; use %s to manage it.", name, rec.engine, rec.id, rec.state_dir,
                  oci_record_engine_tool(rec.engine));
        return ERR_NO_MACHINE;
}

int context_run_mode(Context *ctx, RunMode *ret) {
        if (!ctx->mode_known) {
                int r = run_mode_detect(&ctx->mode, &ctx->bus);
                if (r < 0)
                        return r;
                ctx->mode_known = true;
        }
        *ret = ctx->mode;
        return 0;
}

const char *machined_path(void) {
        return secure_getenv("BERTH_MACHINED") ?: BERTH_MACHINED_PATH;
}

int files_option(int c, const char *arg, FilesOptions *f) {
        _cleanup_free_ char *absolute = NULL;
        const char *reason = NULL, *name;
        char **list;
        int r;
        if (c == FILES_OPT_TMPFS) {
                TmpfsSpec t;
                name = "--tmpfs";
                list = &f->tmpfs;
                r = tmpfs_spec_parse(arg, &t, &reason);
                if (r >= 0)
                        tmpfs_spec_done(&t);
        } else {
                /* A relative SRC is the caller's, as mount and cp take it;
                 * machine.conf keeps it absolute. */
                if (arg[0] != '/' && arg[0] != ':' && arg[0]) {
                        _cleanup_free_ char *cwd = getcwd(NULL, 0);
                        if (!cwd)
                                return log_error_errno(errno, "Cannot resolve '%s': %m", arg);
                        _cleanup_free_ char *e = bind_path_escape(cwd);
                        absolute = xasprintf("%s%s%s", e, streq(cwd, "/") ? "" : "/", arg);
                        arg = absolute;
                }
                BindSpec b;
                name = c == FILES_OPT_BIND ? "--bind" : "--bind-ro";
                list = c == FILES_OPT_BIND ? &f->binds : &f->binds_ro;
                r = bind_spec_parse(arg, c == FILES_OPT_BIND_RO, &b, &reason);
                if (r >= 0)
                        bind_spec_done(&b);
        }
        if (r < 0) {
                _cleanup_free_ char *v = strdup_printable(arg);
                log_error("Invalid %s '%s': %s. Expected %s.", name, v, reason,
                          c == FILES_OPT_TMPFS ? "DST[:OPTIONS] with an absolute path, OPTIONS from ro, mode=OCTAL, "
                                                 "size=SIZE"
                                               : "SRC[:DST[:OPTIONS]] with absolute paths (a relative SRC is taken from the "
                                                 "current directory), OPTIONS from ro, rbind, "
                                                 "norbind, idmap, rootidmap, noidmap");
                return ERR_USAGE;
        }
        strextendf(list, "%s%s", *list ? "\n" : "", arg);
        return 0;
}

void files_options_done(FilesOptions *f) {
        free(f->binds);
        free(f->binds_ro);
        free(f->tmpfs);
        *f = (FilesOptions) {};
}

static void lines_to_set(const char *lines, const char *key, char ***set) {
        if (!lines)
                return;
        _cleanup_free_ char *copy = xstrdup(lines);
        char *save = NULL;
        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                _cleanup_free_ char *a = xasprintf("Files.%s=%s", key, l);
                *set = strv_append(*set, a);
        }
}

void files_options_to_set(const FilesOptions *f, char ***set) {
        lines_to_set(f->binds, "Bind", set);
        lines_to_set(f->binds_ro, "BindReadOnly", set);
        lines_to_set(f->tmpfs, "TemporaryFileSystem", set);
}

int device_option_add(char **list, const char *option) {
        _cleanup_free_ char *value = device_allow_from_option(option);
        DeviceAllow a;
        const char *reason;
        if (strchr(option, ',') || device_allow_parse(value, &a, &reason) < 0) {
                log_error("Invalid --device '%s': %s. Give PATH or CLASS[:ACCESS][:privileged], like "
                          "/dev/kvm:rw or /dev/sda:r:privileged (see berth.machine(5), [Devices]).",
                          option, strchr(option, ',') ? "one device per --device" : reason);
                return -EINVAL;
        }
        free(a.name);
        strextendf(list, "%s%s", *list ? "," : "", option);
        return 0;
}
