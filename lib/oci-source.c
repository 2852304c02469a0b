/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fs.h"
#include "log.h"
#include "oci-source.h"
#include "util.h"

static const char *const source_kind_table[_SOURCE_KIND_MAX] = {
        [SOURCE_OCI_LAYOUT] = "oci-layout",
        [SOURCE_OCI_ARCHIVE] = "oci-archive",
        [SOURCE_DOCKER_ARCHIVE] = "docker-archive",
        [SOURCE_ROOTFS_TAR] = "rootfs-tar",
        [SOURCE_BUNDLE] = "bundle",
};

const char *source_kind_to_string(SourceKind k) {
        return k >= 0 && k < _SOURCE_KIND_MAX ? source_kind_table[k] : NULL;
}

struct SourceFile {
        int fd;
        struct archive *ar;
};

SourceFile *source_file_free(SourceFile *f) {
        if (f) {
                closep(&f->fd);
                if (f->ar)
                        archive_read_free(f->ar);
                free(f);
        }
        return NULL;
}

/* "./a//b" -> "a/b" for comparing member names. */
static char *normalize(const char *name) {
        char *out = xmalloc(strlen(name) + 1), *o = out;
        for (const char *p = name; *p;) {
                const char *end = strchrnul(p, '/');
                size_t n = (size_t) (end - p);
                if (n > 0 && !(n == 1 && *p == '.')) {
                        if (o != out)
                                *o++ = '/';
                        memcpy(o, p, n);
                        o += n;
                }
                p = *end ? end + 1 : end;
        }
        *o = 0;
        return out;
}

static struct archive *archive_open(const char *path) {
        struct archive *ar = archive_read_new();
        if (!ar)
                abort();
        /* A docker save piped through gzip is still an archive we can read. */
        archive_read_support_filter_all(ar);
        archive_read_support_format_tar(ar);
        if (archive_read_open_filename(ar, path, 1 << 16) != ARCHIVE_OK) {
                log_error("%s is not an image: neither an OCI layout or bundle directory nor a tar archive (%s).",
                          path, archive_error_string(ar) ?: "unknown error");
                archive_read_free(ar);
                return NULL;
        }
        return ar;
}

static bool is_hex(const char *s, size_t n) {
        if (strlen(s) != n)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

/* Could NAME be a member of an oci-archive or docker-archive?  A plain
 * rootfs tar fails this on its first real entry, so detection stops early. */
static bool archive_vocabulary(const char *name) {
        if (!*name || streq(name, "oci-layout") || streq(name, "index.json") || streq(name, "manifest.json") ||
            streq(name, "repositories") || streq(name, "blobs") || startswith(name, "blobs/"))
                return true;
        /* docker-archive: <hex>.json, <hex>.tar, <hex>/{layer.tar,json,VERSION} */
        _cleanup_free_ char *copy = xstrdup(name);
        char *slash = strchr(copy, '/');
        if (slash) {
                *slash = 0;
                const char *rest = slash + 1;
                return is_hex(copy, 64) && (!*rest || streq(rest, "layer.tar") || streq(rest, "json") ||
                                            streq(rest, "VERSION"));
        }
        char *dot = strrchr(copy, '.');
        if (!dot || !(streq(dot, ".json") || streq(dot, ".tar")))
                return is_hex(copy, 64);
        *dot = 0;
        return is_hex(copy, 64);
}

static int detect_archive(const char *path, SourceKind *ret) {
        struct archive *ar = archive_open(path);
        if (!ar)
                return -EMEDIUMTYPE;
        bool index = false, manifest = false, plain = false;
        unsigned entries = 0;
        int r = 0;
        for (;;) {
                struct archive_entry *e;
                int ar_r = archive_read_next_header(ar, &e);
                if (ar_r == ARCHIVE_EOF)
                        break;
                if (ar_r < ARCHIVE_WARN) {
                        log_error("%s is not an image: neither an OCI layout or bundle directory nor a tar "
                                  "archive, or a damaged one (%s).",
                                  path, archive_error_string(ar) ?: "unknown error");
                        r = -EMEDIUMTYPE;
                        break;
                }
                entries++;
                _cleanup_free_ char *n = normalize(archive_entry_pathname(e) ?: "");
                index = index || streq(n, "index.json");
                manifest = manifest || streq(n, "manifest.json");
                if (!archive_vocabulary(n)) {
                        plain = true;
                        break;
                }
        }
        archive_read_free(ar);
        if (r < 0)
                return r;
        if (entries == 0)
                return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE), "%s is an empty archive.", path);
        /* Docker >= 25 writes both: its manifest.json is the simpler way in,
         * but index.json carries the digests, so OCI wins. */
        *ret = plain ? SOURCE_ROOTFS_TAR : index ? SOURCE_OCI_ARCHIVE : manifest ? SOURCE_DOCKER_ARCHIVE
                                                                                 : SOURCE_ROOTFS_TAR;
        return 0;
}

int source_open(const char *path, Source *ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Cannot inspect %s: %m", path);

        Source s = { .path = xstrdup(path), .dirfd = -EBADF };
        if (S_ISDIR(st.st_mode)) {
                struct stat st2;
                if (fstatat(fd, "index.json", &st2, 0) >= 0 || fstatat(fd, "oci-layout", &st2, 0) >= 0)
                        s.kind = SOURCE_OCI_LAYOUT;
                else if (fstatat(fd, "config.json", &st2, 0) >= 0)
                        s.kind = SOURCE_BUNDLE;
                else {
                        free(s.path);
                        return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE),
                                               "%s is neither an OCI image layout (no index.json) nor an OCI "
                                               "runtime bundle (no config.json).",
                                               path);
                }
                s.dirfd = TAKE_FD(fd);
        } else if (S_ISREG(st.st_mode)) {
                int r = detect_archive(path, &s.kind);
                if (r < 0) {
                        free(s.path);
                        return r;
                }
        } else {
                free(s.path);
                return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE), "%s is not a directory or a file.", path);
        }
        *ret = s;
        return 0;
}

void source_done(Source *s) {
        free(s->path);
        s->path = NULL;
        closep(&s->dirfd);
        s->dirfd = -EBADF;
}

/* Position a fresh reader of the archive on member NAME. */
static int archive_find(const Source *s, const char *name, struct archive **ret, uint64_t *ret_size) {
        _cleanup_free_ char *want = normalize(name);
        for (unsigned hops = 0; hops < 2; hops++) {
                struct archive *ar = archive_open(s->path);
                if (!ar)
                        return -EIO;
                char *link = NULL;
                for (;;) {
                        struct archive_entry *e;
                        int ar_r = archive_read_next_header(ar, &e);
                        if (ar_r == ARCHIVE_EOF)
                                break;
                        if (ar_r < ARCHIVE_WARN) {
                                log_error("%s: broken archive: %s", s->path, archive_error_string(ar) ?: "?");
                                archive_read_free(ar);
                                return -EBADMSG;
                        }
                        _cleanup_free_ char *n = normalize(archive_entry_pathname(e) ?: "");
                        if (!streq(n, want))
                                continue;
                        if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e)) {
                                *ret = ar;
                                *ret_size = (uint64_t) archive_entry_size(e);
                                return 0;
                        }
                        /* A member that is a link names another member. */
                        const char *t = archive_entry_symlink(e) ?: archive_entry_hardlink(e);
                        if (t && archive_entry_symlink(e)) {
                                const char *slash = strrchr(want, '/');
                                link = slash && t[0] != '/' ? xasprintf("%.*s/%s", (int) (slash - want), want, t)
                                                            : xstrdup(t);
                        } else if (t)
                                link = xstrdup(t);
                        break;
                }
                archive_read_free(ar);
                if (!link)
                        return -ENOENT;
                free(want);
                want = normalize(link);
                free(link);
                if (path_has_dotdot(want))
                        return -ENOENT;
        }
        return -ENOENT;
}

int source_open_file(const Source *s, const char *name, SourceFile **ret, uint64_t *ret_size) {
        SourceFile *f = xcalloc(1, sizeof *f);
        f->fd = -EBADF;
        if (isempty(name) && s->kind == SOURCE_ROOTFS_TAR) {
                /* The whole file is the one layer. */
                f->fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                struct stat st;
                if (f->fd < 0 || fstat(f->fd, &st) < 0) {
                        int r = -errno;
                        source_file_free(f);
                        return r;
                }
                (void) posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
                *ret_size = (uint64_t) st.st_size;
        } else if (s->dirfd >= 0) {
                /* Resolved inside the layout: its symlinks cannot lead us out. */
                int fd = chase_in_root(s->dirfd, name, 0, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
                if (fd < 0) {
                        free(f);
                        return fd;
                }
                f->fd = fd;
                struct stat st;
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                        source_file_free(f);
                        return -EBADFD;
                }
                (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
                *ret_size = (uint64_t) st.st_size;
        } else {
                int r = archive_find(s, name, &f->ar, ret_size);
                if (r < 0) {
                        free(f);
                        return r;
                }
        }
        *ret = f;
        return 0;
}

ssize_t source_file_read(void *userdata, void *buf, size_t len) {
        SourceFile *f = userdata;
        if (f->fd >= 0) {
                for (;;) {
                        ssize_t n = read(f->fd, buf, len);
                        if (n >= 0 || errno != EINTR)
                                return n < 0 ? -errno : n;
                }
        }
        la_ssize_t n = archive_read_data(f->ar, buf, len);
        return n < 0 ? -EIO : (ssize_t) n;
}

int source_read_file(const Source *s, const char *name, size_t max, char **ret, size_t *ret_len) {
        _cleanup_(source_file_freep) SourceFile *f = NULL;
        uint64_t size;
        int r = source_open_file(s, name, &f, &size);
        if (r < 0)
                return r;
        if (size > max)
                return -EFBIG;
        _cleanup_free_ char *buf = xmalloc(size + 1);
        size_t n = 0;
        while (n < size) {
                ssize_t k = source_file_read(f, buf + n, size - n);
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n != size)
                return -EIO;
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = n;
        return 0;
}
