/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth export NAME FILE: a stopped machine's files as an archive, written
 * by the berth-export helper (export.h says what goes in).  The archive is
 * written to a hidden file beside FILE and renamed over FILE when complete,
 * so FILE is never half-written.  berth opens that file (and an
 * oci-archive's unnamed layer file) itself and hands the helper only the
 * fds: so a user's export, whose helper runs as root of the machine's
 * range to read its files, writes only what the user may write, and only
 * files the user owns. */
#include <assert.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "berth.h"
#include "build-config.h"
#include "fs.h"
#include "kv.h"
#include "layers.h"
#include "log.h"
#include "runtime.h"
#include "spawn.h"
#include "util.h"

/* The formats as --format takes them (export.h, which berth does not link). */
static const char *const formats[] = { "tar", "tar.gz", "tar.zst", "tar.xz", "oci-archive" };

static bool endswith(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n > m && streq(s + n - m, suffix);
}

/* The format FILE's name says, or NULL. */
static const char *format_from_path(const char *file) {
        static const char *const map[][2] = {
                { ".tar", "tar" },         { ".tar.gz", "tar.gz" }, { ".tgz", "tar.gz" }, { ".tar.zst", "tar.zst" },
                { ".tzst", "tar.zst" },    { ".tar.xz", "tar.xz" }, { ".txz", "tar.xz" },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (endswith(file, map[i][0]))
                        return map[i][1];
        return NULL;
}

/* The base the rootfs's owners are shifted to on disk (PrivateUsersOwnership=
 * chown): the "ownership" record next to it, absent meaning 0. */
static int ownership_shift(int mfd, unsigned *ret) {
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(mfd, "ownership", 256, &kv);
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (r < 0)
                return r;
        const char *v = key_values_get(&kv, "CHOWN_BASE");
        return v ? safe_atou(v, ret) : -EBADMSG;
}

/* An annotation other tools read back as an image name: the characters of
 * references (image-ref.h has the full grammar; this only keeps the JSON
 * and the listings plain). */
static bool ref_is_valid(const char *ref) {
        size_t n = strlen(ref);
        return n > 0 && n <= 255 &&
               strspn(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/@+") == n;
}

/* berth-export of a machine's files, with the archive (and an
 * oci-archive's layer) in FDS, already open. */
typedef struct ExportRun {
        const char *name;
        char *const *argv;
        const int *fds;
        size_t n_fds;
} ExportRun;

/* For layers_call_merged(): a user's runs as root of a namespace mapped
 * like the machine's, which owns its files (the IDs it sees are the
 * guest's own, as root's export writes them); a layered machine's files
 * are its merged view. */
static int run_export(void *userdata) {
        const ExportRun *e = userdata;
        int r = spawn_sandboxed_fds(e->argv, e->fds, e->n_fds);
        if (r > 0)
                log_error("Failed to export '%s' (berth-export said why).", e->name);
        return r > 0 ? -EIO : r;
}

static const OptionSpec export_options[] = {
        { "format", 0, 'f', "FORMAT", "tar, tar.gz, tar.zst, tar.xz or oci-archive (default: from FILE's suffix)" },
        { "ref", 0, 'r', "REF", "with oci-archive: the image name recorded in it" },
        {},
};

const VerbSpec export_verb = {
        .name = "export",
        .func = verb_export,
        .args = "NAME FILE",
        .summary = "Write a stopped machine's files to an archive (owners as seen inside)",
        .example = "export web web.tar.zst\nexport --format oci-archive --ref web:1 web web.oci.tar",
        .options = export_options,
        .complete = COMPLETE_STOPPED,
        .rootless = true,
};

int verb_export(Context *ctx, int argc, char **argv) {
        const char *format = NULL, *ref = NULL;
        OptionParser p;
        option_parser_init(&p, &export_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'f':
                        format = p.arg;
                        break;
                case 'r':
                        ref = p.arg;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        if (expect_args(&p, 2, 2) != 0)
                return ERR_USAGE;
        const char *name = p.args[0], *file = p.args[1];
        int r = check_name(name);
        if (r != 0)
                return r;
        if (format) {
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(formats); i++)
                        known = known || streq(format, formats[i]);
                if (!known) {
                        log_error("Unknown --format '%s': tar, tar.gz, tar.zst, tar.xz or oci-archive.", format);
                        return ERR_USAGE;
                }
        } else if (!(format = format_from_path(file))) {
                log_error("Cannot tell the format from the name '%s': end it in .tar, .tar.gz, .tar.zst or .tar.xz, "
                          "or say --format (oci-archive for an OCI image).",
                          file);
                return ERR_USAGE;
        }
        if (ref && !ref_is_valid(ref)) {
                log_error("--ref takes an image reference like 'localhost/web:1.0', not '%s'.", ref);
                return ERR_USAGE;
        }
        if (ref && !streq(format, "oci-archive")) {
                log_error("--ref names the image of an oci-archive; a %s has none.", format);
                return ERR_USAGE;
        }
        /* Where FILE goes: its directory must exist; FILE itself, if it
         * exists, must be a regular file (it is replaced). */
        _cleanup_free_ char *abs = file[0] == '/' ? xstrdup(file) : NULL;
        if (!abs) {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd) {
                        log_error_errno(errno, "Failed to get the working directory: %m");
                        return ERR_FAILED;
                }
                abs = xasprintf("%s/%s", cwd, file);
        }
        const char *slash = strrchr(abs, '/');
        if (isempty(slash + 1)) {
                log_error("'%s' names a directory; give the archive's file name.", file);
                return ERR_USAGE;
        }
        struct stat st;
        if (stat(abs, &st) == 0 && !S_ISREG(st.st_mode)) {
                log_error("'%s' exists and is not a regular file; give another name.", file);
                return ERR_USAGE;
        }

        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        if (runtime_is_active(ctx->store.run_fd, name) > 0) {
                log_error("Machine '%s' is running; stop it first to export it ('berth stop %s').", name, name);
                return ERR_FAILED;
        }
        _cleanup_free_ char *base = NULL;
        if (store_machine_base(&ctx->store, name, &base) >= 0 && base) {
                log_error("'%s' is a 'berth run' instance of '%s' with no files of its own; export '%s'.", name,
                          base, startswith(base, STORE_IMAGE_PREFIX) ?: base);
                return ERR_FAILED;
        }
        _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
        unsigned shift = 0;
        /* A user's helper sees the guest's own IDs already (run_export()). */
        r = mfd < 0 ? mfd : geteuid() == 0 ? ownership_shift(mfd, &shift) : 0;
        if (r < 0) {
                log_error_errno(r, "Cannot read %s/machines/%s/ownership: %m", ctx->store.root, name);
                return ERR_FAILED;
        }

        /* The archive's hidden name and the layer's unnamed file, made with
         * our own rights where FILE goes. */
        uint64_t rnd = 0;
        (void) getrandom(&rnd, sizeof rnd, 0);
        _cleanup_free_ char *dir = slash == abs ? xstrdup("/") : strndup(abs, (size_t) (slash - abs));
        if (!dir)
                abort();
        _cleanup_free_ char *tmp = xasprintf("%.*s/.%s.berth-export-%016llx", (int) (slash - abs), abs,
                                             slash + 1, (unsigned long long) rnd);
        _cleanup_close_ int tfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (tfd < 0) {
                log_error_errno(errno, "Cannot write the archive in %s: %m", dir);
                return ERR_FAILED;
        }
        int fds[2] = { tfd, -EBADF };
        size_t n_fds = 1;
        _cleanup_close_ int layer_fd = -EBADF;
        if (streq(format, "oci-archive")) {
                /* On the archive's file system, which has room for the layer
                 * the archive holds. */
                layer_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                if (layer_fd < 0) {
                        log_error_errno(errno, "Cannot make a temporary file for the layer in %s: %m", dir);
                        (void) unlink(tmp);
                        return ERR_FAILED;
                }
                fds[n_fds++] = layer_fd;
        }
        char shift_arg[16];
        snprintf(shift_arg, sizeof shift_arg, "%u", shift);
        const char *helper = secure_getenv("BERTH_EXPORT") ?: BERTH_EXPORT_PATH;
        /* 7 fixed, 4 for an oci-archive's layer, "--" and the rootfs, and
         * the NULL that ends them. */
        char *args[14] = { (char *) helper, (char *) "--format", (char *) format, (char *) "--shift", shift_arg,
                           (char *) "--out-fd", (char *) "3" };
        size_t n = 7;
        _cleanup_free_ char *default_ref = xasprintf("localhost/%s:latest", name);
        if (layer_fd >= 0) {
                args[n++] = (char *) "--layer-fd";
                args[n++] = (char *) "4";
                args[n++] = (char *) "--ref";
                args[n++] = (char *) (ref ?: default_ref);
        }
        _cleanup_free_ char *mpath = store_machine_path(&ctx->store, name);
        _cleanup_free_ char *rootfs = store_rootfs_path(&ctx->store, name);
        args[n++] = (char *) "--";
        args[n++] = rootfs;
        assert(n < ELEMENTSOF(args));
        args[n] = NULL;
        ExportRun run = { .name = name, .argv = args, .fds = fds, .n_fds = n_fds };
        r = layers_call_merged(&ctx->store, mpath, run_export, &run);
        if (r == 0 && fsync(tfd) < 0)
                r = log_error_errno(errno, "Failed to write %s: %m", tmp);
        if (r == 0 && rename(tmp, abs) < 0)
                r = log_error_errno(errno, "Failed to rename %s to %s: %m", tmp, file);
        if (r != 0) {
                (void) unlink(tmp);
                return ERR_FAILED;
        }
        if (!ctx->quiet && isatty(STDOUT_FILENO))
                printf("Exported %s to %s (%s).\n", name, file, format);
        return 0;
}
