/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "export.h"
#include "fs.h"
#include "idmap.h"
#include "image-store.h"
#include "log.h"
#include "oci-internal.h"
#include "util.h"

#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name" /* as oci-json.c reads it */
#define MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_LAYER "application/vnd.oci.image.layer.v1.tar"
/* Warnings for left-out entries; then only a count. */
#define SKIP_WARNINGS_MAX 10

static const char *const format_names[_EXPORT_FORMAT_MAX] = {
        [EXPORT_TAR] = "tar",
        [EXPORT_TAR_GZ] = "tar.gz",
        [EXPORT_TAR_ZST] = "tar.zst",
        [EXPORT_TAR_XZ] = "tar.xz",
        [EXPORT_OCI_ARCHIVE] = "oci-archive",
        [EXPORT_OCI_STORE] = "oci-store",
};

ExportFormat export_format_from_string(const char *s) {
        for (int f = 0; f < _EXPORT_FORMAT_MAX; f++)
                if (streq(s, format_names[f]))
                        return (ExportFormat) f;
        return _EXPORT_FORMAT_INVALID;
}

const char *export_format_to_string(ExportFormat f) {
        return f >= 0 && f < _EXPORT_FORMAT_MAX ? format_names[f] : NULL;
}

static bool endswith(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n > m && streq(s + n - m, suffix);
}

ExportFormat export_format_from_path(const char *path) {
        static const struct {
                const char *suffix;
                ExportFormat format;
        } map[] = {
                { ".tar", EXPORT_TAR },         { ".tar.gz", EXPORT_TAR_GZ }, { ".tgz", EXPORT_TAR_GZ },
                { ".tar.zst", EXPORT_TAR_ZST }, { ".tzst", EXPORT_TAR_ZST },  { ".tar.xz", EXPORT_TAR_XZ },
                { ".txz", EXPORT_TAR_XZ },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (endswith(path, map[i].suffix))
                        return map[i].format;
        return _EXPORT_FORMAT_INVALID;
}

static void archive_read_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}
static void archive_write_freep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}
static void archive_entry_freep(struct archive_entry **e) {
        if (*e)
                archive_entry_free(*e);
}
static void linkresolver_freep(struct archive_entry_linkresolver **l) {
        if (*l)
                archive_entry_linkresolver_free(*l);
}

/* Where the archive's bytes go: a file, hashed on the way (the OCI layer's
 * digest is that of exactly these bytes). */
typedef struct Sink {
        int fd;
        Digest *digest; /* NULL: not hashed */
        uint64_t size;
} Sink;

static la_ssize_t sink_write(struct archive *a, void *userdata, const void *buf, size_t len) {
        Sink *s = userdata;
        size_t done = 0;
        while (done < len) {
                ssize_t n = write(s->fd, (const char *) buf + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        archive_set_error(a, errno, "write: %s", strerror(errno));
                        return -1;
                }
                done += (size_t) n;
        }
        if (s->digest)
                digest_update(s->digest, buf, len);
        s->size += len;
        return (la_ssize_t) len;
}

static uid_t unshift(uid_t id, uid_t shift) {
        return shift > 0 && id >= shift && id - shift < USERNS_RANGE_SIZE ? id - shift : id;
}

/* The entry as the guest sees it: owners unshifted, no overlayfs xattrs. */
static void entry_for_guest(struct archive_entry *e, uid_t shift) {
        archive_entry_set_uid(e, unshift((uid_t) archive_entry_uid(e), shift));
        archive_entry_set_gid(e, unshift((uid_t) archive_entry_gid(e), shift));
        archive_entry_set_uname(e, NULL);
        archive_entry_set_gname(e, NULL);
        if (archive_entry_xattr_reset(e) == 0)
                return;
        /* Keep the others: collect them first, the list is rebuilt. */
        typedef struct {
                char *name;
                void *value;
                size_t size;
        } X;
        X *keep = NULL;
        size_t n = 0;
        const char *name;
        const void *value;
        size_t size;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                if (strstr(name, ".overlay."))
                        continue;
                keep = realloc(keep, (n + 1) * sizeof(X));
                if (!keep)
                        abort();
                void *v = malloc(size ?: 1);
                if (!v)
                        abort();
                memcpy(v, value, size);
                keep[n++] = (X) { xstrdup(name), v, size };
        }
        archive_entry_xattr_clear(e);
        for (size_t i = 0; i < n; i++) {
                archive_entry_xattr_add_entry(e, keep[i].name, keep[i].value, keep[i].size);
                free(keep[i].name);
                free(keep[i].value);
        }
        free(keep);
}

/* Copy the data of the current entry of DISK to OUT. */
static int copy_data(struct archive *disk, struct archive *out, const char *name) {
        char buf[64 * 1024];
        for (;;) {
                la_ssize_t n = archive_read_data(disk, buf, sizeof buf);
                if (n == 0)
                        return 0;
                if (n < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to read '%s': %s", name,
                                               archive_error_string(disk));
                if (archive_write_data(out, buf, (size_t) n) != n)
                        return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to write '%s': %s", name,
                                               archive_error_string(out));
        }
}

/* Walk the tree at ROOT_FD into the tar writer OUT (opened). */
static int write_tree(int root_fd, struct archive *out, uid_t shift) {
        /* libarchive walks paths: from "." after entering the tree, so that
         * nothing above it is ever looked at. */
        _cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0)
                return log_error_errno(errno, "Failed to open the working directory: %m");
        if (fchdir(root_fd) < 0)
                return log_error_errno(errno, "Failed to enter the tree: %m");
        _cleanup_(archive_read_freep) struct archive *disk = archive_read_disk_new();
        _cleanup_(linkresolver_freep) struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
        if (!disk || !links)
                abort();
        archive_entry_linkresolver_set_strategy(links, archive_format(out));
        archive_read_disk_set_symlink_physical(disk);
        /* Sparse entries are a pax extension not every reader takes. */
        archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_SPARSE | ARCHIVE_READDISK_NO_FFLAGS);
        int r = 0;
        unsigned skipped = 0;
        if (archive_read_disk_open(disk, ".") != ARCHIVE_OK)
                r = log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to open the tree: %s", archive_error_string(disk));
        while (r >= 0) {
                _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
                if (!e)
                        abort();
                int k = archive_read_next_header2(disk, e);
                if (k == ARCHIVE_EOF)
                        break;
                const char *name = archive_entry_pathname(e) ?: "?";
                if (k < ARCHIVE_WARN) {
                        r = log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to read '%s': %s", name,
                                            archive_error_string(disk));
                        break;
                }
                if (k == ARCHIVE_WARN)
                        log_warning("%s: %s", name, archive_error_string(disk));
                (void) archive_read_disk_descend(disk);
                if (archive_entry_filetype(e) == AE_IFSOCK) {
                        if (skipped++ < SKIP_WARNINGS_MAX) {
                                _cleanup_free_ char *p = strdup_printable(name);
                                log_warning("Leaving out socket '%s': no archive holds sockets.", p);
                        }
                        continue;
                }
                entry_for_guest(e, shift);
                struct archive_entry *sparse = NULL;
                archive_entry_linkify(links, &e, &sparse);
                /* Tar keeps the first of a set of hard links with its data and
                 * writes the later ones as links to it (size 0): never deferred. */
                if (!e)
                        continue;
                k = archive_write_header(out, e);
                if (k < ARCHIVE_WARN) {
                        r = log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to write '%s': %s", name,
                                            archive_error_string(out));
                        break;
                }
                if (k == ARCHIVE_WARN)
                        log_warning("%s: %s", name, archive_error_string(out));
                if (archive_entry_size(e) > 0)
                        r = copy_data(disk, out, name);
        }
        if (skipped > SKIP_WARNINGS_MAX)
                log_warning("%u sockets left out in all.", skipped);
        (void) archive_read_close(disk);
        if (fchdir(cwd) < 0 && r >= 0)
                r = log_error_errno(errno, "Failed to return to the working directory: %m");
        return r;
}

/* A tar writer on SINK: pax (long names, big IDs, xattrs), with FILTER. */
static struct archive *tar_writer(Sink *sink, ExportFormat format) {
        struct archive *a = archive_write_new();
        if (!a)
                abort();
        (void) archive_write_set_format_pax_restricted(a);
        int r = ARCHIVE_OK;
        switch (format) {
        case EXPORT_TAR_GZ:
                r = archive_write_add_filter_gzip(a);
                break;
        case EXPORT_TAR_ZST:
                r = archive_write_add_filter_zstd(a);
                break;
        case EXPORT_TAR_XZ:
                r = archive_write_add_filter_xz(a);
                break;
        case EXPORT_TAR:
        case EXPORT_OCI_ARCHIVE:
        case _EXPORT_FORMAT_MAX:
        case _EXPORT_FORMAT_INVALID:
        default:
                (void) archive_write_add_filter_none(a);
                break;
        }
        /* Whole blocks, but no padding of the last one to 10 KiB. */
        if (r == ARCHIVE_OK)
                r = archive_write_set_bytes_in_last_block(a, 1);
        if (r == ARCHIVE_OK)
                r = archive_write_open2(a, sink, NULL, sink_write, NULL, NULL);
        if (r != ARCHIVE_OK) {
                log_error("Failed to set up the archive: %s", archive_error_string(a));
                archive_write_free(a);
                return NULL;
        }
        return a;
}

static int tar_finish(struct archive *a) {
        if (archive_write_close(a) != ARCHIVE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to finish the archive: %s",
                                       archive_error_string(a));
        return 0;
}

/* ----- oci-archive ----- */

static json_object *descriptor(const char *media_type, const char *digest, uint64_t size) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "mediaType", json_object_new_string(media_type));
        json_object_object_add(d, "digest", json_object_new_string(digest));
        json_object_object_add(d, "size", json_object_new_int64((int64_t) size));
        return d;
}

static char *json_text(json_object *o) {
        return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* A file or dir entry of the layout (root-owned, as image tools write them). */
static int layout_header(struct archive *out, const char *path, mode_t type, uint64_t size, time_t mtime) {
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
        if (!e)
                abort();
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_size(e, type == AE_IFDIR ? 0 : (la_int64_t) size);
        archive_entry_set_mtime(e, mtime, 0);
        if (archive_write_header(out, e) != ARCHIVE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to write '%s': %s", path,
                                       archive_error_string(out));
        return 0;
}

static int layout_file(struct archive *out, const char *path, const char *text, time_t mtime) {
        size_t len = strlen(text);
        int r = layout_header(out, path, AE_IFREG, len, mtime);
        if (r >= 0 && archive_write_data(out, text, len) != (la_ssize_t) len)
                r = log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to write '%s': %s", path, archive_error_string(out));
        return r;
}

/* The layer tar (FD, SIZE bytes, at its start) as the blob DIGEST. */
static int layout_layer(struct archive *out, int fd, const char *digest, uint64_t size, time_t mtime) {
        _cleanup_free_ char *path = blob_path(digest);
        int r = layout_header(out, path, AE_IFREG, size, mtime);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return log_error_errno(errno, "Failed to rewind the layer: %m");
        char buf[64 * 1024];
        uint64_t left = size;
        while (left > 0) {
                ssize_t n = read(fd, buf, left < sizeof buf ? (size_t) left : sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return log_error_errno(errno, "Failed to read the layer back: %m");
                if (n == 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EIO), "The layer shrank while it was copied.");
                if (archive_write_data(out, buf, (size_t) n) != n)
                        return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to write the layer: %s",
                                               archive_error_string(out));
                left -= (uint64_t) n;
        }
        return 0;
}

/* The image (manifest, config, the layer in LAYER_FD) into the store as
 * O->ref: the blobs linked in first, then the index entry. */
static int store_image(const ExportOptions *o, const char *manifest_digest, const char *manifest_text,
                       const char *config_digest, const char *config_text, int layer_fd, const char *layer_digest,
                       uint64_t layer_size, const char *created) {
        /* Blobs by their hex names in blobs/sha256 (all three are sha256). */
        _cleanup_close_ int blobs = open_dir_nofollow(o->store_fd, "blobs/sha256");
        int r = blobs < 0 ? blobs : 0;
        if (r >= 0 && !image_store_has_blob(o->store_fd, layer_digest)) {
                /* By its /proc path: AT_EMPTY_PATH would want CAP_DAC_READ_SEARCH. */
                char proc[64];
                snprintf(proc, sizeof proc, "/proc/self/fd/%d", layer_fd);
                if (fsync(layer_fd) < 0 ||
                    linkat(AT_FDCWD, proc, blobs, strchr(layer_digest, ':') + 1, AT_SYMLINK_FOLLOW) < 0)
                        r = -errno;
        }
        if (r >= 0)
                r = write_file_atomic_at(blobs, strchr(config_digest, ':') + 1, config_text, strlen(config_text), 0644);
        if (r >= 0)
                r = write_file_atomic_at(blobs, strchr(manifest_digest, ':') + 1, manifest_text,
                                         strlen(manifest_text), 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to store the image's blobs: %m");
        Platform p = {};
        platform_host(&p);
        ImageEntry e = { .ref = (char *) o->ref, .digest = (char *) manifest_digest,
                         .media_type = (char *) MEDIA_MANIFEST, .size = (int64_t) strlen(manifest_text),
                         .os = p.os, .arch = p.arch, .variant = p.variant, .created = (char *) created,
                         .total = strlen(manifest_text) + strlen(config_text) + layer_size };
        r = image_store_set(o->store_fd, &e);
        platform_done(&p);
        if (r < 0) {
                /* Linked but not listed: take them away again. */
                (void) image_store_gc(o->store_fd, NULL);
                return log_error_errno(r, "Failed to add %s to the image store: %m", o->ref);
        }
        return 0;
}

static int export_oci(int root_fd, int out_fd, const ExportOptions *o) {
        /* The layer first, into an unnamed file: its digest names it. */
        _cleanup_close_ int tmp = o->layer_fd >= 0 ? fcntl(o->layer_fd, F_DUPFD_CLOEXEC, 3)
                                : openat(o->scratch_dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (tmp < 0)
                return log_error_errno(errno, "Failed to make a temporary file for the layer: %m");
        _cleanup_(digest_freep) Digest *ld = digest_new(DIGEST_SHA256);
        Sink layer = { .fd = tmp, .digest = ld };
        _cleanup_(archive_write_freep) struct archive *la = tar_writer(&layer, EXPORT_TAR);
        if (!la)
                return -EIO;
        int r = write_tree(root_fd, la, o->shift);
        if (r >= 0)
                r = tar_finish(la);
        if (r < 0)
                return r;
        char layer_digest[DIGEST_STRING_MAX];
        digest_finish(ld, layer_digest);

        time_t now = time(NULL);
        char created[64];
        struct tm tm;
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        Platform p = {};
        platform_host(&p);

        _cleanup_json_ json_object *config = json_object_new_object();
        json_object_object_add(config, "created", json_object_new_string(created));
        json_object_object_add(config, "architecture", json_object_new_string(p.arch));
        if (p.variant)
                json_object_object_add(config, "variant", json_object_new_string(p.variant));
        json_object_object_add(config, "os", json_object_new_string(p.os));
        json_object *cc = json_object_new_object(), *env = json_object_new_array();
        json_object_array_add(env, json_object_new_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        json_object_object_add(cc, "Env", env);
        json_object_object_add(config, "config", cc);
        json_object *rootfs = json_object_new_object(), *diff_ids = json_object_new_array();
        json_object_object_add(rootfs, "type", json_object_new_string("layers"));
        /* An uncompressed layer: its diff ID is its digest. */
        json_object_array_add(diff_ids, json_object_new_string(layer_digest));
        json_object_object_add(rootfs, "diff_ids", diff_ids);
        json_object_object_add(config, "rootfs", rootfs);
        json_object *history = json_object_new_array(), *h = json_object_new_object();
        json_object_object_add(h, "created", json_object_new_string(created));
        json_object_object_add(h, "created_by", json_object_new_string("berth export"));
        json_object_array_add(history, h);
        json_object_object_add(config, "history", history);
        platform_done(&p);
        _cleanup_free_ char *config_text = json_text(config);
        char config_digest[DIGEST_STRING_MAX];
        digest_buffer(DIGEST_SHA256, config_text, strlen(config_text), config_digest);

        _cleanup_json_ json_object *manifest = json_object_new_object();
        json_object_object_add(manifest, "schemaVersion", json_object_new_int(2));
        json_object_object_add(manifest, "mediaType", json_object_new_string(MEDIA_MANIFEST));
        json_object_object_add(manifest, "config", descriptor(MEDIA_CONFIG, config_digest, strlen(config_text)));
        json_object *layers = json_object_new_array();
        json_object_array_add(layers, descriptor(MEDIA_LAYER, layer_digest, layer.size));
        json_object_object_add(manifest, "layers", layers);
        _cleanup_free_ char *manifest_text = json_text(manifest);
        char manifest_digest[DIGEST_STRING_MAX];
        digest_buffer(DIGEST_SHA256, manifest_text, strlen(manifest_text), manifest_digest);

        _cleanup_json_ json_object *index = json_object_new_object();
        json_object_object_add(index, "schemaVersion", json_object_new_int(2));
        json_object_object_add(index, "mediaType", json_object_new_string("application/vnd.oci.image.index.v1+json"));
        json_object *manifests = json_object_new_array();
        json_object *md = descriptor(MEDIA_MANIFEST, manifest_digest, strlen(manifest_text));
        if (o->ref) {
                json_object *ann = json_object_new_object();
                json_object_object_add(ann, REF_NAME_ANNOTATION, json_object_new_string(o->ref));
                json_object_object_add(md, "annotations", ann);
        }
        json_object_array_add(manifests, md);
        json_object_object_add(index, "manifests", manifests);
        _cleanup_free_ char *index_text = json_text(index);
        if (o->format == EXPORT_OCI_STORE)
                return store_image(o, manifest_digest, manifest_text, config_digest, config_text, tmp, layer_digest,
                                   layer.size, created);

        Sink sink = { .fd = out_fd };
        _cleanup_(archive_write_freep) struct archive *out = tar_writer(&sink, EXPORT_TAR);
        if (!out)
                return -EIO;
        _cleanup_free_ char *config_path = blob_path(config_digest), *manifest_path = blob_path(manifest_digest);
        r = layout_file(out, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", now);
        if (r >= 0)
                r = layout_file(out, "index.json", index_text, now);
        if (r >= 0)
                r = layout_header(out, "blobs", AE_IFDIR, 0, now);
        if (r >= 0)
                r = layout_header(out, "blobs/sha256", AE_IFDIR, 0, now);
        if (r >= 0)
                r = layout_file(out, manifest_path, manifest_text, now);
        if (r >= 0)
                r = layout_file(out, config_path, config_text, now);
        if (r >= 0)
                r = layout_layer(out, tmp, layer_digest, layer.size, now);
        if (r >= 0)
                r = tar_finish(out);
        return r;
}

int export_rootfs(int root_fd, int out_fd, const ExportOptions *o) {
        if (o->format == EXPORT_OCI_ARCHIVE || o->format == EXPORT_OCI_STORE)
                return export_oci(root_fd, out_fd, o);
        Sink sink = { .fd = out_fd };
        _cleanup_(archive_write_freep) struct archive *out = tar_writer(&sink, o->format);
        if (!out)
                return -EIO;
        int r = write_tree(root_fd, out, o->shift);
        if (r >= 0)
                r = tar_finish(out);
        return r;
}
