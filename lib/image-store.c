/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "fs.h"
#include "image-ref.h"
#include "image-store.h"
#include "log.h"
#include "util.h"

#define MANIFEST_MAX (4u << 20)
#define NESTING_MAX 4

static const char *const blob_algs[] = { "sha256", "sha512" };

void image_entries_free(ImageEntry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(e[i].ref);
                free(e[i].digest);
                free(e[i].media_type);
                free(e[i].os);
                free(e[i].arch);
                free(e[i].variant);
                free(e[i].created);
        }
        free(e);
}

int image_store_lock(int images_fd, bool exclusive) {
        int fd = lock_file_at(images_fd, IMAGE_STORE_LOCK, exclusive, false);
        if (fd == -EWOULDBLOCK) {
                log_info("Waiting for another berth pull or rmi to finish...");
                fd = lock_file_at(images_fd, IMAGE_STORE_LOCK, exclusive, true);
        }
        if (fd < 0)
                return log_error_errno(fd, "Failed to lock the image store: %m");
        return fd;
}

char *image_store_blob_path(const char *digest) {
        const char *colon = strchr(digest, ':');
        return xasprintf("blobs/%.*s/%s", (int) (colon - digest), digest, colon + 1);
}

bool image_store_has_blob(int images_fd, const char *digest) {
        _cleanup_free_ char *p = image_store_blob_path(digest);
        struct stat st;
        return fstatat(images_fd, p, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode);
}

static const char empty_index[] = "{\"schemaVersion\":2,\"manifests\":[]}\n";

int image_store_prepare(int images_fd) {
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}\n";
        int r = 0;
        for (size_t i = 0; i < ELEMENTSOF(blob_algs) && r >= 0; i++) {
                _cleanup_free_ char *d = xasprintf("blobs/%s", blob_algs[i]);
                r = mkdir_p_at(images_fd, d, 0700);
        }
        if (r >= 0 && faccessat(images_fd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                r = write_file_atomic_at(images_fd, "oci-layout", layout, strlen(layout), 0644);
        if (r >= 0 && faccessat(images_fd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                r = write_file_atomic_at(images_fd, "index.json", empty_index, strlen(empty_index), 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the image store: %m");
        return 0;
}

static json_object *jget(json_object *o, const char *key, json_type t) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
                return NULL;
        return v;
}

static char *jdup(json_object *o, const char *key) {
        json_object *v = jget(o, key, json_type_string);
        return v ? xstrdup(json_object_get_string(v)) : NULL;
}

static int read_json(int dirfd, const char *name, size_t max, json_object **ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(dirfd, name, max, &text, NULL);
        if (r < 0)
                return r;
        json_object *o = json_tokener_parse(text);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

static int read_index(int images_fd, json_object **ret) {
        int r = read_json(images_fd, "index.json", IMAGE_STORE_INDEX_MAX, ret);
        if (r == -ENOENT) {
                *ret = json_tokener_parse(empty_index);
                return 0;
        }
        if (r < 0 || !jget(*ret, "manifests", json_type_array)) {
                if (r >= 0)
                        json_object_put(*ret);
                return log_error_errno(r < 0 ? r : SYNTHETIC_ERRNO(EBADMSG),
                                       "Cannot read the image store's index.json: %s",
                                       r == -EBADMSG || r >= 0 ? "not an image index" : strerror(-r));
        }
        return 0;
}

static int write_index(int images_fd, json_object *index) {
        const char *text = json_object_to_json_string_ext(index,
                                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        _cleanup_free_ char *t = xasprintf("%s\n", text);
        int r = write_file_atomic_at(images_fd, "index.json", t, strlen(t), 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write the image store's index.json: %m");
        return 0;
}

int image_store_read(int images_fd, ImageEntry **ret, size_t *ret_n) {
        json_object *index;
        int r = read_index(images_fd, &index);
        if (r < 0)
                return r;
        json_object *m = jget(index, "manifests", json_type_array);
        size_t n = json_object_array_length(m), k = 0;
        ImageEntry *e = xcalloc(n + 1, sizeof *e);
        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(m, i);
                json_object *ann = jget(d, "annotations", json_type_object);
                json_object *p = jget(d, "platform", json_type_object);
                json_object *size = jget(d, "size", json_type_int);
                char *ref = jdup(ann, ANNOTATION_REF_NAME), *digest = jdup(d, "digest");
                if (!ref || !digest || !image_digest_valid(digest)) {
                        free(ref);
                        free(digest);
                        continue; /* not ours to show */
                }
                uint64_t total = 0;
                _cleanup_free_ char *t = jdup(ann, ANNOTATION_SIZE);
                if (t)
                        (void) safe_atou64(t, &total);
                e[k++] = (ImageEntry) {
                        .ref = ref,
                        .digest = digest,
                        .media_type = jdup(d, "mediaType"),
                        .size = size ? json_object_get_int64(size) : -1,
                        .os = jdup(p, "os"),
                        .arch = jdup(p, "architecture"),
                        .variant = jdup(p, "variant"),
                        .created = jdup(ann, ANNOTATION_CREATED),
                        .total = total,
                };
        }
        json_object_put(index);
        *ret = e;
        *ret_n = k;
        return 0;
}

/* Drop the entries named REF from INDEX's manifests; how many went. */
static size_t drop_ref(json_object *index, const char *ref) {
        json_object *m = jget(index, "manifests", json_type_array);
        size_t dropped = 0;
        for (size_t i = json_object_array_length(m); i > 0; i--) {
                json_object *d = json_object_array_get_idx(m, i - 1);
                json_object *ann = jget(d, "annotations", json_type_object);
                json_object *v = jget(ann, ANNOTATION_REF_NAME, json_type_string);
                if (v && streq(json_object_get_string(v), ref)) {
                        (void) json_object_array_del_idx(m, i - 1, 1);
                        dropped++;
                }
        }
        return dropped;
}

int image_store_find(int images_fd, const char *ref, char **ret_digest) {
        ImageEntry *e = NULL;
        size_t n = 0;
        int r = image_store_read(images_fd, &e, &n);
        if (r < 0)
                return r;
        char *d = NULL;
        for (size_t i = 0; i < n && !d; i++)
                if (streq(e[i].ref, ref))
                        d = xstrdup(e[i].digest);
        image_entries_free(e, n);
        *ret_digest = d;
        return 0;
}

int image_store_set(int images_fd, const ImageEntry *e) {
        json_object *index;
        int r = read_index(images_fd, &index);
        if (r < 0)
                return r;
        (void) drop_ref(index, e->ref);
        json_object *d = json_object_new_object();
        json_object_object_add(d, "mediaType", json_object_new_string(e->media_type));
        json_object_object_add(d, "digest", json_object_new_string(e->digest));
        json_object_object_add(d, "size", json_object_new_int64(e->size));
        if (e->os && e->arch) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "architecture", json_object_new_string(e->arch));
                json_object_object_add(p, "os", json_object_new_string(e->os));
                if (e->variant)
                        json_object_object_add(p, "variant", json_object_new_string(e->variant));
                json_object_object_add(d, "platform", p);
        }
        json_object *ann = json_object_new_object();
        json_object_object_add(ann, ANNOTATION_REF_NAME, json_object_new_string(e->ref));
        if (e->created)
                json_object_object_add(ann, ANNOTATION_CREATED, json_object_new_string(e->created));
        _cleanup_free_ char *total = xasprintf("%" PRIu64, e->total);
        json_object_object_add(ann, ANNOTATION_SIZE, json_object_new_string(total));
        json_object_object_add(d, "annotations", ann);
        json_object_array_add(jget(index, "manifests", json_type_array), d);
        r = write_index(images_fd, index);
        json_object_put(index);
        return r;
}

int image_store_remove(int images_fd, const char *ref) {
        json_object *index;
        int r = read_index(images_fd, &index);
        if (r < 0)
                return r;
        if (drop_ref(index, ref) == 0)
                r = -ENOENT;
        else
                r = write_index(images_fd, index);
        json_object_put(index);
        return r;
}

/* ----- Garbage collection ----- */

static int mark_descriptor(int images_fd, json_object *d, char ***keep, unsigned depth);

static int mark_manifest(int images_fd, const char *digest, char ***keep, unsigned depth) {
        if (depth >= NESTING_MAX)
                return -ELOOP;
        _cleanup_free_ char *path = image_store_blob_path(digest);
        json_object *o;
        int r = read_json(images_fd, path, MANIFEST_MAX, &o);
        if (r == -ENOENT)
                return 0; /* nothing to keep alive */
        if (r < 0)
                return log_error_errno(r, "Cannot read manifest %s of the image store: %s; removing nothing.", digest,
                                       r == -EBADMSG ? "not JSON" : strerror(-r));
        json_object *config = jget(o, "config", json_type_object);
        if (config)
                r = mark_descriptor(images_fd, config, keep, depth + 1);
        json_object *layers = jget(o, "layers", json_type_array);
        for (size_t i = 0; r >= 0 && layers && i < json_object_array_length(layers); i++)
                r = mark_descriptor(images_fd, json_object_array_get_idx(layers, i), keep, depth + 1);
        json_object *manifests = jget(o, "manifests", json_type_array);
        for (size_t i = 0; r >= 0 && manifests && i < json_object_array_length(manifests); i++) {
                json_object *d = json_object_array_get_idx(manifests, i);
                r = mark_descriptor(images_fd, d, keep, depth + 1);
                json_object *dg = jget(d, "digest", json_type_string);
                if (r >= 0 && dg && image_digest_valid(json_object_get_string(dg)))
                        r = mark_manifest(images_fd, json_object_get_string(dg), keep, depth + 1);
        }
        json_object_put(o);
        return r;
}

static int mark_descriptor(int images_fd, json_object *d, char ***keep, unsigned depth) {
        json_object *dg = jget(d, "digest", json_type_string);
        if (!dg || !image_digest_valid(json_object_get_string(dg)))
                return 0;
        if (!strv_contains(*keep, json_object_get_string(dg)))
                *keep = strv_append(*keep, json_object_get_string(dg));
        return 0;
}

int image_store_gc(int images_fd, uint64_t *ret_freed) {
        json_object *index;
        int r = read_index(images_fd, &index);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **keep = NULL;
        json_object *m = jget(index, "manifests", json_type_array);
        for (size_t i = 0; r >= 0 && i < json_object_array_length(m); i++) {
                json_object *d = json_object_array_get_idx(m, i);
                json_object *dg = jget(d, "digest", json_type_string);
                r = mark_descriptor(images_fd, d, &keep, 0);
                if (r >= 0 && dg && image_digest_valid(json_object_get_string(dg)))
                        r = mark_manifest(images_fd, json_object_get_string(dg), &keep, 0);
        }
        json_object_put(index);
        if (r < 0)
                return r;
        uint64_t freed = 0;
        for (size_t a = 0; a < ELEMENTSOF(blob_algs); a++) {
                _cleanup_free_ char *dir = xasprintf("blobs/%s", blob_algs[a]);
                _cleanup_close_ int dfd = open_dir_nofollow(images_fd, dir);
                if (dfd == -ENOENT)
                        continue;
                if (dfd < 0)
                        return log_error_errno(dfd, "Cannot open the image store's %s: %m", dir);
                _cleanup_closedir_ DIR *dir_stream = NULL;
                r = opendir_dup(dfd, &dir_stream);
                if (r < 0)
                        return log_error_errno(r, "Cannot read the image store's %s: %m", dir);
                struct dirent *de;
                while ((de = readdir(dir_stream))) {
                        if (de->d_name[0] == '.')
                                continue;
                        _cleanup_free_ char *digest = xasprintf("%s:%s", blob_algs[a], de->d_name);
                        if (strv_contains(keep, digest))
                                continue;
                        struct stat st;
                        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode))
                                freed += (uint64_t) st.st_size;
                        r = rm_rf_at(dfd, de->d_name);
                        if (r < 0)
                                return log_error_errno(r, "Failed to remove blob %s: %m", digest);
                }
        }
        if (ret_freed)
                *ret_freed = freed;
        return 0;
}
