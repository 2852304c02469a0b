/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Entry names of an image layer are untrusted: layer_apply() must clean the
 * harmless forms ("./a//b") and refuse every name that leaves the rootfs
 * ("..", absolute names, paths through symlinks, hard links out), naming
 * the entry with its control characters masked.  Each layer here is a tar
 * built in memory. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "fs.h"
#include "log.h"
#include "oci-layer.h"
#include "tap.h"
#include "util.h"

typedef struct Entry {
        const char *name;
        char type;          /* 'f' file, 'd' dir, 'l' symlink, 'h' hard link */
        const char *target; /* symlink or hard link target */
} Entry;

typedef struct Blob {
        char *buf;
        size_t len, pos;
} Blob;

static Blob make_tar(const Entry *entries, size_t n) {
        Blob b = { .buf = xmalloc(1 << 20) };
        struct archive *a = archive_write_new();
        if (!a || archive_write_set_format_gnutar(a) != ARCHIVE_OK ||
            archive_write_open_memory(a, b.buf, 1 << 20, &b.len) != ARCHIVE_OK)
                abort();
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                if (!e)
                        abort();
                archive_entry_set_pathname(e, entries[i].name);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_mtime(e, 1, 0);
                /* Our own IDs: applying works without privileges too. */
                archive_entry_set_uid(e, getuid());
                archive_entry_set_gid(e, getgid());
                switch (entries[i].type) {
                case 'd':
                        archive_entry_set_filetype(e, AE_IFDIR);
                        archive_entry_set_perm(e, 0755);
                        break;
                case 'l':
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_symlink(e, entries[i].target);
                        break;
                case 'h':
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_hardlink(e, entries[i].target);
                        break;
                default:
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_size(e, 1);
                        break;
                }
                if (archive_write_header(a, e) != ARCHIVE_OK)
                        abort();
                if (entries[i].type == 'f' && archive_write_data(a, "x", 1) != 1)
                        abort();
                archive_entry_free(e);
        }
        if (archive_write_close(a) != ARCHIVE_OK)
                abort();
        archive_write_free(a);
        return b;
}

static ssize_t blob_read(void *userdata, void *buf, size_t len) {
        Blob *b = userdata;
        size_t n = b->len - b->pos < len ? b->len - b->pos : len;
        memcpy(buf, b->buf + b->pos, n);
        b->pos += n;
        return (ssize_t) n;
}

/* A fresh TMP/root for each layer; the log goes to LOGFD (truncated first). */
static int apply(const char *tmp, int logfd, const Entry *entries, size_t n) {
        _cleanup_close_ int tfd = open_dir_nofollow(AT_FDCWD, tmp);
        if (tfd < 0 || rm_rf_at(tfd, "root") < 0 || mkdirat(tfd, "root", 0755) < 0)
                abort();
        _cleanup_close_ int rootfd = open_dir_nofollow(tfd, "root");
        if (rootfd < 0 || ftruncate(logfd, 0) < 0 || lseek(logfd, 0, SEEK_SET) < 0)
                abort();
        Blob b = make_tar(entries, n);
        const LayerSpec spec = { .label = "test layer", .index = 1, .count = 1,
                                 .compression = LAYER_COMPRESSION_NONE, .size = -1, .whiteouts = true };
        log_set_file(logfd);
        int r = layer_apply(rootfd, &spec, blob_read, &b);
        log_set_file(-1);
        free(b.buf);
        return r;
}

static bool logged(int logfd, const char *what) {
        char buf[4096] = {};
        return pread(logfd, buf, sizeof buf - 1, 0) > 0 && strstr(buf, what);
}

/* Only "root" and "outside/secret" may exist in TMP. */
static bool outside_untouched(const char *tmp) {
        _cleanup_close_ int tfd = open_dir_nofollow(AT_FDCWD, tmp);
        _cleanup_closedir_ DIR *d = NULL;
        if (tfd < 0 || opendir_dup(tfd, &d) < 0)
                return false;
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        if (!streq(de->d_name, "root") && !streq(de->d_name, "outside"))
                                return false;
                        n++;
                }
        struct stat st;
        return n == 2 && fstatat(tfd, "outside/secret", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink == 1 &&
               st.st_size == 5;
}

/* An entry the layer may not have is the image's fault: -EBADMSG, with the
 * entry's own error ERR in the message.  FAILED: any other failure, -ERR. */
#define REFUSED_AS(desc, ret, err, logpart, ...)                                                             \
        ({                                                                                                  \
                const Entry _e[] = { __VA_ARGS__ };                                                         \
                int _r = apply(tmp, logfd, _e, ELEMENTSOF(_e));                                             \
                if (!TEST_ASSERT(_r == -(ret) && logged(logfd, logpart) && logged(logfd, strerror(err)) &&  \
                                         outside_untouched(tmp),                                            \
                                 "refuses %s (%s)", desc, strerrorname_np(err)))                            \
                        tap_diag("r=%d", _r);                                                               \
        })
#define REFUSED(desc, err, logpart, ...) REFUSED_AS(desc, EBADMSG, err, logpart, __VA_ARGS__)
#define FAILED(desc, err, logpart, ...) REFUSED_AS(desc, err, err, logpart, __VA_ARGS__)

static void test_refused(const char *tmp, int logfd) {
        REFUSED("\"../x\"", EPERM, "entry '../x': '..' component", { "../x", 'f', NULL });
        REFUSED("\"a/../../x\"", EPERM, "'..' component", { "a/", 'd', NULL }, { "a/../../x", 'f', NULL });
        REFUSED("\"./..\"", EPERM, "'..' component", { "./..", 'd', NULL });
        REFUSED("\"a/..\" (even one that stays inside)", EPERM, "'..' component", { "a/..", 'd', NULL });
        REFUSED("an absolute name", EPERM, "absolute name", { "/etc/passwd", 'f', NULL });
        REFUSED("\"//x\"", EPERM, "absolute name", { "//x", 'f', NULL });
        REFUSED("\"/./x\"", EPERM, "absolute name", { "/./x", 'f', NULL });
        REFUSED("an entry through its own absolute symlink", ELOOP, "goes through a symlink",
                { "lnk", 'l', "/" }, { "lnk/x", 'f', NULL });
        REFUSED("an entry through a relative symlink that stays inside", ELOOP, "goes through a symlink",
                { "d/", 'd', NULL }, { "lnk", 'l', "d" }, { "lnk/x", 'f', NULL });
        REFUSED("an entry through a symlink out of the tree", ELOOP, "goes through a symlink",
                { "lnk", 'l', "../outside" }, { "lnk/secret", 'f', NULL });
        REFUSED("a hard link to \"../outside/secret\"", EPERM, "'..' component",
                { "h", 'h', "../outside/secret" });
        REFUSED("a hard link to an absolute path", EPERM, "absolute name", { "h", 'h', "/etc/passwd" });
        REFUSED("a hard link through a symlink", ELOOP, "hard link target goes through a symlink",
                { "lnk", 'l', "../outside" }, { "h", 'h', "lnk/secret" });
        REFUSED("a hard link to the root", EPERM, "hard link to the root directory", { "h", 'h', "./" });
        REFUSED("a whiteout of \"..\"", EINVAL, "whiteout without a valid name", { ".wh...", 'f', NULL });
        REFUSED("a whiteout of \".\"", EINVAL, "whiteout without a valid name", { "a/", 'd', NULL },
                { "a/.wh..", 'f', NULL });
        REFUSED("a file under a file", ENOTDIR, "a parent is not a directory",
                { "f", 'f', NULL }, { "f/x", 'f', NULL });

        char longname[300];
        memset(longname, 'n', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        FAILED("a 299-byte name component", ENAMETOOLONG, "cannot create the file", { longname, 'f', NULL });

        /* The entry is named in the message with its controls masked. */
        REFUSED("\"../\" with an escape sequence, masked in the log", EPERM,
                "entry '../?]0;x???[2J': '..' component", { "../\x1b]0;x\a\xc2\x9b[2J", 'f', NULL });
}

static void test_cleaned(const char *tmp, int logfd) {
        const Entry ok[] = {
                { "/", 'd', NULL },
                { "./", 'd', NULL },
                { "./a//b/./c", 'f', NULL },
                { "-rf", 'f', NULL },
                { ".hidden", 'f', NULL },
                { "caf\xc3\xa9", 'f', NULL },
                { "a/h", 'h', "./a//b/c" },
                { "rel", 'l', "../../../etc/passwd" },
                { "a..b", 'f', NULL },
        };
        int r = apply(tmp, logfd, ok, ELEMENTSOF(ok));
        TEST_ASSERT(r == 0, "a layer of odd but harmless names applies (r=%d)", r);
        _cleanup_free_ char *root = xasprintf("%s/root", tmp);
        _cleanup_close_ int rfd = open_dir_nofollow(AT_FDCWD, root);
        struct stat a, b;
        TEST_ASSERT(fstatat(rfd, "a/b/c", &a, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(a.st_mode),
                    "\"./a//b/./c\" is created as a/b/c");
        TEST_ASSERT(fstatat(rfd, "a/h", &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino,
                    "a hard link to an uncleaned name finds the cleaned file");
        TEST_ASSERT(faccessat(rfd, "-rf", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
                            faccessat(rfd, ".hidden", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
                            faccessat(rfd, "caf\xc3\xa9", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
                            faccessat(rfd, "a..b", F_OK, AT_SYMLINK_NOFOLLOW) == 0,
                    "names with a leading '-' or '.', non-ASCII or \"..\" inside a component are files like any");
        char target[64] = {};
        TEST_ASSERT(readlinkat(rfd, "rel", target, sizeof target - 1) > 0 && streq(target, "../../../etc/passwd"),
                    "a symlink's target is stored verbatim, never followed");
        TEST_ASSERT(outside_untouched(tmp), "nothing outside the rootfs changed");
}

/* An overlayfs diff over a lower layer made here (TMP/lower): whiteouts and
 * opaque markers as overlayfs has them, parents with the lower layer's
 * attributes, nothing made for what hides nothing, and refusals for paths
 * through a lower layer's symlink and hard links into it.  Needs root
 * (mknod of the whiteouts, other owners). */
static int apply_diff(const char *tmp, int logfd, int lowerfd, const Entry *entries, size_t n) {
        _cleanup_close_ int tfd = open_dir_nofollow(AT_FDCWD, tmp);
        if (tfd < 0 || rm_rf_at(tfd, "root") < 0 || mkdirat(tfd, "root", 0755) < 0)
                abort();
        _cleanup_close_ int rootfd = open_dir_nofollow(tfd, "root");
        if (rootfd < 0 || ftruncate(logfd, 0) < 0 || lseek(logfd, 0, SEEK_SET) < 0)
                abort();
        Blob b = make_tar(entries, n);
        const LayerSpec spec = { .label = "test layer", .index = 1, .count = 1,
                                 .compression = LAYER_COMPRESSION_NONE, .size = -1, .whiteouts = true,
                                 .overlay_diff = true, .lowers = &lowerfd, .n_lowers = 1 };
        log_set_file(logfd);
        int r = layer_apply(rootfd, &spec, blob_read, &b);
        log_set_file(-1);
        free(b.buf);
        return r;
}

static void test_overlay_diff(const char *tmp, int logfd) {
        if (geteuid() != 0) {
                printf("ok %u - overlay diffs # SKIP not root\n", ++tap_state.run);
                return;
        }
        _cleanup_close_ int tfd = open_dir_nofollow(AT_FDCWD, tmp);
        if (mkdirat(tfd, "lower", 0755) < 0)
                abort();
        _cleanup_close_ int lfd = open_dir_nofollow(tfd, "lower");
        if (lfd < 0 || mkdirat(lfd, "srv", 0750) < 0 || fchownat(lfd, "srv", 5, 6, 0) < 0 ||
            fchmodat(lfd, "srv", 0750, 0) < 0 || mkdirat(lfd, "etc", 0755) < 0 ||
            mknodat(lfd, "etc/gone", S_IFREG | 0644, 0) < 0 || mkdirat(lfd, "etc/app.d", 0755) < 0 ||
            mknodat(lfd, "etc/app.d/old", S_IFREG | 0644, 0) < 0 || symlinkat("/", lfd, "etc/sym") < 0 ||
            mkdirat(lfd, "opq", 0755) < 0)
                abort();
        const Entry diff[] = {
                { "srv/added", 'f', NULL },
                { "etc/.wh.gone", 'f', NULL },
                { "etc/.wh.none", 'f', NULL },
                { "nothere/.wh.x", 'f', NULL },
                { "etc/app.d/.wh..wh..opq", 'f', NULL },
                { "etc/app.d/new", 'f', NULL },
                { "own", 'f', NULL },
                { ".wh.own", 'f', NULL },
        };
        int r = apply_diff(tmp, logfd, lfd, diff, ELEMENTSOF(diff));
        TEST_ASSERT(r == 0, "an overlay diff applies (r=%d)", r);
        _cleanup_free_ char *root = xasprintf("%s/root", tmp);
        _cleanup_close_ int rfd = open_dir_nofollow(AT_FDCWD, root);
        struct stat st;
        TEST_ASSERT(fstatat(rfd, "srv", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & 07777) == 0750 &&
                            st.st_uid == 5 && st.st_gid == 6,
                    "a parent the diff does not list gets the lower layer's mode and owner");
        TEST_ASSERT(fstatat(rfd, "etc/gone", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
                            st.st_rdev == makedev(0, 0),
                    "a whiteout of a lower file is a character device 0:0");
        TEST_ASSERT(faccessat(rfd, "etc/none", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
                            faccessat(rfd, "nothere", F_OK, AT_SYMLINK_NOFOLLOW) < 0,
                    "a whiteout of nothing makes nothing, not even its directory");
        _cleanup_close_ int app = openat(rfd, "etc/app.d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char v[2] = {};
        TEST_ASSERT(app >= 0 && fgetxattr(app, OVERLAY_OPAQUE_XATTR, v, sizeof v) == 1 && v[0] == 'y' &&
                            faccessat(app, "new", F_OK, AT_SYMLINK_NOFOLLOW) == 0,
                    "an opaque marker is the user.overlay.opaque xattr");
        TEST_ASSERT(fstatat(rfd, "own", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode),
                    "a whiteout never hides the diff's own file");

        const Entry through[] = { { "etc/sym/x", 'f', NULL } };
        r = apply_diff(tmp, logfd, lfd, through, ELEMENTSOF(through));
        TEST_ASSERT(r == -EBADMSG && logged(logfd, "through a symlink of a lower layer"),
                    "a path through a lower layer's symlink is refused as the image's fault (r=%d)", r);
        const Entry under[] = { { "etc/gone/x", 'f', NULL } };
        r = apply_diff(tmp, logfd, lfd, under, ELEMENTSOF(under));
        TEST_ASSERT(r == -EBADMSG && logged(logfd, "not a directory in a lower layer"),
                    "a path under a lower layer's file is refused as the image's fault (r=%d)", r);
        const Entry link[] = { { "h", 'h', "etc/gone" } };
        r = apply_diff(tmp, logfd, lfd, link, ELEMENTSOF(link));
        TEST_ASSERT(r == -ENOENT && logged(logfd, "lower layer") && logged(logfd, "--copy"),
                    "a hard link into a lower layer is refused, naming --copy (r=%d)", r);
        (void) rm_rf_at(tfd, "lower");
}

int main(void) {
        char tmp[] = "/tmp/test-oci-layer.XXXXXX";
        if (!mkdtemp(tmp))
                return EXIT_FAILURE;
        _cleanup_close_ int tfd = open_dir_nofollow(AT_FDCWD, tmp), logfd = memfd_create("log", MFD_CLOEXEC);
        if (tfd < 0 || logfd < 0 || mkdirat(tfd, "outside", 0755) < 0)
                return EXIT_FAILURE;
        _cleanup_close_ int sfd = openat(tfd, "outside/secret", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (sfd < 0 || write_all(sfd, "host\n", 5) < 0)
                return EXIT_FAILURE;
        /* Refusals are logged on stderr too; TAP reads stdout only. */
        test_refused(tmp, logfd);
        test_cleaned(tmp, logfd);
        test_overlay_diff(tmp, logfd);
        (void) rm_rf_at(AT_FDCWD, tmp);
        return tap_finish();
}
