/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-pull [--platform P] [--authfile F] [--ca-file F] [--insecure]
 *            [--progress] [--max-size SIZE] STORE REF
 * Pull image REF (a full reference, as berth normalised it) from its
 * registry into the image store STORE (ROOT/images, see image-store.h).
 * The only program of berth that links libcurl and talks to the network;
 * berth runs it through spawn_sandboxed().
 *
 * Every blob is written to an unnamed file (O_TMPFILE) in the store and
 * checked (size, digest) as it streams; only when all of the image is there
 * and verified are they linked into blobs/ and the reference written into
 * index.json, under the store's lock.  A refusal or a kill leaves nothing.
 * Exit status: 0 done, 1 failed, 2 the input is wrong (no such image or
 * platform, bad reference). */

#include <curl/curl.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "auth-file.h"
#include "caps.h"
#include "digest.h"
#include "fs.h"
#include "image-ref.h"
#include "image-store.h"
#include "log.h"
#include "oci-internal.h"
#include "registry.h"
#include "unpack-limit.h"
#include "util.h"

#define LAYERS_MAX 256
#define CREATED_MAX 64

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

typedef struct PullOptions {
        const char *platform;
        const char *authfile;
        const char *ca_file;
        bool insecure;
        bool progress;
        uint64_t max_size;
} PullOptions;

/* A blob on its way into the store: an unnamed file until verified. */
typedef struct Pending {
        char *digest;
        int fd;
} Pending;

typedef struct Pull {
        Pending *pending;
        size_t n_pending;
        int store_fd;
} Pull;

static void pull_done(Pull *p) {
        for (size_t i = 0; i < p->n_pending; i++) {
                free(p->pending[i].digest);
                closep(&p->pending[i].fd);
        }
        free(p->pending);
}

/* Credentials do not outlive their use in memory either. */
static void wipe_freep(char **s) {
        if (*s) {
                explicit_bzero(*s, strlen(*s));
                free(*s);
        }
}

/* What taking blobs off the network and linking them into the store
 * needs: linkat(AT_EMPTY_PATH) wants CAP_DAC_READ_SEARCH. */
static int confine(void) {
        uint64_t keep = UINT64_C(1) << CAP_DAC_READ_SEARCH | UINT64_C(1) << CAP_DAC_OVERRIDE;
        int r = caps_limit(keep);
        if (r < 0)
                return log_error_errno(r, "Failed to drop capabilities: %m");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(errno, "Failed to set no_new_privs: %m");
        return 0;
}

static bool is_index_type(const char *mt) {
        return streq_ptr(mt, MT_OCI_INDEX) || streq_ptr(mt, MT_DOCKER_LIST);
}

static bool is_manifest_type(const char *mt) {
        return streq_ptr(mt, MT_OCI_MANIFEST) || streq_ptr(mt, MT_DOCKER_MANIFEST);
}

static bool pending_has(const Pull *p, const char *digest) {
        for (size_t i = 0; i < p->n_pending; i++)
                if (streq(p->pending[i].digest, digest))
                        return true;
        return false;
}

static int open_tmp(Pull *p, const char *digest) {
        _cleanup_free_ char *path = image_store_blob_path(digest);
        *strrchr(path, '/') = '\0';
        int fd = openat(p->store_fd, path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
        if (fd < 0)
                return log_error_errno(errno, "Cannot make a file in the image store's %s: %m", path);
        return fd;
}

static void add_pending(Pull *p, const char *digest, int fd) {
        p->pending = realloc(p->pending, (p->n_pending + 1) * sizeof *p->pending);
        if (!p->pending)
                abort();
        p->pending[p->n_pending++] = (Pending) { .digest = xstrdup(digest), .fd = fd };
}

/* A blob into an unnamed file of the store, unless the store has it. */
static int fetch_blob(Pull *p, Registry *reg, const Descriptor *d, const char *label) {
        if (pending_has(p, d->digest))
                return 0;
        if (image_store_has_blob(p->store_fd, d->digest)) {
                /* Not downloaded again, but the manifest must still be right
                 * about it: a digest fixes the size. */
                _cleanup_free_ char *path = image_store_blob_path(d->digest);
                struct stat st;
                if (fstatat(p->store_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return log_error_errno(errno, "Cannot look at %s: %m", path);
                if (st.st_size != d->size)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                               "%s %s: size mismatch: its descriptor says %" PRIi64
                                               " bytes, the blob (already stored) has %" PRIi64 ".",
                                               label, d->digest, d->size, (int64_t) st.st_size);
                return 0;
        }
        _cleanup_close_ int fd = open_tmp(p, d->digest);
        if (fd < 0)
                return fd;
        int r = registry_get_blob(reg, d->digest, (uint64_t) d->size, fd, label);
        if (r < 0)
                return r;
        add_pending(p, d->digest, TAKE_FD(fd));
        return 0;
}

/* A manifest (already verified, in memory) as a pending blob. */
static int keep_json_blob(Pull *p, const char *digest, const char *body, size_t len) {
        if (image_store_has_blob(p->store_fd, digest) || pending_has(p, digest))
                return 0;
        _cleanup_close_ int fd = open_tmp(p, digest);
        if (fd < 0)
                return fd;
        int r = write_all(fd, body, len);
        if (r < 0)
                return log_error_errno(r, "Failed to write manifest %s: %m", digest);
        add_pending(p, digest, TAKE_FD(fd));
        return 0;
}

/* All verified: into blobs/, durably, before index.json names them. */
static int link_pending(Pull *p) {
        for (size_t i = 0; i < p->n_pending; i++) {
                _cleanup_free_ char *path = image_store_blob_path(p->pending[i].digest);
                if (fsync(p->pending[i].fd) < 0)
                        return log_error_errno(errno, "Failed to write %s: %m", path);
                if (linkat(p->pending[i].fd, "", p->store_fd, path, AT_EMPTY_PATH) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Failed to store %s: %m", path);
        }
        return 0;
}

/* Pick this platform's manifest out of an index: its descriptor's digest,
 * media type and size. */
static int choose_from_index(const char *body, size_t len, const Platform *platform, const char *refname,
                             char **ret_digest, char **ret_mt, int64_t *ret_size, Platform *ret_platform) {
        _cleanup_json_ json_object *index = NULL;
        int r = json_parse("the image index", body, len, &index);
        if (r < 0)
                return r;
        ImportOptions io = {};
        _cleanup_(selection_done) Selection sel = { .options = &io };
        sel.platform = (Platform) { xstrdup(platform->os), xstrdup(platform->arch),
                                    platform->variant ? xstrdup(platform->variant) : NULL };
        r = select_in_index(&sel, index, 0);
        if (r < 0)
                return r;
        _cleanup_free_ char *want = platform_string(platform->os, platform->arch, platform->variant);
        if (sel.matches == 0)
                return log_error_errno(SYNTHETIC_ERRNO(ENXIO), "%s has no image for %s%s.", refname, want,
                                       sel.platform_miss ? " (see --platform)" : "");
        /* The first match, as the spec says; the platform recorded is the
         * descriptor's, found again. */
        json_object *m = jget(index, "manifests", json_type_array);
        for (size_t i = 0; i < json_object_array_length(m); i++) {
                Descriptor d;
                if (descriptor_parse(json_object_array_get_idx(m, i), "index entry", &d) < 0 ||
                    !streq(d.digest, sel.manifest_digest))
                        continue;
                *ret_platform = (Platform) { strdup_or_null(d.os), strdup_or_null(d.arch),
                                             strdup_or_null(d.variant) };
                break;
        }
        *ret_digest = xstrdup(sel.manifest_digest);
        *ret_mt = xstrdup(sel.manifest_media_type);
        *ret_size = sel.manifest_size;
        return 0;
}

static char *created_of(json_object *config) {
        const char *c = jstr(config, "created");
        if (!c || strlen(c) > CREATED_MAX || strspn(c, "0123456789-:.TZ+") != strlen(c))
                return NULL;
        return xstrdup(c);
}

/* The image manifest REF names, through an index if it names one (the
 * platform WANT chosen from it into *CHOSEN): its body, media type and
 * digest, parsed into *TOP. */
static int fetch_image_manifest(Registry *reg, const ImageRef *ref, const char *full, const Platform *want,
                                char **ret_body, size_t *ret_len, char **ret_mt, char **ret_digest,
                                json_object **ret_top, Platform *chosen) {
        _cleanup_free_ char *body = NULL, *mt = NULL, *digest = NULL;
        _cleanup_json_ json_object *top = NULL;
        size_t len = 0;
        _cleanup_(platform_done) Platform chosen_cleanup = {};
        int r = registry_get_manifest(reg, ref->digest ?: ref->tag, ref->digest, -1, &body, &len, &mt, &digest);
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        r = json_parse("the manifest", body, len, &top);
        if (r < 0)
                return r;
        /* The body's own mediaType wins over Content-Type when both exist,
         * and they must not disagree. */
        const char *body_mt = jstr(top, "mediaType");
        if (body_mt && mt && !streq(body_mt, mt) && (is_index_type(mt) || is_manifest_type(mt)))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "%s: the manifest says it is '%.80s', the registry '%s'.",
                                       full, body_mt, mt);
        if (body_mt) {
                free(mt);
                mt = xstrdup(body_mt);
        } else if (!is_index_type(mt) && !is_manifest_type(mt)) {
                free(mt);
                mt = xstrdup(jget(top, "manifests", json_type_array) ? MT_OCI_INDEX : MT_OCI_MANIFEST);
        }

        if (is_index_type(mt)) {
                _cleanup_free_ char *mdigest = NULL, *mmt = NULL;
                int64_t msize = 0;
                r = choose_from_index(body, len, want, full, &mdigest, &mmt, &msize, &chosen_cleanup);
                if (r < 0)
                        return r;
                free(body);
                free(mt);
                free(digest);
                body = mt = digest = NULL;
                json_object_put(TAKE_PTR(top));
                _cleanup_free_ char *ct = NULL;
                r = registry_get_manifest(reg, mdigest, mdigest, msize, &body, &len, &ct, &digest);
                if (r < 0)
                        return r;
                r = json_parse("the manifest", body, len, &top);
                if (r < 0)
                        return r;
                const char *inner = jstr(top, "mediaType");
                if (inner && !streq(inner, mmt))
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                               "%s: manifest %s says it is '%.80s', its descriptor '%s'.", full,
                                               mdigest, inner, mmt);
                mt = TAKE_PTR(mmt);
        }
        if (!is_manifest_type(mt))
                return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE), "%s is a '%.80s', not a container image.", full,
                                       mt);
        *chosen = chosen_cleanup;
        chosen_cleanup = (Platform) {};
        *ret_len = len;
        *ret_body = TAKE_PTR(body);
        *ret_mt = TAKE_PTR(mt);
        *ret_digest = TAKE_PTR(digest);
        *ret_top = TAKE_PTR(top);
        return 0;
}

/* The manifest's config and layers, their sizes judged before any
 * download: *CD the config, *RET_N the layers, *RET_TOTAL the bytes of all
 * (LEN: the manifest's). */
static int judge_manifest(json_object *top, const char *full, const char *digest, size_t len, uint64_t max_size,
                          Descriptor *cd, json_object **ret_layers, size_t *ret_n, uint64_t *ret_total) {
        int r;
        /* The manifest: config and layers, sizes judged before any download. */
        json_object *cj = jget(top, "config", json_type_object);
        json_object *layers = jget(top, "layers", json_type_array);
        if (!cj || !layers)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: manifest %s has no config or no layers.", full,
                                       digest);
        r = descriptor_parse(cj, "manifest config", cd);
        if (r < 0)
                return r;
        if (!streq_ptr(cd->media_type, MT_OCI_CONFIG) && !streq_ptr(cd->media_type, MT_DOCKER_CONFIG))
                return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE),
                                       "%s is not a container image (config media type '%.80s').", full,
                                       cd->media_type ?: "none");
        if (cd->size > (int64_t) JSON_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(EFBIG), "%s: the config is %" PRIi64 " bytes, more than %u.",
                                       full, cd->size, JSON_MAX);
        size_t n = json_object_array_length(layers);
        if (n > LAYERS_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(EFBIG), "%s has %zu layers, more than %u.", full, n,
                                       LAYERS_MAX);
        uint64_t total = len + (uint64_t) cd->size;
        for (size_t i = 0; i < n; i++) {
                Descriptor ld;
                _cleanup_free_ char *what = xasprintf("%s: layer %zu/%zu", full, i + 1, n);
                r = descriptor_parse(json_object_array_get_idx(layers, i), what, &ld);
                if (r < 0)
                        return r;
                if ((uint64_t) ld.size > max_size)
                        return log_error_errno(SYNTHETIC_ERRNO(EFBIG),
                                               "%s is %" PRIi64 " bytes, more than the import limit of %" PRIu64
                                               " (--max-size, berth.conf [Import] MaxSize=).",
                                               what, ld.size, max_size);
                total += (uint64_t) ld.size;
        }
        *ret_layers = layers;
        *ret_n = n;
        *ret_total = total;
        return 0;
}

static int pull(const char *store, const char *refname, const PullOptions *o) {
        _cleanup_(image_ref_done) ImageRef ref = {};
        const char *reason = NULL;
        if (image_ref_parse(refname, NULL, &ref, &reason) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Bad image reference '%s': %s.", refname, reason);
        _cleanup_free_ char *full = image_ref_format(&ref);

        Platform platform = {};
        if (o->platform) {
                if (platform_parse(o->platform, &platform.os, &platform.arch, &platform.variant) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--platform takes OS/ARCH[/VARIANT].");
        } else
                platform_host(&platform);
        _cleanup_(platform_done) Platform want = platform;

        _cleanup_(wipe_freep) char *user = NULL, *password = NULL;
        int r = auth_file_lookup(o->authfile, ref.registry, &user, &password);
        if (r < 0 && r != -ENOENT)
                return r;

        _cleanup_close_ int store_fd = open(store, O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (store_fd < 0)
                return log_error_errno(errno, "Cannot open the image store %s: %m", store);
        _cleanup_close_ int lock = image_store_lock(store_fd, true);
        if (lock < 0)
                return lock;
        r = image_store_prepare(store_fd);
        if (r < 0)
                return r;
        /* Blobs linked by a pull killed before it wrote index.json belong to
         * nothing: the lock is ours, so they go now. */
        r = image_store_gc(store_fd, NULL);
        if (r < 0)
                return r;

        RegistryOptions ro = { .ca_file = o->ca_file, .insecure = o->insecure, .username = user,
                               .password = password, .progress = o->progress };
        _cleanup_(registry_freep) Registry *reg = NULL;
        r = registry_new(&ref, &ro, &reg);
        if (r < 0)
                return r;

        /* The reference's manifest: an index or an image manifest. */
        _cleanup_free_ char *body = NULL, *mt = NULL, *digest = NULL;
        _cleanup_json_ json_object *top = NULL;
        size_t len = 0;
        Platform chosen = {};
        _cleanup_(platform_done) Platform chosen_cleanup = {};
        r = fetch_image_manifest(reg, &ref, full, &want, &body, &len, &mt, &digest, &top, &chosen_cleanup);
        if (r < 0)
                return r;
        chosen = chosen_cleanup;

        Descriptor cd;
        json_object *layers = NULL;
        size_t n = 0;
        uint64_t total = 0;
        r = judge_manifest(top, full, digest, len, o->max_size, &cd, &layers, &n, &total);
        if (r < 0)
                return r;

        _cleanup_(pull_done) Pull p = { .store_fd = store_fd };
        r = fetch_blob(&p, reg, &cd, "config");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                Descriptor ld;
                (void) descriptor_parse(json_object_array_get_idx(layers, i), "layer", &ld);
                _cleanup_free_ char *sd = short_digest(ld.digest);
                _cleanup_free_ char *label = xasprintf("layer %zu/%zu %s", i + 1, n, sd);
                r = fetch_blob(&p, reg, &ld, label);
                if (r < 0)
                        return r;
        }
        r = keep_json_blob(&p, digest, body, len);
        if (r < 0)
                return r;

        /* The config says when the image was made and, for a single-platform
         * manifest, for which platform. */
        _cleanup_free_ char *cpath = image_store_blob_path(cd.digest), *created = NULL;
        _cleanup_free_ char *ctext = NULL;
        size_t clen = 0;
        _cleanup_json_ json_object *config = NULL;
        int cfd = -EBADF;
        for (size_t i = 0; i < p.n_pending; i++)
                if (streq(p.pending[i].digest, cd.digest))
                        cfd = p.pending[i].fd;
        if (cfd >= 0) {
                if (lseek(cfd, 0, SEEK_SET) < 0)
                        return log_error_errno(errno, "Cannot read the config: %m");
                r = read_file_fd(cfd, JSON_MAX, &ctext, &clen);
        } else
                r = read_file_at(store_fd, cpath, JSON_MAX, &ctext, &clen);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the config: %m", full);
        r = json_parse("the image config", ctext, clen, &config);
        if (r < 0)
                return r;
        if (!chosen.os) {
                r = check_config_platform(config, &want);
                if (r < 0)
                        return r;
                chosen_cleanup = (Platform) { strdup_or_null(jstr(config, "os")),
                                              strdup_or_null(jstr(config, "architecture")),
                                              strdup_or_null(jstr(config, "variant")) };
                chosen = chosen_cleanup;
        }
        created = created_of(config);

        r = link_pending(&p);
        ImageEntry e = { .ref = full, .digest = digest, .media_type = mt, .size = (int64_t) len,
                         .os = chosen.os, .arch = chosen.arch, .variant = chosen.variant,
                         .created = created, .total = total };
        if (r >= 0)
                r = image_store_set(store_fd, &e);
        if (r < 0) {
                /* Linked but not listed: take them away again. */
                (void) image_store_gc(store_fd, NULL);
                return r;
        }
        return 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "platform", required_argument, NULL, 'p' },
                { "authfile", required_argument, NULL, 'a' },
                { "ca-file", required_argument, NULL, 'c' },
                { "insecure", no_argument, NULL, 'i' },
                { "progress", no_argument, NULL, 'P' },
                { "max-size", required_argument, NULL, 'm' },
                {},
        };
        log_parse_environment();
        log_set_prefix("berth");
        PullOptions o = { .max_size = UNPACK_MAX_SIZE_DEFAULT };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'p':
                        o.platform = optarg;
                        break;
                case 'a':
                        o.authfile = optarg;
                        break;
                case 'c':
                        o.ca_file = optarg;
                        break;
                case 'i':
                        o.insecure = true;
                        break;
                case 'P':
                        o.progress = true;
                        break;
                case 'm':
                        if (unpack_max_size_parse(optarg, &o.max_size) < 0) {
                                log_error("--max-size takes a size like 20G or 'infinity', not '%s'.", optarg);
                                return 2;
                        }
                        break;
                default:
                        return 2;
                }
        if (argc - optind != 2) {
                fprintf(stderr, "Usage: berth-pull [--platform P] [--authfile F] [--ca-file F] [--insecure] "
                                "[--progress] [--max-size SIZE] STORE REF\n");
                return 2;
        }
        if (confine() < 0)
                return EXIT_FAILURE;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                log_error("Failed to initialise libcurl.");
                return EXIT_FAILURE;
        }
        int r = pull(argv[optind], argv[optind + 1], &o);
        curl_global_cleanup();
        if (r < 0)
                return r == -EINVAL || r == -ESRCH || r == -ENXIO ? 2 : EXIT_FAILURE;
        return EXIT_SUCCESS;
}
