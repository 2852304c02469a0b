/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "fs.h"
#include "layers.h"
#include "store.h"
#include "tap.h"
#include "util.h"

#define ID_A "0123456789abcdef"
#define ID_B "fedcba9876543210"

static void put(int dfd, const char *text, size_t len) {
        /* O_NOFOLLOW: "layers" is a symlink in one case below. */
        _cleanup_close_ int fd = openat(dfd, "layers", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, text, len) < 0) {
                tap_diag("cannot write the layers file");
                exit(EXIT_FAILURE);
        }
}

/* TEXT must read as the list WANT (NULL: the empty list). */
static void read_ok(int dfd, const char *desc, const char *text, char *const *want) {
        put(dfd, text, strlen(text));
        char **l = (char **) 0x1;
        int r = layers_read(dfd, "layers", &l);
        bool ok = r == 0 && (want ? strv_equal(l, want) : !l);
        if (!TEST_ASSERT(ok, "layers_read: %s", desc))
                tap_diag("r=%d, %zu entries", r, r == 0 ? strv_length(l) : 0);
        if (r == 0)
                strv_free(l);
}

static void read_bad(int dfd, const char *desc, const char *text, size_t len, int err) {
        put(dfd, text, len);
        char **l = (char **) 0x1;
        int r = layers_read(dfd, "layers", &l);
        if (!TEST_ASSERT(r == -err && l == (char **) 0x1, "layers_read refuses %s with %s", desc, strerrorname_np(err)))
                tap_diag("r=%d", r);
}

/* N valid, distinct IDs, one a line. */
static char *ids(size_t n) {
        char *t = xstrdup("");
        for (size_t i = 0; i < n; i++)
                strextendf(&t, "%016zx\n", i + 1);
        return t;
}

static void test_read(int dfd) {
        char *one[] = { (char *) ID_A, NULL }, *two[] = { (char *) ID_A, (char *) ID_B, NULL };

        char **l = (char **) 0x1;
        TEST_ASSERT(layers_read(dfd, "missing", &l) == 0 && !l, "a missing file is the empty list");
        read_ok(dfd, "an empty file is the empty list", "", NULL);
        read_ok(dfd, "one ID", ID_A "\n", one);
        read_ok(dfd, "two IDs keep their order (top first)", ID_A "\n" ID_B "\n", two);
        read_ok(dfd, "a missing final newline", ID_A "\n" ID_B, two);
        read_ok(dfd, "blank lines are skipped", "\n" ID_A "\n\n" ID_B "\n\n", two);
        read_ok(dfd, "only newlines is the empty list", "\n\n", NULL);

        read_bad(dfd, "\"..\"", "..\n", 3, EBADMSG);
        read_bad(dfd, "a path with \"..\"", "../../../../etc\n", 16, EBADMSG);
        read_bad(dfd, "an ID with a '/'", "0123456789abcde/\n", 17, EBADMSG);
        read_bad(dfd, "an absolute path", "/" ID_A "\n", 18, EBADMSG);
        read_bad(dfd, "a valid ID after a bad one", ID_A "\n../" ID_B "\n", 37, EBADMSG);
        read_bad(dfd, "upper-case hex", "0123456789ABCDEF\n", 17, EBADMSG);
        read_bad(dfd, "a non-hex letter", "0123456789abcdeg\n", 17, EBADMSG);
        read_bad(dfd, "15 characters", "0123456789abcde\n", 16, EBADMSG);
        read_bad(dfd, "17 characters", ID_A "0\n", 18, EBADMSG);
        read_bad(dfd, "a trailing space", ID_A " \n", 18, EBADMSG);
        read_bad(dfd, "a leading space", " " ID_A "\n", 18, EBADMSG);
        read_bad(dfd, "a CRLF line end", ID_A "\r\n", 18, EBADMSG);
        read_bad(dfd, "a comment", "# " ID_A "\n", 19, EBADMSG);
        read_bad(dfd, "non-ASCII", "0123456789abcd\xc3\xa9\n", 17, EBADMSG);
        read_bad(dfd, "a control character", "0123456789abcde\x1b\n", 17, EBADMSG);
        read_bad(dfd, "an ID twice (overlayfs refuses a lower dir twice)", ID_A "\n" ID_B "\n" ID_A "\n", 51, EBADMSG);
        read_bad(dfd, "a NUL byte (it would end the list early)", ID_A "\n\0" ID_B "\n", 35, EBADMSG);

        _cleanup_free_ char *max = ids(LAYERS_MAX), *over = ids(LAYERS_MAX + 1), *far = ids(LAYERS_MAX + 2);
        put(dfd, max, strlen(max));
        l = NULL;
        TEST_ASSERT(layers_read(dfd, "layers", &l) == 0 && strv_length(l) == LAYERS_MAX, "LAYERS_MAX IDs are taken");
        strv_free(l);
        read_bad(dfd, "LAYERS_MAX + 1 IDs", over, strlen(over), EBADMSG);
        read_bad(dfd, "LAYERS_MAX + 2 IDs (more than a full list's size)", far, strlen(far), EFBIG);

        char longline[4096];
        memset(longline, 'a', sizeof longline);
        read_bad(dfd, "a 1000-character line", longline, 1000, EBADMSG);
        read_bad(dfd, "a 4096-character line", longline, sizeof longline, EFBIG);
        put(dfd, ID_A "\n", 17);

        /* A symlink to a valid list in the same dir: following it would succeed. */
        TEST_ASSERT(renameat(dfd, "layers", dfd, "target") == 0 && symlinkat("target", dfd, "layers") == 0,
                    "plant a symlink to a valid list");
        l = (char **) 0x1;
        int r = layers_read(dfd, "layers", &l);
        TEST_ASSERT(r == -ELOOP && l == (char **) 0x1, "layers_read refuses a symlink with ELOOP (got %d)", r);
        TEST_ASSERT(unlinkat(dfd, "layers", 0) == 0 && mkdirat(dfd, "layers", 0755) == 0, "plant a directory");
        l = (char **) 0x1;
        TEST_ASSERT(layers_read(dfd, "layers", &l) < 0 && l == (char **) 0x1, "layers_read refuses a directory");
        TEST_ASSERT(unlinkat(dfd, "layers", AT_REMOVEDIR) == 0, "remove it");
}

static void test_write(int dfd) {
        char *two[] = { (char *) ID_B, (char *) ID_A, NULL }, *none[] = { NULL };
        char **l = NULL;
        _cleanup_free_ char *text = NULL;

        TEST_ASSERT(layers_write(dfd, "w", two) == 0 && layers_read(dfd, "w", &l) == 0 && strv_equal(l, two),
                    "layers_write then layers_read gives the list back");
        strv_free(l);
        l = (char **) 0x1;
        TEST_ASSERT(read_file_at(dfd, "w", 4096, &text, NULL) == 0 && streq(text, ID_B "\n" ID_A "\n"),
                    "the file is one ID a line, top first");
        TEST_ASSERT(layers_write(dfd, "w", none) == 0 && layers_read(dfd, "w", &l) == 0 && !l,
                    "an empty list reads back as the empty list");
        l = (char **) 0x1;
        TEST_ASSERT(layers_write(dfd, "w", NULL) == 0 && layers_read(dfd, "w", &l) == 0 && !l,
                    "so does a NULL list");
        TEST_ASSERT(faccessat(dfd, ".w.new", F_OK, AT_SYMLINK_NOFOLLOW) < 0, "no temporary file is left");
}


/* Manifest digest number N: "sha256:" and 64 hex digits. */
static char *digest_n(unsigned n) {
        return xasprintf("sha256:%064x", n);
}

/* Make (or, with !ON, remove) the blob of manifest N in S's image store. */
static void blob(Store *s, unsigned n, bool on) {
        _cleanup_free_ char *d = digest_n(n), *path = xasprintf("blobs/sha256/%s", d + strlen("sha256:"));
        if (on) {
                _cleanup_close_ int fd = openat(s->images_fd, path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd < 0) {
                        tap_diag("cannot make the blob %s", path);
                        exit(EXIT_FAILURE);
                }
        } else
                (void) unlinkat(s->images_fd, path, 0);
}

static int mark(Store *s, const char *layer, unsigned n) {
        _cleanup_free_ char *d = digest_n(n);
        char *layers[] = { (char *) layer, NULL };
        return layers_mark_image(s, layers, d);
}

static char *images_of(Store *s, const char *layer) {
        _cleanup_free_ char *path = xasprintf("layers/%s/" LAYER_IMAGES_FILE, layer);
        char *text = NULL;
        if (read_file_at(s->images_fd, path, 16 * 1024 * 1024, &text, NULL) < 0)
                return xstrdup("(unreadable)");
        return text;
}

#define LAYER_1 "1111111111111111111111111111111111111111111111111111111111111111"
#define LAYER_2 "2222222222222222222222222222222222222222222222222222222222222222"
#define LAYER_3 "3333333333333333333333333333333333333333333333333333333333333333"

/* A layer's list of images holds the stored ones only, so it never grows
 * past what read_file_at() takes; prune keeps a layer whose list it
 * cannot read. */
static void test_mark(const char *dir) {
        _cleanup_free_ char *root = xasprintf("%s/root", dir);
        Store s = {};
        if (!TEST_ASSERT(store_open(&s, root, NULL) >= 0, "open a store"))
                return;
        TEST_ASSERT(mkdirat(s.images_fd, "blobs", 0755) == 0 && mkdirat(s.images_fd, "blobs/sha256", 0755) == 0 &&
                            mkdirat(s.images_fd, "layers", 0700) == 0 &&
                            mkdirat(s.images_fd, "layers/" LAYER_1, 0755) == 0 &&
                            mkdirat(s.images_fd, "layers/" LAYER_2, 0755) == 0 &&
                            mkdirat(s.images_fd, "layers/" LAYER_3, 0755) == 0,
                    "make the blob and layer dirs");
        _cleanup_free_ char *d1 = digest_n(1), *d2 = digest_n(2), *d3 = digest_n(3);
        blob(&s, 1, true);
        blob(&s, 2, true);
        TEST_ASSERT(mark(&s, LAYER_1, 1) == 0 && mark(&s, LAYER_1, 2) == 0 && mark(&s, LAYER_1, 1) == 0,
                    "mark two images, one twice");
        _cleanup_free_ char *want12 = xasprintf("%s\n%s\n", d1, d2), *got = images_of(&s, LAYER_1);
        TEST_ASSERT(streq(got, want12), "each image is listed once (got '%s')", got);
        blob(&s, 1, false);
        blob(&s, 3, true);
        TEST_ASSERT(mark(&s, LAYER_1, 3) == 0, "mark a third image after the first went");
        _cleanup_free_ char *want23 = xasprintf("%s\n%s\n", d2, d3), *got2 = images_of(&s, LAYER_1);
        TEST_ASSERT(streq(got2, want23), "the gone image's line is dropped (got '%s')", got2);

        /* Rebuild after rebuild over one layer (a template's): the list
         * stays one line long, where it once grew to read_file_at's limit. */
        int r = 0;
        for (unsigned n = 100; n < 2100 && r == 0; n++) {
                blob(&s, n - 1, false);
                blob(&s, n, true);
                r = mark(&s, LAYER_2, n);
        }
        _cleanup_free_ char *d2099 = digest_n(2099), *want = xasprintf("%s\n", d2099), *got3 = images_of(&s, LAYER_2);
        TEST_ASSERT(r == 0, "2000 rebuilds are marked (%s)", r < 0 ? strerrorname_np(-r) : "0");
        TEST_ASSERT(streq(got3, want), "the list holds the last one only (%zu bytes)", strlen(got3));

        /* A list written long before: 2000 gone images, then a stored one,
         * beyond the 64 KiB once read.  Prune keeps the layer (the image
         * is stored), and a layer whose list cannot be read. */
        _cleanup_free_ char *big = xstrdup("");
        for (unsigned n = 5000; n < 7000; n++) {
                _cleanup_free_ char *d = digest_n(n);
                char *t = xasprintf("%s%s\n", big, d);
                free(big);
                big = t;
        }
        char *t = xasprintf("%s%s\n", big, d2099);
        free(big);
        big = t;
        _cleanup_close_ int l3 = open_dir_nofollow(s.images_fd, "layers/" LAYER_3);
        TEST_ASSERT(l3 >= 0 && write_file_atomic_at(l3, LAYER_IMAGES_FILE, big, strlen(big), 0644) >= 0,
                    "write a long list (%zu bytes)", strlen(big));
        /* LAYER_1 lists 2 and 3, gone now; LAYER_2 and LAYER_3 list 2099,
         * stored. */
        blob(&s, 2, false);
        blob(&s, 3, false);
        r = layers_prune(&s);
        TEST_ASSERT(r == 1, "prune removes the one layer of no stored image (%d)", r);
        TEST_ASSERT(faccessat(s.images_fd, "layers/" LAYER_1, F_OK, AT_SYMLINK_NOFOLLOW) < 0,
                    "... the layer of images gone");
        TEST_ASSERT(faccessat(s.images_fd, "layers/" LAYER_3, F_OK, AT_SYMLINK_NOFOLLOW) == 0,
                    "... not the layer whose long list ends with a stored image");
        TEST_ASSERT(mark(&s, LAYER_3, 2099) == 0, "marking it again takes the long list");
        _cleanup_free_ char *got4 = images_of(&s, LAYER_3);
        TEST_ASSERT(streq(got4, want), "... and shrinks it to the stored image (%zu bytes)", strlen(got4));
        TEST_ASSERT(unlinkat(l3, LAYER_IMAGES_FILE, 0) == 0 && mkdirat(l3, LAYER_IMAGES_FILE, 0755) == 0,
                    "make LAYER_3's list unreadable (a directory)");
        r = layers_prune(&s);
        TEST_ASSERT(r == 0 && faccessat(s.images_fd, "layers/" LAYER_3, F_OK, AT_SYMLINK_NOFOLLOW) == 0,
                    "prune keeps a layer whose list cannot be read (%d)", r);
        store_close(&s);
}

int main(void) {
        char tmpl[] = "/tmp/test-layers.XXXXXX";
        if (!mkdtemp(tmpl))
                return EXIT_FAILURE;
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, tmpl);
        if (dfd < 0)
                return EXIT_FAILURE;
        test_read(dfd);
        test_write(dfd);
        test_mark(tmpl);
        closep(&dfd);
        (void) rm_rf_at(AT_FDCWD, tmpl);
        return tap_finish();
}
