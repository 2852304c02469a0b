/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth pull REF [NAME], berth images, berth rmi REF...: images from
 * registries, kept in ROOT/images as an OCI layout (image-store.h).  The
 * network and the registry's answers are berth-pull's business, a helper
 * of its own (the only one that links libcurl); a machine is made from the
 * store by the import path, as berth import makes one from any OCI layout. */

#include <inttypes.h>
#include <limits.h>
#include <sys/random.h>
#include <json-c/json.h>
#include <time.h>

#include "auth-path.h"
#include "berth.h"
#include "build-config.h"
#include "config.h"
#include "fs.h"
#include "gc.h"
#include "image-ref.h"
#include "image-store.h"
#include "layers.h"
#include "log.h"
#include "spawn.h"
#include "userns.h"
#include "util.h"

/* REF as the store names it: full, with berth.conf's default registry. */
static int normalize_ref(Context *ctx, const char *ref, char **ret) {
        _cleanup_(machine_config_done) MachineConfig c = {};
        int r = load_global_config(ctx, &c);
        if (r != 0)
                return r;
        _cleanup_(image_ref_done) ImageRef ir = {};
        const char *reason = NULL;
        if (image_ref_parse(ref, c.import_default_registry, &ir, &reason) < 0) {
                _cleanup_free_ char *p = strdup_printable(ref);
                log_error("Bad image reference '%s': %s (like debian:12, registry.example:5000/team/app:1.0 or "
                          "app@sha256:<64 hex digits>).",
                          p, reason);
                return ERR_USAGE;
        }
        *ret = image_ref_format(&ir);
        return 0;
}

static const char *pull_path(void) {
        return secure_getenv("BERTH_PULL") ?: BERTH_PULL_PATH;
}

/* The digest the store now has for REF, or NULL (none, or an index berth
 * cannot read: logged). */
static char *stored_digest(Context *ctx, const char *ref) {
        char *d = NULL;
        return image_store_find(ctx->store.images_fd, ref, &d) < 0 ? NULL : d;
}

/* After berth-pull REF: the image's layers unpacked now (from verified
 * blobs only: berth-pull checked each as it streamed, berth-import checks
 * the diff_ids), so that create --image only mounts them.  An image whose
 * layers are refused is dropped again: a refusal leaves nothing. */
int image_unpack_or_drop(Context *ctx, const char *ref, const char *platform, const char *max_size_arg,
                         const char *before) {
        int r;
        bool refused = false;
        _cleanup_free_ char *digest = NULL;
        {
                /* Shared: rmi waits, create --image of other images goes on. */
                _cleanup_close_ int lock = image_store_lock(ctx->store.images_fd, false);
                if (lock < 0)
                        return ERR_FAILED;
                digest = stored_digest(ctx, ref);
                if (!digest) {
                        log_error("Image %s went from the store while it was pulled (a concurrent rmi?).", ref);
                        return ERR_FAILED;
                }
                r = image_layers_unpack(ctx, ref, platform, max_size_arg, digest, NULL, &refused);
                if (r == 0)
                        return 0;
        }
        /* Dropped only when all of these hold: the failure is the image's
         * (a layer failed its check or the size limit, not a full disk or a
         * lock), REF still names the digest this pull stored (a concurrent
         * pull may have stored a good copy since the shared lock went), and
         * REF did not name that digest before (then it is an image machines
         * may use, which this pull did not bring).  Otherwise the image
         * stays; the next pull or create finishes its layers. */
        if (!refused || streq_ptr(before, digest)) {
                log_error("The layers of %s were not unpacked; the image stays in the store ('berth rmi %s' "
                          "removes it).", ref, ref);
                return r;
        }
        _cleanup_close_ int lock = image_store_lock(ctx->store.images_fd, true);
        _cleanup_free_ char *now = lock < 0 ? NULL : stored_digest(ctx, ref);
        if (lock >= 0 && !streq_ptr(now, digest)) {
                log_error("The layers of %s were refused; the store has another image of the name now, kept.", ref);
                return r;
        }
        uint64_t freed;
        if (lock < 0 || image_store_remove(ctx->store.images_fd, ref) < 0 ||
            image_store_gc(ctx->store.images_fd, &freed) < 0) {
                log_error("Image %s stays in the store with its layers not unpacked: 'berth rmi %s' removes it.",
                          ref, ref);
                return r;
        }
        layers_prune_or_warn(&ctx->store);
        log_error("The layers of %s cannot be unpacked; the image was not stored.", ref);
        return r;
}

enum { OPT_AUTHFILE = 0x100, OPT_CA_FILE, OPT_INSECURE };

static const OptionSpec pull_options[] = {
        { "platform", 0, 'p', "OS/ARCH[/VARIANT]", "the platform to take from a multi-platform image" },
        { "authfile", 0, OPT_AUTHFILE, "FILE", "credentials in podman's/docker's auth.json format" },
        { "ca-file", 0, OPT_CA_FILE, "FILE", "trust the registry's certificate from this CA (PEM)" },
        { "insecure", 0, OPT_INSECURE, NULL, "plain HTTP and no certificate check (a loopback registry needs none)" },
        { "boot", 0, 'b', "auto|yes|no", "with NAME: boot the image's init, or run its entrypoint (as import)" },
        { "set", 0, 's', "SECTION.KEY=VALUE", "with NAME: a machine.conf setting (repeatable)" },
        { "max-size", 0, 'm', "SIZE", "refuse to store or unpack more than SIZE" },
        {},
};

const VerbSpec pull_verb = {
        .name = "pull",
        .func = verb_pull,
        .args = "REF [NAME]",
        .summary = "Fetch an image from a registry into the store (and make machine NAME of it)",
        .example = "pull debian:12\npull registry.example:5000/team/app:1.0 app --ca-file ca.pem",
        .options = pull_options,
        .complete = COMPLETE_NONE,
        .rootless = true,
};

int verb_pull(Context *ctx, int argc, char **argv) {
        _cleanup_strv_free_ char **set = NULL;
        ImportOptions a = { .boot = "auto" };
        const char *authfile = NULL, *ca_file = NULL, *max_size_arg = NULL;
        bool insecure = false;
        OptionParser p;
        option_parser_init(&p, &pull_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'p':
                        a.platform = p.arg;
                        break;
                case OPT_AUTHFILE:
                        authfile = p.arg;
                        break;
                case OPT_CA_FILE:
                        ca_file = p.arg;
                        break;
                case OPT_INSECURE:
                        insecure = true;
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
        int r = expect_args(&p, 1, 2);
        if (r != 0)
                return r;
        const char *name = p.n_args == 2 ? p.args[1] : NULL;
        if (!name && (set || !streq(a.boot, "auto"))) {
                log_error("--boot and --set are for the machine: give a NAME.");
                return ERR_USAGE;
        }
        if (name && (r = check_name(name)) != 0)
                return r;
        if (authfile && access(authfile, R_OK) < 0) {
                log_error_errno(errno, "Cannot read %s: %m", authfile);
                return ERR_USAGE;
        }
        if (ca_file && access(ca_file, R_OK) < 0) {
                log_error_errno(errno, "Cannot read %s: %m", ca_file);
                return ERR_USAGE;
        }
        _cleanup_free_ char *ref = NULL;
        r = normalize_ref(ctx, p.args[0], &ref);
        if (r != 0)
                return r;
        _cleanup_free_ char *max_size = NULL;
        r = import_max_size(ctx, max_size_arg, &max_size);
        if (r != 0)
                return r;
        if (name && store_machine_exists(&ctx->store, name) > 0) {
                log_error("Machine '%s' already exists.", name);
                return ERR_USAGE;
        }

        /* A user's layers need the store's range of subordinate IDs
         * (userns.h): without one, say so before anything is fetched.  It
         * is claimed when the first layer is unpacked, so a pull that fails
         * before takes no range from the user's machines. */
        if (userns_image_range_check(&ctx->store) < 0)
                return ERR_FAILED;

        _cleanup_free_ char *store = xasprintf("%s/images", ctx->store.root);
        char *args[20];
        size_t n = 0;
        args[n++] = (char *) pull_path();
        if (a.platform) {
                args[n++] = (char *) "--platform";
                args[n++] = (char *) a.platform;
        }
        /* berth-pull runs as root of a user namespace for a user, where
         * the defaults would be root's: they are looked up here. */
        _cleanup_free_ char *default_auth = NULL;
        if (!authfile && geteuid() != 0 && auth_file_default(geteuid(), &default_auth) >= 0)
                authfile = default_auth;
        if (authfile) {
                args[n++] = (char *) "--authfile";
                args[n++] = (char *) authfile;
        }
        if (ca_file) {
                args[n++] = (char *) "--ca-file";
                args[n++] = (char *) ca_file;
        }
        if (insecure)
                args[n++] = (char *) "--insecure";
        if (!ctx->quiet && isatty(STDERR_FILENO))
                args[n++] = (char *) "--progress";
        args[n++] = (char *) "--max-size";
        args[n++] = max_size;
        args[n++] = (char *) "--";
        args[n++] = store;
        args[n++] = ref;
        args[n] = NULL;
        /* What REF named before: an image this pull did not bring is never
         * dropped for its failures (image_unpack_or_drop()). */
        _cleanup_free_ char *before = stored_digest(ctx, ref);
        r = spawn_sandboxed(args);
        if (r == 2)
                return ERR_USAGE; /* the helper said why: no such image or platform */
        if (r != 0) {
                if (r > 0)
                        log_error("Pulling %s failed; nothing was stored.", ref);
                return ERR_FAILED;
        }
        /* With NAME too: an image refused here is dropped, not kept for
         * the machine that failed. */
        r = image_unpack_or_drop(ctx, ref, a.platform, max_size_arg, before);
        if (r != 0)
                return r;
        if (!name) {
                _cleanup_free_ char *now = stored_digest(ctx, ref);
                if (!ctx->quiet)
                        printf("%s %s\n", ref, now ?: "");
                return 0;
        }

        /* The machine: the import path on the store, which stays as it is
         * (a shared lock keeps rmi out) until it is made; as create --image
         * makes it, over the image's shared layers (unpacked above). */
        _cleanup_close_ int lock = image_store_lock(ctx->store.images_fd, false);
        if (lock < 0)
                return ERR_FAILED;
        a.ref = ref;
        a.layered = true;
        _cleanup_free_ char *label = xasprintf("pull:%s", ref);
        return import_machine(ctx, name, store, label, &a, set, max_size_arg);
}

int create_from_image(Context *ctx, const char *name, const char *ref_arg, bool copy, char *const *set,
                      const char *max_size_arg) {
        _cleanup_free_ char *ref = NULL;
        int r = normalize_ref(ctx, ref_arg, &ref);
        if (r != 0)
                return r;
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        /* The store stays as it is (rmi waits) until the machine is made. */
        _cleanup_close_ int lock = image_store_lock(ctx->store.images_fd, false);
        if (lock < 0)
                return ERR_FAILED;
        _cleanup_free_ char *digest = stored_digest(ctx, ref);
        if (!digest) {
                _cleanup_free_ char *p = strdup_printable(ref);
                log_error("No image %s in the store; 'berth pull %s' first (see 'berth images').", p, p);
                return ERR_USAGE;
        }
        _cleanup_free_ char *store = xasprintf("%s/images", ctx->store.root);
        _cleanup_free_ char *label = xasprintf("image:%s", ref);
        ImportOptions a = { .ref = ref, .boot = "auto", .layered = !copy };
        return import_machine(ctx, name, store, label, &a, set, max_size_arg);
}

/* "2024-05-01T10:00:00Z" (or with fractions, an offset) as "3 days ago". */
static char *age_of(const char *created) {
        if (!created)
                return xstrdup("-");
        struct tm tm = {};
        const char *end = strptime(created, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end)
                return xstrdup("-");
        time_t t = timegm(&tm), now = time(NULL);
        if (t == (time_t) -1 || t > now)
                return xstrdup("-");
        uint64_t s = (uint64_t) (now - t);
        static const struct {
                uint64_t sec;
                const char *unit;
        } units[] = { { 365 * 86400, "year" }, { 30 * 86400, "month" }, { 7 * 86400, "week" },
                      { 86400, "day" },        { 3600, "hour" },        { 60, "minute" } };
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (s >= units[i].sec) {
                        uint64_t k = s / units[i].sec;
                        return xasprintf("%" PRIu64 " %s%s ago", k, units[i].unit, k == 1 ? "" : "s");
                }
        return xstrdup("just now");
}

static char *human_size(uint64_t b) {
        if (b < 1024)
                return xasprintf("%" PRIu64 " B", b);
        if (b < (UINT64_C(1) << 20))
                return xasprintf("%.1f KiB", (double) b / 1024);
        if (b < (UINT64_C(1) << 30))
                return xasprintf("%.1f MiB", (double) b / (1 << 20));
        return xasprintf("%.1f GiB", (double) b / (1 << 30));
}

/* The machines made from each image: those whose "image" file (written by
 * the import path, for pull NAME as for import) names its manifest.  Clones
 * and machines made before the file existed are not counted. */
typedef struct ImageUser {
        char *machine;
        char *manifest;
} ImageUser;

static void image_users_free(ImageUser *u, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(u[i].machine);
                free(u[i].manifest);
        }
        free(u);
}

#define RUN_USER_PREFIX "run:"

static int image_users_read(Context *ctx, ImageUser **ret, size_t *ret_n) {
        _cleanup_strv_free_ char **names = NULL;
        int r = store_list_machines(&ctx->store, &names);
        if (r < 0)
                return log_error_errno(r, "Cannot list the machines: %m");
        ImageUser *u = NULL;
        size_t n = 0;
        for (char **m = names; m && *m; m++) {
                _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.machines_fd, *m);
                _cleanup_(image_info_done) ImageInfo info = {};
                if (dfd < 0 || image_info_read_at(dfd, &info) < 0 || !info.manifest)
                        continue;
                u = realloc(u, (n + 1) * sizeof(ImageUser));
                if (!u)
                        abort();
                u[n++] = (ImageUser) { xstrdup(*m), xstrdup(info.manifest) };
        }
        /* The run images (images/bases) built over a template image, as
         * "run:NAME": they stand on its layer too. */
        _cleanup_close_ int bases = open_dir_nofollow(ctx->store.images_fd, "bases");
        _cleanup_closedir_ DIR *d = NULL;
        if (bases >= 0 && opendir_dup(bases, &d) >= 0) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        _cleanup_close_ int dfd = open_dir_nofollow(bases, de->d_name);
                        _cleanup_(image_info_done) ImageInfo info = {};
                        if (dfd < 0 || image_info_read_at(dfd, &info) < 0 || !info.manifest)
                                continue;
                        u = realloc(u, (n + 1) * sizeof(ImageUser));
                        if (!u)
                                abort();
                        u[n++] = (ImageUser) { xasprintf(RUN_USER_PREFIX "%s", de->d_name), xstrdup(info.manifest) };
                }
        }
        *ret = u;
        *ret_n = n;
        return 0;
}

/* The machines made from manifest DIGEST, as a vector (NULL: none). */
static char **image_users_of(const ImageUser *u, size_t n, const char *digest) {
        char **l = NULL;
        for (size_t i = 0; i < n; i++)
                if (streq(u[i].manifest, digest))
                        l = strv_append(l, u[i].machine);
        return l;
}

/* Whether a machine (a kept run instance) names BASE as its base: 1, 0 or
 * -errno (logged). */
static int base_used(Context *ctx, const char *base) {
        _cleanup_strv_free_ char **names = NULL;
        int r = store_list_machines(&ctx->store, &names);
        if (r < 0)
                return log_error_errno(r, "Cannot list the machines: %m");
        for (char **m = names; m && *m; m++) {
                _cleanup_free_ char *b = NULL;
                if (store_machine_base(&ctx->store, *m, &b) >= 0 && streq_ptr(b, base))
                        return 1;
        }
        return 0;
}

/* The read-only images of berth run (images/bases) that nothing uses: no
 * instance runs on one and no run is between opening it and making its
 * instance (they hold the base's lock shared), none kept lists it as its
 * base (looked at under that lock, since a run lists it before letting
 * go), no run is building it.  Each is renamed to a staging name of its
 * own first, which the next build of it removes should we be killed.
 * Returns how many went, or -errno (logged). */
static int prune_run_images(Context *ctx) {
        _cleanup_close_ int bases = open_dir_nofollow(ctx->store.images_fd, "bases");
        if (bases == -ENOENT)
                return 0;
        if (bases < 0)
                return log_error_errno(bases, "Cannot open %s/images/bases: %m", ctx->store.root);
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(bases, &d);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s/images/bases: %m", ctx->store.root);
        int removed = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *base = xasprintf(STORE_IMAGE_PREFIX "%s", de->d_name),
                                    *build = xasprintf("%s.build", base);
                _cleanup_close_ int build_lock = lock_file_at(ctx->store.locks_fd, build, true, false);
                _cleanup_close_ int base_lock = build_lock < 0 ? -EBADF : store_lock_base(&ctx->store, base, false);
                if (base_lock < 0)
                        continue; /* being built or run */
                r = base_used(ctx, base);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                uint64_t rnd = 0;
                (void) getrandom(&rnd, sizeof rnd, 0);
                _cleanup_free_ char *tmp = xasprintf(".staging-%s.%016llx", de->d_name, (unsigned long long) rnd);
                if (renameat(bases, de->d_name, bases, tmp) < 0 || (r = run_image_remove(&ctx->store, bases, tmp)) < 0)
                        return log_error_errno(r < 0 ? r : -errno, "Failed to remove the run image %s/images/bases/%s: %m",
                                               ctx->store.root, de->d_name);
                removed++;
                if (!ctx->quiet)
                        printf("Removed run image %s\n", de->d_name);
        }
        return removed;
}

/* berth images prune [--all]: see berth(1). */
static int images_prune(Context *ctx, bool all) {
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        _cleanup_close_ int lock = image_store_lock(ctx->store.images_fd, true);
        if (lock < 0)
                return ERR_FAILED;
        unsigned removed = 0;
        if (all) {
                /* First what berth run keeps, which may use template images. */
                if (prune_run_images(ctx) < 0)
                        return ERR_FAILED;
                /* The templates' bootstrapped trees: the next build makes them again. */
                if (gc_template_caches(&ctx->store, ctx->quiet ? NULL : stdout) < 0)
                        return ERR_FAILED;
                ImageEntry *e = NULL;
                size_t n = 0;
                ImageUser *u = NULL;
                size_t nu = 0;
                if (image_store_read(ctx->store.images_fd, &e, &n) < 0)
                        return ERR_FAILED;
                int r = image_users_read(ctx, &u, &nu);
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        _cleanup_strv_free_ char **users = image_users_of(u, nu, e[i].digest);
                        if (users)
                                continue;
                        r = image_store_remove(ctx->store.images_fd, e[i].ref);
                        if (r < 0) {
                                log_error_errno(r, "Failed to remove %s: %m", e[i].ref);
                                break;
                        }
                        removed++;
                        if (!ctx->quiet) {
                                _cleanup_free_ char *printable = strdup_printable(e[i].ref);
                                printf("Removed %s\n", printable);
                        }
                }
                image_entries_free(e, n);
                image_users_free(u, nu);
                if (r < 0)
                        return ERR_FAILED;
        }
        uint64_t freed = 0;
        if (image_store_gc(ctx->store.images_fd, &freed) < 0)
                return ERR_FAILED;
        _cleanup_close_ int layers = layers_lock(&ctx->store);
        int k = layers < 0 ? layers : layers_prune(&ctx->store);
        if (k < 0) {
                log_error_errno(k, "Failed to remove the unused layers of %s/images/layers: %m", ctx->store.root);
                return ERR_FAILED;
        }
        if (!ctx->quiet) {
                _cleanup_free_ char *size = human_size(freed);
                printf("%u image%s removed, %s of blobs freed, %d unused layer%s removed.\n", removed,
                       removed == 1 ? "" : "s", size, k, k == 1 ? "" : "s");
        }
        return 0;
}

static const OptionSpec images_options[] = {
        JSON_OPTION,
        { "all", 0, 'a', NULL, "with prune: also idle run images, template caches and the images nothing was made from" },
        { "release", 0, 'R', "RELEASE", "with build: the template's release (debian: bookworm)" },
        {},
};

const VerbSpec images_verb = {
        .name = "images",
        .func = verb_images,
        .args = "[prune | build TEMPLATE]",
        .summary = "List the images and the machines made of them; prune: remove what nothing uses; build: "
                   "(re)build a template's image",
        .example = "images\nimages --json\nimages prune --all\nimages build debian --release bookworm",
        .options = images_options,
        .complete = COMPLETE_NONE,
        .rootless = true,
};

int verb_images(Context *ctx, int argc, char **argv) {
        bool all = false;
        const char *release = NULL;
        OptionParser p;
        option_parser_init(&p, &images_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                case 'a':
                        all = true;
                        break;
                case 'R':
                        release = p.arg;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        int r = expect_args(&p, 0, 2);
        if (r != 0)
                return r;
        if (p.n_args >= 1) {
                bool prune = streq(p.args[0], "prune"), build = streq(p.args[0], "build");
                if (!prune && !build) {
                        _cleanup_free_ char *w = strdup_printable(p.args[0]);
                        return usage_error(&images_verb, "unknown subcommand '%s' (prune or build).", w);
                }
                if (prune && p.n_args != 1)
                        return usage_error(&images_verb, "prune takes no argument.");
                if (build && p.n_args != 2)
                        return usage_error(&images_verb, "build takes the template to build (busybox or debian).");
                if (prune && release)
                        return usage_error(&images_verb, "--release goes with build.");
                if (build && all)
                        return usage_error(&images_verb, "--all goes with prune.");
                if (prune)
                        return images_prune(ctx, all);
                _cleanup_free_ char *ref = NULL;
                r = template_image_build(ctx, p.args[1], release, true, false, &ref);
                if (r != 0)
                        return r;
                _cleanup_free_ char *digest = stored_digest(ctx, ref);
                if (!ctx->quiet)
                        printf("%s %s\n", ref, digest ?: "");
                return 0;
        }
        if (all || release)
                return usage_error(&images_verb, "%s goes with %s.", all ? "--all" : "--release", all ? "prune" : "build");
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        ImageEntry *e = NULL;
        size_t n = 0;
        if (image_store_read(ctx->store.images_fd, &e, &n) < 0)
                return ERR_FAILED;
        ImageUser *u = NULL;
        size_t nu = 0;
        if (image_users_read(ctx, &u, &nu) < 0) {
                image_entries_free(e, n);
                return ERR_FAILED;
        }
        if (ctx->json) {
                json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "reference", json_object_new_string(e[i].ref));
                        json_object_object_add(o, "digest", json_object_new_string(e[i].digest));
                        json_object_object_add(o, "size", json_object_new_int64((int64_t) e[i].total));
                        json_object_object_add(o, "created",
                                               e[i].created ? json_object_new_string(e[i].created) : NULL);
                        _cleanup_free_ char *plat = e[i].os && e[i].arch
                                                            ? xasprintf("%s/%s%s%s", e[i].os, e[i].arch,
                                                                        e[i].variant ? "/" : "", e[i].variant ?: "")
                                                            : NULL;
                        json_object_object_add(o, "platform", plat ? json_object_new_string(plat) : NULL);
                        _cleanup_strv_free_ char **users = image_users_of(u, nu, e[i].digest);
                        json_object *ma = json_object_new_array();
                        for (char **m = users; m && *m; m++)
                                json_object_array_add(ma, json_object_new_string(*m));
                        json_object_object_add(o, "machines", ma);
                        json_object_array_add(a, o);
                }
                printf("%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY |
                                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(a);
        } else {
                if (n > 0 || isatty(STDOUT_FILENO))
                        printf("%-50s %-19s %10s  %-14s %s\n", "REFERENCE", "DIGEST", "SIZE", "CREATED", "MACHINES");
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *ref = strdup_printable(e[i].ref), *age = age_of(e[i].created),
                                            *size = human_size(e[i].total);
                        const char *hex = strchr(e[i].digest, ':') + 1;
                        _cleanup_strv_free_ char **users = image_users_of(u, nu, e[i].digest);
                        _cleanup_free_ char *list = NULL;
                        for (char **m = users; m && *m; m++)
                                strextendf(&list, "%s%s", list ? "," : "", *m);
                        printf("%-50s %.6s:%.12s %10s  %-14s %s\n", ref, e[i].digest, hex, size, age, list ?: "-");
                }
        }
        image_entries_free(e, n);
        image_users_free(u, nu);
        return 0;
}

static const OptionSpec rmi_options[] = {
        { "force", 'f', 'f', NULL, "also an image machines were made from (they keep its layers)" },
        {},
};

const VerbSpec rmi_verb = {
        .name = "rmi",
        .func = verb_rmi,
        .args = "REF...",
        .summary = "Remove images (pulled, or built from templates), and the blobs no image needs any more",
        .example = "rmi debian:12\nrmi localhost/berth/template/debian:latest",
        .options = rmi_options,
        .complete = COMPLETE_NONE,
        .rootless = true,
};

int verb_rmi(Context *ctx, int argc, char **argv) {
        bool force = false;
        OptionParser p;
        option_parser_init(&p, &rmi_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'f':
                        force = true;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        int r = expect_args(&p, 1, INT_MAX);
        if (r != 0)
                return r;
        _cleanup_strv_free_ char **refs = NULL;
        for (int i = 0; i < p.n_args; i++) {
                _cleanup_free_ char *ref = NULL;
                r = normalize_ref(ctx, p.args[i], &ref);
                if (r != 0)
                        return r;
                refs = strv_append(refs, ref);
        }
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        _cleanup_close_ int lock = image_store_lock(ctx->store.images_fd, true);
        if (lock < 0)
                return ERR_FAILED;
        /* All of them exist and are unused (or --force), or nothing is removed. */
        ImageEntry *e = NULL;
        size_t n = 0;
        if (image_store_read(ctx->store.images_fd, &e, &n) < 0)
                return ERR_FAILED;
        ImageUser *u = NULL;
        size_t nu = 0;
        if (!force && image_users_read(ctx, &u, &nu) < 0) {
                image_entries_free(e, n);
                return ERR_FAILED;
        }
        int status = 0;
        for (char **ref = refs; *ref; ref++) {
                const ImageEntry *found = NULL;
                for (size_t i = 0; i < n && !found; i++)
                        if (streq(e[i].ref, *ref))
                                found = &e[i];
                _cleanup_free_ char *printable = strdup_printable(*ref);
                if (!found) {
                        log_error("No image %s in the store (see berth images); nothing was removed.", printable);
                        status = ERR_FAILED;
                        continue;
                }
                /* Machines use a digest, not a name: removing one of its
                 * names while another stays (and is not removed too) takes
                 * nothing from them. */
                bool kept = false;
                for (size_t i = 0; i < n && !kept; i++)
                        kept = streq(e[i].digest, found->digest) && !strv_contains(refs, e[i].ref);
                _cleanup_strv_free_ char **users = kept ? NULL : image_users_of(u, nu, found->digest);
                if (users) {
                        _cleanup_free_ char *list = NULL;
                        for (char **m = users; *m; m++)
                                strextendf(&list, "%s%s", list ? ", " : "", *m);
                        log_error("Image %s is in use by %s; remove %s first, or give --force (%s keep%s its "
                                  "layers); nothing was removed.",
                                  printable, list, users[1] ? "them" : "it", users[1] ? "they" : "it",
                                  users[1] ? "" : "s");
                        status = ERR_FAILED;
                }
        }
        image_entries_free(e, n);
        image_users_free(u, nu);
        if (status != 0)
                return status;
        for (char **ref = refs; *ref; ref++) {
                int k = image_store_remove(ctx->store.images_fd, *ref);
                if (k < 0) {
                        log_error_errno(k, "Failed to remove %s: %m", *ref);
                        return ERR_FAILED;
                }
                if (!ctx->quiet && isatty(STDOUT_FILENO))
                        printf("Removed %s\n", *ref);
        }
        uint64_t freed = 0;
        if (image_store_gc(ctx->store.images_fd, &freed) < 0)
                return ERR_FAILED;
        /* The layers no machine uses of the images that went (layers.h). */
        layers_prune_or_warn(&ctx->store);
        if (!ctx->quiet && isatty(STDOUT_FILENO) && freed > 0) {
                _cleanup_free_ char *s = human_size(freed);
                printf("Freed %s.\n", s);
        }
        return 0;
}
