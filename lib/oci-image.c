/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "config.h"
#include "digest.h"
#include "fs.h"
#include "log.h"
#include "oci-image.h"
#include "oci-layer.h"
#include "oci-source.h"
#include "util.h"

/* Manifests, configs and index files are small; anything bigger is hostile. */
#define JSON_MAX (4u << 20)
#define JSON_DEPTH 64
#define INDEX_NESTING_MAX 4

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"

static const char *const default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* Where an init is found in the images that have one. */
static const char *const init_paths[] = {
        "/sbin/init", "/usr/sbin/init", "/lib/systemd/systemd", "/usr/lib/systemd/systemd", "/init", "/usr/bin/init",
};

/* ----- JSON ----- */

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

static int json_parse(const char *what, const char *buf, size_t len, json_object **ret) {
        json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
        if (!tok)
                abort();
        json_object *o = json_tokener_parse_ex(tok, buf, (int) len);
        enum json_tokener_error err = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        /* Only whitespace may follow the document. */
        while (o && end < len && strchr(" \t\r\n", buf[end]))
                end++;
        if (!o || err != json_tokener_success || end != len || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s is not a valid JSON object%s%s.", what,
                                       err != json_tokener_success ? ": " : "",
                                       err != json_tokener_success ? json_tokener_error_desc(err) : "");
        }
        *ret = o;
        return 0;
}

static char *strdup_or_null(const char *s) {
        return s ? xstrdup(s) : NULL;
}

static json_object *jget(json_object *o, const char *key, json_type type) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

static const char *jstr(json_object *o, const char *key) {
        json_object *v = jget(o, key, json_type_string);
        return v ? json_object_get_string(v) : NULL;
}

/* A JSON array of strings as a NULL-terminated vector; -EBADMSG if any
 * element is no string or has a NUL. */
static int jstrv(json_object *o, const char *key, char ***ret) {
        json_object *a = jget(o, key, json_type_array);
        char **l = NULL;
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *s = json_object_array_get_idx(a, i);
                if (!json_object_is_type(s, json_type_string) ||
                    strlen(json_object_get_string(s)) != (size_t) json_object_get_string_len(s)) {
                        strv_free(l);
                        return -EBADMSG;
                }
                l = strv_append(l, json_object_get_string(s));
        }
        *ret = l;
        return 0;
}

/* ----- Descriptors ----- */

typedef struct Descriptor {
        const char *media_type;
        const char *digest;
        int64_t size;
        const char *os, *arch, *variant; /* platform, NULL when absent */
        const char *ref_name;
} Descriptor;

static int descriptor_parse(json_object *o, const char *what, Descriptor *ret) {
        Descriptor d = { .media_type = jstr(o, "mediaType"), .digest = jstr(o, "digest") };
        json_object *size = jget(o, "size", json_type_int);
        if (!d.digest || !size)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: descriptor without digest or size.", what);
        d.size = json_object_get_int64(size);
        if (d.size < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: negative size.", what);
        int r = digest_parse(d.digest, NULL, NULL);
        if (r == -EOPNOTSUPP)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "%s: digest algorithm of '%.80s' is not supported (sha256, sha512 are).",
                                       what, d.digest);
        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: malformed digest '%.80s'.", what, d.digest);
        json_object *p = jget(o, "platform", json_type_object);
        d.os = jstr(p, "os");
        d.arch = jstr(p, "architecture");
        d.variant = jstr(p, "variant");
        d.ref_name = jstr(jget(o, "annotations", json_type_object), REF_NAME_ANNOTATION);
        *ret = d;
        return 0;
}

/* "blobs/sha256/<hex>" for a parsed descriptor. */
static char *blob_path(const char *digest) {
        const char *colon = strchr(digest, ':');
        return xasprintf("blobs/%.*s/%s", (int) (colon - digest), digest, colon + 1);
}

static char *short_digest(const char *digest) {
        const char *colon = strchr(digest, ':');
        return xasprintf("%.*s:%.12s", (int) (colon - digest), digest, colon + 1);
}

/* Read a JSON blob, check its size and digest before parsing a byte of it. */
static int read_blob_json(const Source *s, const Descriptor *d, const char *what, json_object **ret) {
        if (d->size > (int64_t) JSON_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(EFBIG), "%s %s is %" PRIi64 " bytes, more than %u.", what,
                                       d->digest, d->size, JSON_MAX);
        _cleanup_free_ char *path = blob_path(d->digest), *buf = NULL;
        size_t len;
        int r = source_read_file(s, path, JSON_MAX, &buf, &len);
        if (r == -ENOENT)
                return log_error_errno(r, "%s: %s blob %s is missing.", s->path, what, path);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read %s blob %s: %m", s->path, what, path);
        if ((int64_t) len != d->size)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "%s %s: size mismatch: the descriptor says %" PRIi64 " bytes, the blob has %zu.",
                                       what, d->digest, d->size, len);
        DigestAlgorithm alg;
        (void) digest_parse(d->digest, &alg, NULL);
        char got[DIGEST_STRING_MAX];
        digest_buffer(alg, buf, len, got);
        if (!streq(got, d->digest))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s %s: digest mismatch: the blob's digest is %s.",
                                       what, d->digest, got);
        return json_parse(what, buf, len, ret);
}

/* ----- Platforms ----- */

int platform_parse(const char *s, char **ret_os, char **ret_arch, char **ret_variant) {
        const char *a = strchr(s, '/');
        if (!a || a == s || !a[1])
                return -EINVAL;
        const char *v = strchr(a + 1, '/');
        if (v && (!v[1] || strchr(v + 1, '/') || v == a + 1))
                return -EINVAL;
        *ret_os = strndup(s, (size_t) (a - s));
        *ret_arch = v ? strndup(a + 1, (size_t) (v - a - 1)) : xstrdup(a + 1);
        *ret_variant = v ? xstrdup(v + 1) : NULL;
        if (!*ret_os || !*ret_arch)
                abort();
        return 0;
}

typedef struct Platform {
        char *os, *arch, *variant;
} Platform;

static void platform_done(Platform *p) {
        free(p->os);
        free(p->arch);
        free(p->variant);
}

/* The host's platform in Go's (and so OCI's) spelling. */
static void platform_host(Platform *ret) {
        static const struct {
                const char *uname, *arch, *variant;
        } map[] = {
                { "x86_64", "amd64", NULL }, { "aarch64", "arm64", NULL }, { "armv7l", "arm", "v7" },
                { "armv6l", "arm", "v6" },   { "i686", "386", NULL },     { "i386", "386", NULL },
                { "ppc64le", "ppc64le", NULL }, { "s390x", "s390x", NULL }, { "riscv64", "riscv64", NULL },
        };
        struct utsname u;
        (void) uname(&u);
        *ret = (Platform) { .os = xstrdup("linux"), .arch = xstrdup(u.machine) };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (streq(u.machine, map[i].uname)) {
                        free(ret->arch);
                        ret->arch = xstrdup(map[i].arch);
                        ret->variant = map[i].variant ? xstrdup(map[i].variant) : NULL;
                }
}

static bool platform_matches(const Platform *want, const char *os, const char *arch, const char *variant) {
        if (!os && !arch)
                return true; /* not said: a single-platform layout */
        if (!streq_ptr(want->os, os) || !streq_ptr(want->arch, arch))
                return false;
        /* A variant only narrows when both sides name one. */
        return !want->variant || !variant || streq(want->variant, variant);
}

static char *platform_string(const char *os, const char *arch, const char *variant) {
        return xasprintf("%s/%s%s%s", os ?: "?", arch ?: "?", variant ? "/" : "", variant ?: "");
}

/* ----- Selecting a manifest ----- */

typedef struct Selection {
        const Source *source;
        const ImportOptions *options;
        Platform platform;
        char *manifest_digest;      /* the winner */
        char *manifest_media_type;
        int64_t manifest_size;
        unsigned matches;           /* manifests that fit */
        bool ref_seen;              /* some descriptor carried the ref */
        bool platform_miss;         /* a manifest was skipped for its platform */
        char *refs;                 /* the refs seen, for the error message */
} Selection;

static void selection_done(Selection *s) {
        platform_done(&s->platform);
        free(s->manifest_digest);
        free(s->manifest_media_type);
        free(s->refs);
}

static bool is_index_type(const char *mt) {
        return streq_ptr(mt, MT_OCI_INDEX) || streq_ptr(mt, MT_DOCKER_LIST);
}
static bool is_manifest_type(const char *mt) {
        return streq_ptr(mt, MT_OCI_MANIFEST) || streq_ptr(mt, MT_DOCKER_MANIFEST);
}

static int select_in_index(Selection *sel, json_object *index, unsigned depth);

static int select_descriptor(Selection *sel, json_object *o, unsigned depth) {
        Descriptor d;
        int r = descriptor_parse(o, "index entry", &d);
        if (r < 0)
                return r;
        if (depth == 0 && d.ref_name) {
                char *n = xasprintf("%s%s%s", sel->refs ?: "", sel->refs ? ", " : "", d.ref_name);
                free(sel->refs);
                sel->refs = n;
        }
        const char *ref = sel->options->ref;
        if (depth == 0 && ref) {
                if (!streq_ptr(d.ref_name, ref) && !streq(d.digest, ref))
                        return 0;
                sel->ref_seen = true;
        }
        if (is_index_type(d.media_type)) {
                if (depth + 1 >= INDEX_NESTING_MAX)
                        return log_error_errno(SYNTHETIC_ERRNO(ELOOP), "Image indexes nest too deep.");
                if (!sel->source)
                        return 0; /* the fuzzer has no blobs */
                _cleanup_json_ json_object *nested = NULL;
                r = read_blob_json(sel->source, &d, "nested index", &nested);
                if (r < 0)
                        return r;
                return select_in_index(sel, nested, depth + 1);
        }
        if (!is_manifest_type(d.media_type))
                return 0; /* the spec says: skip what you do not know */
        if (!platform_matches(&sel->platform, d.os, d.arch, d.variant)) {
                sel->platform_miss = true;
                return 0;
        }
        if (sel->matches++ == 0) {
                sel->manifest_digest = xstrdup(d.digest);
                sel->manifest_media_type = xstrdup(d.media_type);
                sel->manifest_size = d.size;
        }
        return 0;
}

static int select_in_index(Selection *sel, json_object *index, unsigned depth) {
        const char *mt = jstr(index, "mediaType");
        if (mt && !is_index_type(mt))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "An image index has media type '%.80s'.", mt);
        json_object *m = jget(index, "manifests", json_type_array);
        if (!m)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "An image index has no manifests list.");
        for (size_t i = 0; i < json_object_array_length(m); i++) {
                int r = select_descriptor(sel, json_object_array_get_idx(m, i), depth);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ----- Image config to machine config ----- */

typedef struct ImageExec {
        char **args;       /* Entrypoint ++ Cmd, or process.args */
        char **env;
        char *cwd;
        char *user;
        char *stop_signal;
        char *hostname;
        char *ports;       /* "80/tcp 443/tcp" */
} ImageExec;

static void image_exec_done(ImageExec *e) {
        strv_free(e->args);
        strv_free(e->env);
        free(e->cwd);
        free(e->user);
        free(e->stop_signal);
        free(e->hostname);
        free(e->ports);
}

static bool executable_in_root(int rootfd, const char *path) {
        _cleanup_close_ int fd = chase_in_root(rootfd, path, 0, O_PATH, 0);
        struct stat st;
        return fd >= 0 && fstat(fd, &st) >= 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* Find a relative command in the image's PATH, inside the image. */
static char *resolve_command(int rootfd, const char *cmd, char **env) {
        if (cmd[0] == '/')
                return xstrdup(cmd);
        if (strchr(cmd, '/'))
                return xasprintf("/%s", cmd); /* relative to the working directory: "/" is our guess */
        const char *path = default_path;
        for (char **e = env; e && *e; e++)
                if (startswith(*e, "PATH="))
                        path = *e + 5;
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                if (dir[0] != '/')
                        continue;
                char *c = xasprintf("%s/%s", dir, cmd);
                if (executable_in_root(rootfd, c))
                        return c;
                free(c);
        }
        return NULL;
}

static bool is_init_path(const char *p) {
        for (size_t i = 0; i < ELEMENTSOF(init_paths); i++)
                if (streq(p, init_paths[i]))
                        return true;
        return false;
}

/* Set KEY=VALUE in C the way --set would, so the same validation applies. */
static int set_key(MachineConfig *c, const char *key, const char *value, bool required) {
        _cleanup_free_ char *a = xasprintf("%s=%s", key, value), *err = NULL;
        int r = machine_config_set_from_cli(c, a, &err);
        if (r < 0) {
                if (required)
                        return log_error_errno(r, "The image's %s cannot be used: %s", key, err ?: "invalid");
                log_warning("Ignoring the image's %s: %s", key, err ?: "invalid");
        }
        return 0;
}

static int exec_to_config(int rootfd, const ImageExec *ie, ImportBoot boot, MachineConfig *c, const char **ret_mode) {
        _cleanup_free_ char *argv0 = NULL;
        if (ie->args && ie->args[0]) {
                argv0 = resolve_command(rootfd, ie->args[0], ie->env);
                if (!argv0)
                        log_warning("The image's command '%s' is not found in its PATH.", ie->args[0]);
        }
        bool has_init = false;
        for (size_t i = 0; i < ELEMENTSOF(init_paths) && !has_init; i++)
                has_init = executable_in_root(rootfd, init_paths[i]);

        bool booting;
        if (boot == IMPORT_BOOT_YES)
                booting = true;
        else if (boot == IMPORT_BOOT_NO)
                booting = false;
        else
                booting = argv0 ? is_init_path(argv0) : has_init;
        *ret_mode = booting ? "boot" : "app";

        int r;
        if (booting) {
                /* The image's own init, if its command names one. */
                if (argv0 && is_init_path(argv0) && !streq(argv0, "/sbin/init")) {
                        r = set_key(c, "Machine.Init", argv0, true);
                        if (r < 0)
                                return r;
                }
                r = set_key(c, "Machine.Boot", "yes", true);
        } else {
                if (!argv0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "The image has no command to run (no Entrypoint or Cmd) and no "
                                               "init to boot; import it with --boot=yes if it has an init elsewhere.");
                char **argv = strv_append(NULL, argv0);
                for (char **a = ie->args + 1; *a; a++)
                        argv = strv_append(argv, *a);
                _cleanup_free_ char *words = config_words_format(argv);
                strv_free(argv);
                r = set_key(c, "Machine.Boot", "no", true);
                if (r >= 0)
                        r = set_key(c, "Exec.Command", words, true);
        }
        if (r < 0)
                return r;

        /* The rest is what the program expects; a bad value is dropped with a warning. */
        for (char **e = ie->env; e && *e; e++) {
                char *const one[] = { *e, NULL };
                _cleanup_free_ char *w = config_words_format(one);
                (void) set_key(c, "Exec.Environment", w, false);
        }
        if (!isempty(ie->cwd))
                (void) set_key(c, "Exec.WorkingDirectory", ie->cwd, false);
        if (!isempty(ie->user))
                (void) set_key(c, "Exec.User", ie->user, false);
        if (!isempty(ie->stop_signal))
                (void) set_key(c, "Machine.PoweroffSignal", ie->stop_signal, false);
        if (!isempty(ie->hostname))
                (void) set_key(c, "Machine.Hostname", ie->hostname, false);
        return 0;
}

/* "80/tcp": digits, a slash, a protocol in lowercase letters. */
static bool port_valid(const char *p) {
        size_t digits = strspn(p, "0123456789");
        if (digits == 0 || digits > 5)
                return false;
        if (!p[digits])
                return true;
        if (p[digits] != '/')
                return false;
        const char *proto = p + digits + 1;
        return *proto && strspn(proto, "abcdefghijklmnopqrstuvwxyz") == strlen(proto) && strlen(proto) <= 8;
}

static int image_exec_from_config(json_object *image_config, ImageExec *ret) {
        json_object *c = jget(image_config, "config", json_type_object);
        ImageExec ie = {};
        _cleanup_strv_free_ char **entrypoint = NULL, **cmd = NULL;
        if (jstrv(c, "Entrypoint", &entrypoint) < 0 || jstrv(c, "Cmd", &cmd) < 0 || jstrv(c, "Env", &ie.env) < 0) {
                image_exec_done(&ie);
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "The image config's Entrypoint, Cmd or Env is not a list of strings.");
        }
        for (char **a = entrypoint; a && *a; a++)
                ie.args = strv_append(ie.args, *a);
        for (char **a = cmd; a && *a; a++)
                ie.args = strv_append(ie.args, *a);
        ie.cwd = strdup_or_null(jstr(c, "WorkingDir"));
        ie.user = strdup_or_null(jstr(c, "User"));
        ie.stop_signal = strdup_or_null(jstr(c, "StopSignal"));
        ie.hostname = strdup_or_null(jstr(c, "Hostname"));
        json_object *ports = jget(c, "ExposedPorts", json_type_object);
        if (ports) {
                json_object_object_foreach(ports, key, val) {
                        (void) val;
                        if (!port_valid(key)) {
                                log_warning("Ignoring an exposed port that is not PORT/PROTO.");
                                continue;
                        }
                        char *n = xasprintf("%s%s%s", ie.ports ?: "", ie.ports ? " " : "", key);
                        free(ie.ports);
                        ie.ports = n;
                }
        }
        *ret = ie;
        return 0;
}

/* ----- Writing the result ----- */

static int write_results(const char *outdir, const MachineConfig *c, const char *info) {
        _cleanup_close_ int dfd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", outdir);
        _cleanup_free_ char *conf = machine_config_format(c, c->set_mask);
        int r = write_file_atomic_at(dfd, "image.conf", conf, strlen(conf), 0644);
        if (r >= 0)
                r = write_file_atomic_at(dfd, "image", info, strlen(info), 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write the image's configuration to %s: %m", outdir);
        return 0;
}

/* ----- The source kinds ----- */

static LayerCompression layer_compression(const char *mt) {
        static const struct {
                const char *media_type;
                LayerCompression c;
        } table[] = {
                { "application/vnd.oci.image.layer.v1.tar", LAYER_COMPRESSION_NONE },
                { "application/vnd.oci.image.layer.v1.tar+gzip", LAYER_COMPRESSION_GZIP },
                { "application/vnd.oci.image.layer.v1.tar+zstd", LAYER_COMPRESSION_ZSTD },
                { "application/vnd.oci.image.layer.nondistributable.v1.tar", LAYER_COMPRESSION_NONE },
                { "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_COMPRESSION_GZIP },
                { "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LAYER_COMPRESSION_ZSTD },
                /* Docker's say gzip but may be plain: sniffed. */
                { "application/vnd.docker.image.rootfs.diff.tar.gzip", LAYER_COMPRESSION_DETECT },
                { "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", LAYER_COMPRESSION_DETECT },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq_ptr(mt, table[i].media_type))
                        return table[i].c;
        return _LAYER_COMPRESSION_MAX;
}

static int apply_one(const Source *s, int rootfd, const char *name, LayerSpec *spec) {
        _cleanup_(source_file_freep) SourceFile *f = NULL;
        uint64_t size;
        int r = source_open_file(s, name, &f, &size);
        if (r < 0)
                return log_error_errno(r, "%s: blob %s: %s", spec->label, name,
                                       r == -ENOENT ? "missing from the image" : "cannot be opened");
        /* The size first: nothing of a blob is used unless it has the size promised. */
        if (spec->size >= 0 && size != (uint64_t) spec->size)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "%s: size mismatch: the descriptor says %" PRIi64 " bytes, the blob has %" PRIu64 ".",
                                       spec->label, spec->size, size);
        return layer_apply(rootfd, spec, source_file_read, f);
}

/* Check the config's platform against the one wanted; -ENXIO if it differs. */
static int check_config_platform(json_object *config, const Platform *want) {
        const char *os = jstr(config, "os"), *arch = jstr(config, "architecture"), *variant = jstr(config, "variant");
        if (platform_matches(want, os, arch, variant))
                return 0;
        _cleanup_free_ char *have = platform_string(os, arch, variant),
                            *w = platform_string(want->os, want->arch, want->variant);
        return log_error_errno(SYNTHETIC_ERRNO(ENXIO), "The image is for %s, not %s (see --platform).", have, w);
}

static int import_oci(const Source *s, int rootfd, const ImportOptions *o, const Platform *platform,
                      UnpackLimit *limit, json_object **ret_config, char **ret_info) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = source_read_file(s, "index.json", JSON_MAX, &buf, &len);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read index.json: %m", s->path);
        _cleanup_json_ json_object *index = NULL;
        r = json_parse("index.json", buf, len, &index);
        if (r < 0)
                return r;

        _cleanup_(selection_done) Selection sel = { .source = s, .options = o };
        sel.platform = (Platform) { xstrdup(platform->os), xstrdup(platform->arch),
                                    platform->variant ? xstrdup(platform->variant) : NULL };
        r = select_in_index(&sel, index, 0);
        if (r < 0)
                return r;
        _cleanup_free_ char *want = platform_string(platform->os, platform->arch, platform->variant);
        if (o->ref && !sel.ref_seen)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "%s has no image '%s'%s%s%s.", s->path, o->ref,
                                       sel.refs ? " (it has: " : "", sel.refs ?: "", sel.refs ? ")" : "");
        if (sel.matches == 0 && sel.platform_miss)
                return log_error_errno(SYNTHETIC_ERRNO(ENXIO), "%s has no image for %s (see --platform).", s->path,
                                       want);
        if (sel.matches == 0)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "%s holds no image manifest.", s->path);
        if (sel.matches > 1 && !o->ref)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "%s holds several images; choose one with --ref%s%s%s.",
                                       s->path, sel.refs ? " (" : "", sel.refs ?: "", sel.refs ? ")" : "");

        Descriptor md = { .media_type = sel.manifest_media_type, .digest = sel.manifest_digest,
                          .size = sel.manifest_size };
        _cleanup_json_ json_object *manifest = NULL;
        r = read_blob_json(s, &md, "manifest", &manifest);
        if (r < 0)
                return r;
        const char *mmt = jstr(manifest, "mediaType");
        if (mmt && !streq(mmt, md.media_type))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Manifest %s says it is '%.80s', its descriptor '%s'.",
                                       md.digest, mmt, md.media_type);

        Descriptor cd;
        json_object *cj = jget(manifest, "config", json_type_object);
        if (!cj)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Manifest %s has no config.", md.digest);
        r = descriptor_parse(cj, "manifest config", &cd);
        if (r < 0)
                return r;
        if (!streq_ptr(cd.media_type, MT_OCI_CONFIG) && !streq_ptr(cd.media_type, MT_DOCKER_CONFIG))
                return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE),
                                       "Manifest %s is not a container image (config media type '%.80s').", md.digest,
                                       cd.media_type ?: "none");
        _cleanup_json_ json_object *config = NULL;
        r = read_blob_json(s, &cd, "config", &config);
        if (r < 0)
                return r;
        r = check_config_platform(config, platform);
        if (r < 0)
                return r;

        json_object *layers = jget(manifest, "layers", json_type_array);
        _cleanup_strv_free_ char **diff_ids = NULL;
        if (!layers || jstrv(jget(config, "rootfs", json_type_object), "diff_ids", &diff_ids) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The image has no layer list or no diff_ids.");
        size_t n = json_object_array_length(layers);
        if (strv_length(diff_ids) != n)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The image has %zu layers but %zu diff_ids.", n,
                                       strv_length(diff_ids));
        for (size_t i = 0; i < n; i++) {
                Descriptor ld;
                _cleanup_free_ char *what = xasprintf("layer %zu/%zu", i + 1, n);
                r = descriptor_parse(json_object_array_get_idx(layers, i), what, &ld);
                if (r < 0)
                        return r;
                LayerCompression comp = layer_compression(ld.media_type);
                if (comp == _LAYER_COMPRESSION_MAX)
                        return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE), "%s: unsupported media type '%.80s'.",
                                               what, ld.media_type ?: "none");
                _cleanup_free_ char *sd = short_digest(ld.digest), *path = blob_path(ld.digest);
                _cleanup_free_ char *label = xasprintf("layer %zu/%zu (%s)", i + 1, n, sd);
                LayerSpec spec = {
                        .label = label, .index = (unsigned) i + 1, .count = (unsigned) n, .compression = comp,
                        .digest = ld.digest, .size = ld.size, .diff_id = diff_ids[i], .whiteouts = true,
                        .progress = o->progress, .limit = limit,
                };
                r = apply_one(s, rootfd, path, &spec);
                if (r < 0)
                        return r;
        }
        *ret_info = xasprintf("MANIFEST=%s\nCONFIG=%s\n", md.digest, cd.digest);
        *ret_config = TAKE_PTR(config);
        return 0;
}

/* A docker reference as docker itself compares them: "busybox",
 * "library/busybox:latest" and "docker.io/library/busybox:latest" are one. */
static char *docker_ref_normalize(const char *ref) {
        const char *r = startswith(ref, "docker.io/") ?: ref;
        r = startswith(r, "library/") ?: r;
        const char *slash = strrchr(r, '/');
        bool tagged = strchr(slash ? slash : r, ':') || strchr(r, '@');
        return xasprintf("%s%s", r, tagged ? "" : ":latest");
}

static bool docker_tag_matches(json_object *entry, const char *ref) {
        json_object *tags = jget(entry, "RepoTags", json_type_array);
        _cleanup_free_ char *want = docker_ref_normalize(ref);
        for (size_t i = 0; tags && i < json_object_array_length(tags); i++) {
                json_object *t = json_object_array_get_idx(tags, i);
                if (!json_object_is_type(t, json_type_string))
                        continue;
                _cleanup_free_ char *have = docker_ref_normalize(json_object_get_string(t));
                if (streq(have, want))
                        return true;
        }
        return false;
}

/* "<hex>.json", "blobs/sha256/<hex>": the name promises a digest. */
static char *digest_from_name(const char *name) {
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        _cleanup_free_ char *d = xasprintf("sha256:%.*s", (int) strcspn(base, "."), base);
        if (digest_parse(d, NULL, NULL) < 0)
                return NULL;
        return TAKE_PTR(d);
}

static int import_docker(const Source *s, int rootfd, const ImportOptions *o, const Platform *platform,
                         UnpackLimit *limit, json_object **ret_config, char **ret_info) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = source_read_file(s, "manifest.json", JSON_MAX, &buf, &len);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read manifest.json: %m", s->path);
        /* The docker manifest is an array: wrap it to reuse the object check. */
        _cleanup_free_ char *wrapped = xasprintf("{\"m\":%s}", buf);
        _cleanup_json_ json_object *top = NULL;
        r = json_parse("manifest.json", wrapped, strlen(wrapped), &top);
        if (r < 0)
                return r;
        json_object *list = jget(top, "m", json_type_array);
        if (!list || json_object_array_length(list) == 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: manifest.json lists no image.", s->path);
        json_object *entry = NULL;
        size_t n_list = json_object_array_length(list);
        for (size_t i = 0; i < n_list; i++) {
                json_object *e = json_object_array_get_idx(list, i);
                if (!o->ref || docker_tag_matches(e, o->ref)) {
                        if (entry && !o->ref)
                                return log_error_errno(SYNTHETIC_ERRNO(ESRCH),
                                                       "%s holds several images; choose one with --ref TAG.", s->path);
                        if (!entry)
                                entry = e;
                }
        }
        if (!entry)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "%s has no image tagged '%s'.", s->path, o->ref);

        const char *config_name = jstr(entry, "Config");
        _cleanup_strv_free_ char **layers = NULL;
        if (!config_name || jstrv(entry, "Layers", &layers) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: manifest.json entry without Config or Layers.",
                                       s->path);
        _cleanup_free_ char *cbuf = NULL;
        r = source_read_file(s, config_name, JSON_MAX, &cbuf, &len);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the image config %.80s: %m", s->path, config_name);
        _cleanup_free_ char *config_digest = digest_from_name(config_name);
        if (config_digest) {
                char got[DIGEST_STRING_MAX];
                digest_buffer(DIGEST_SHA256, cbuf, len, got);
                if (!streq(got, config_digest))
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "config %s: digest mismatch: it is %s.",
                                               config_digest, got);
        }
        _cleanup_json_ json_object *config = NULL;
        r = json_parse("the image config", cbuf, len, &config);
        if (r < 0)
                return r;
        r = check_config_platform(config, platform);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **diff_ids = NULL;
        if (jstrv(jget(config, "rootfs", json_type_object), "diff_ids", &diff_ids) < 0 ||
            strv_length(diff_ids) != strv_length(layers))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The image has %zu layers but %zu diff_ids.",
                                       strv_length(layers), strv_length(diff_ids));
        size_t n = strv_length(layers);
        for (size_t i = 0; i < n; i++) {
                /* Docker >= 25 names layers by digest: then check that too. */
                _cleanup_free_ char *digest = startswith(layers[i], "blobs/") ? digest_from_name(layers[i]) : NULL;
                _cleanup_free_ char *label = xasprintf("layer %zu/%zu (%.60s)", i + 1, n, layers[i]);
                LayerSpec spec = {
                        .label = label, .index = (unsigned) i + 1, .count = (unsigned) n,
                        .compression = LAYER_COMPRESSION_DETECT, .digest = digest, .size = -1,
                        .diff_id = diff_ids[i], .whiteouts = true, .progress = o->progress, .limit = limit,
                };
                r = apply_one(s, rootfd, layers[i], &spec);
                if (r < 0)
                        return r;
        }
        *ret_info = config_digest ? xasprintf("CONFIG=%s\n", config_digest) : xstrdup("");
        *ret_config = TAKE_PTR(config);
        return 0;
}

static int import_rootfs_tar(const Source *s, int rootfd, const ImportOptions *o, UnpackLimit *limit) {
        LayerSpec spec = {
                .label = s->path, .index = 1, .count = 1, .compression = LAYER_COMPRESSION_DETECT, .size = -1,
                .whiteouts = false, .progress = o->progress, .limit = limit,
        };
        return apply_one(s, rootfd, "", &spec);
}

static int copy_tree(const char *from, const char *to) {
        _cleanup_free_ char *src = xasprintf("%s/.", from);
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0) {
                execl("/bin/cp", "cp", "-a", "--reflink=auto", "--", src, to, (char *) NULL);
                _exit(127);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Copying %s failed.", from);
        return 0;
}

static int import_bundle(const Source *s, const char *rootfs, ImageExec *ret_exec, char **ret_info) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = source_read_file(s, "config.json", JSON_MAX, &buf, &len);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read config.json: %m", s->path);
        _cleanup_json_ json_object *cfg = NULL;
        r = json_parse("config.json", buf, len, &cfg);
        if (r < 0)
                return r;
        const char *root = jstr(jget(cfg, "root", json_type_object), "path") ?: "rootfs";
        if (root[0] == '/' || path_has_dotdot(root))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: root.path '%.80s' must be relative and inside the bundle.", root);
        _cleanup_close_ int rfd = chase_in_root(s->dirfd, root, CHASE_NO_SYMLINKS, O_RDONLY | O_DIRECTORY, 0);
        if (rfd < 0)
                return log_error_errno(rfd, "%s: root directory '%.80s': %m", s->path, root);
        _cleanup_free_ char *from = xasprintf("%s/%s", s->path, root);
        r = copy_tree(from, rootfs);
        if (r < 0)
                return r;

        json_object *proc = jget(cfg, "process", json_type_object);
        ImageExec ie = {};
        if (jstrv(proc, "args", &ie.args) < 0 || jstrv(proc, "env", &ie.env) < 0) {
                image_exec_done(&ie);
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "config.json: process.args or env is not a list of strings.");
        }
        ie.cwd = strdup_or_null(jstr(proc, "cwd"));
        json_object *user = jget(proc, "user", json_type_object);
        json_object *uid = jget(user, "uid", json_type_int), *gid = jget(user, "gid", json_type_int);
        if (uid)
                ie.user = xasprintf("%" PRIi64 ":%" PRIi64, json_object_get_int64(uid), gid ? json_object_get_int64(gid) : 0);
        ie.hostname = strdup_or_null(jstr(cfg, "hostname"));
        *ret_exec = ie;
        *ret_info = xstrdup("");
        return 0;
}

int oci_import(const char *source, const char *rootfs, const char *outdir, const ImportOptions *o) {
        _cleanup_(source_done) Source s = SOURCE_INIT;
        int r = source_open(source, &s);
        if (r < 0)
                return r;

        Platform platform = {};
        if (o->platform) {
                if (platform_parse(o->platform, &platform.os, &platform.arch, &platform.variant) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(ENXIO), "--platform wants OS/ARCH[/VARIANT], not '%s'.",
                                               o->platform);
        } else
                platform_host(&platform);

        _cleanup_close_ int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rootfd < 0) {
                platform_done(&platform);
                return log_error_errno(errno, "Cannot open %s: %m", rootfs);
        }

        _cleanup_json_ json_object *config = NULL;
        _cleanup_free_ char *info = NULL;
        _cleanup_(image_exec_done) ImageExec ie = {};
        bool have_exec = false;
        /* One budget for all layers: the tree is what reaches the disk. */
        UnpackLimit limit = UNPACK_LIMIT_INIT(o->max_size, rootfd);
        switch (s.kind) {
        case SOURCE_OCI_LAYOUT:
        case SOURCE_OCI_ARCHIVE:
                r = import_oci(&s, rootfd, o, &platform, &limit, &config, &info);
                break;
        case SOURCE_DOCKER_ARCHIVE:
                r = import_docker(&s, rootfd, o, &platform, &limit, &config, &info);
                break;
        case SOURCE_ROOTFS_TAR:
                r = import_rootfs_tar(&s, rootfd, o, &limit);
                info = xstrdup("");
                break;
        case SOURCE_BUNDLE:
                r = import_bundle(&s, rootfs, &ie, &info);
                have_exec = r >= 0;
                break;
        default:
                r = -EINVAL;
        }
        _cleanup_free_ char *pstr = platform_string(platform.os, platform.arch, platform.variant);
        platform_done(&platform);
        if (r < 0)
                return r;
        if (config) {
                r = image_exec_from_config(config, &ie);
                if (r < 0)
                        return r;
                have_exec = true;
        }

        _cleanup_(machine_config_done) MachineConfig mc = {};
        machine_config_init(&mc);
        const char *mode = "boot";
        if (have_exec) {
                r = exec_to_config(rootfd, &ie, o->boot, &mc, &mode);
                if (r < 0)
                        return r;
        } else if (o->boot == IMPORT_BOOT_NO)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--boot=no needs an image with a command; %s has none.",
                                       source);

        _cleanup_free_ char *all = xasprintf("SOURCE_KIND=%s\n%sPLATFORM=%s\nMODE=%s\n%s%s%s",
                                             source_kind_to_string(s.kind), info, pstr, mode,
                                             ie.ports ? "PORTS=" : "", ie.ports ?: "", ie.ports ? "\n" : "");
        return write_results(outdir, &mc, all);
}

void oci_fuzz_json(const char *text, size_t len, int rootfd) {
        _cleanup_json_ json_object *o = NULL;
        if (json_parse("fuzz", text, len, &o) < 0)
                return;

        ImportOptions opts = { .ref = "latest", .max_size = UINT64_MAX };
        _cleanup_(selection_done) Selection sel = { .options = &opts };
        platform_host(&sel.platform);
        (void) select_in_index(&sel, o, 0);

        json_object *layers = jget(o, "layers", json_type_array);
        for (size_t i = 0; layers && i < json_object_array_length(layers); i++) {
                Descriptor d;
                if (descriptor_parse(json_object_array_get_idx(layers, i), "fuzz", &d) >= 0)
                        (void) layer_compression(d.media_type);
        }

        _cleanup_(image_exec_done) ImageExec ie = {};
        if (image_exec_from_config(o, &ie) < 0)
                return;
        _cleanup_(machine_config_done) MachineConfig mc = {};
        machine_config_init(&mc);
        const char *mode;
        for (ImportBoot b = IMPORT_BOOT_AUTO; b <= IMPORT_BOOT_NO; b++) {
                machine_config_done(&mc);
                machine_config_init(&mc);
                if (exec_to_config(rootfd, &ie, b, &mc, &mode) < 0)
                        continue;
                _cleanup_free_ char *frag = machine_config_format(&mc, mc.set_mask), *err = NULL;
                _cleanup_(machine_config_done) MachineConfig back = {};
                machine_config_init(&back);
                if (machine_config_parse_text(&back, frag, strlen(frag), "fragment", CONFIG_SOURCE_MACHINE, true,
                                              &err) < 0)
                        abort();
        }
}
