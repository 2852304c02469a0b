/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fs.h"
#include "tap.h"
#include "util.h"

/* The tree, in a fresh temporary directory TMP:
 *
 *   TMP/outside/secret          what no lookup in the root may reach
 *   TMP/root/                   the "guest" root
 *            etc/hostname       a guest file with the host's name for a file
 *            dir/sub/
 *            file               a regular file
 *            abs -> /etc        absolute symlink (the host's /etc by name)
 *            up -> ../../..     relative symlink climbing above the root
 *            esc -> ../outside/secret
 *            hostout -> TMP/outside    absolute, naming the real outside dir
 *            procroot -> /proc/self/root
 *            fdlink -> /proc/self/fd/N (N: an fd of TMP/outside)
 *            inlink -> dir      relative symlink to a dir inside
 *            absin -> /dir      absolute symlink to a dir inside
 *            loop1 -> loop2, loop2 -> loop1, self -> self
 *            TMP/                the host's TMP path, repeated inside the root
 *            dangle -> TMP/made         dangling, to be created through
 *            dangleout -> TMP/outside/made
 *
 * "dangle" names a path in TMP on both sides, so a broken lookup creates
 * its file in the test's own directory, never elsewhere on the host. */

typedef struct Tree {
        char *tmp;
        int tmpfd, rootfd, outfd;
} Tree;

static bool same_inode(int fd, int dirfd, const char *path) {
        struct stat a, b;
        if (fd < 0 || fstat(fd, &a) < 0 || fstatat(dirfd, path, &b, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static bool exists_at(int dirfd, const char *path) {
        return faccessat(dirfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static void must(int r, const char *what) {
        if (r < 0) {
                tap_diag("setup failed: %s", what);
                exit(EXIT_FAILURE);
        }
}

static int put(int dirfd, const char *path, const char *text) {
        _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        return fd < 0 ? -errno : write_all(fd, text, strlen(text));
}

static void make_tree(Tree *t) {
        char tmpl[] = "/tmp/test-fs.XXXXXX";
        must(mkdtemp(tmpl) ? 0 : -1, "mkdtemp");
        t->tmp = xstrdup(tmpl);
        t->tmpfd = open_dir_nofollow(AT_FDCWD, t->tmp);
        must(t->tmpfd, "open tmp");
        must(mkdir_p_at(t->tmpfd, "outside", 0755), "outside");
        must(mkdir_p_at(t->tmpfd, "root/etc", 0755), "root/etc");
        must(mkdir_p_at(t->tmpfd, "root/dir/sub", 0755), "root/dir/sub");
        _cleanup_free_ char *inner = xasprintf("root%s", t->tmp);
        must(mkdir_p_at(t->tmpfd, inner, 0755), "root/TMP");
        t->outfd = open_dir_nofollow(t->tmpfd, "outside");
        t->rootfd = open_dir_nofollow(t->tmpfd, "root");
        must(t->outfd, "open outside");
        must(t->rootfd, "open root");
        must(put(t->outfd, "secret", "host\n"), "secret");
        must(put(t->rootfd, "etc/hostname", "guest\n"), "etc/hostname");
        must(put(t->rootfd, "file", "x"), "file");

        _cleanup_free_ char *hostout = xasprintf("%s/outside", t->tmp), *dangleout = xasprintf("%s/outside/made", t->tmp),
                            *dangle = xasprintf("%s/made", t->tmp),
                            *fdlink = xasprintf("/proc/self/fd/%d", t->outfd);
        const struct {
                const char *target, *name;
        } links[] = {
                { "/etc", "abs" },        { "../../..", "up" },     { "../outside/secret", "esc" },
                { hostout, "hostout" },   { "/proc/self/root", "procroot" },
                { fdlink, "fdlink" },     { "dir", "inlink" },      { "/dir", "absin" },
                { "loop2", "loop1" },     { "loop1", "loop2" },     { "self", "self" },
                { dangle, "dangle" }, { dangleout, "dangleout" },
        };
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                must(symlinkat(links[i].target, t->rootfd, links[i].name), links[i].name);
}

/* PATH must resolve to ROOT/EXPECT (EXPECT "." is the root itself). */
static void test_inside(const Tree *t, const char *path, ChaseFlags flags, int open_flags, const char *expect) {
        _cleanup_close_ int fd = chase_in_root(t->rootfd, path, flags, open_flags, 0);
        if (!TEST_ASSERT(same_inode(fd, t->rootfd, expect), "\"%s\" resolves to the root's \"%s\"", path, expect))
                tap_diag("chase_in_root returned %d", fd);
}

/* PATH must be refused with -ERR. */
static void test_refused(const Tree *t, const char *path, ChaseFlags flags, int open_flags, int err,
                         const char *why) {
        _cleanup_close_ int fd = chase_in_root(t->rootfd, path, flags, open_flags, 0);
        if (!TEST_ASSERT(fd == -err, "\"%s\" is refused with %s (%s)", path, strerrorname_np(err), why))
                tap_diag("chase_in_root returned %d", fd);
}

static void test_escapes(const Tree *t) {
        test_inside(t, "etc/hostname", 0, O_RDONLY, "etc/hostname");
        test_inside(t, "/etc/hostname", 0, O_RDONLY, "etc/hostname");
        test_inside(t, "abs/hostname", 0, O_RDONLY, "etc/hostname");
        test_inside(t, "up", 0, O_RDONLY | O_DIRECTORY, ".");
        test_inside(t, "up/etc/hostname", 0, O_RDONLY, "etc/hostname");
        test_inside(t, "up/up/up/abs/hostname", 0, O_RDONLY, "etc/hostname");
        test_refused(t, "esc", 0, O_RDONLY, ENOENT, "\"../outside\" stays in the root, where there is none");
        test_refused(t, "hostout/secret", 0, O_RDONLY, ENOENT, "an absolute host path is taken inside the root");
        test_refused(t, "procroot/etc/hostname", 0, O_RDONLY, ENOENT, "/proc/self/root names the root's /proc");
        test_refused(t, "fdlink/secret", 0, O_RDONLY, ENOENT, "/proc/self/fd/N names the root's /proc");

        /* ".." in the path itself clamps at the root. */
        test_inside(t, "..", 0, O_RDONLY | O_DIRECTORY, ".");
        test_inside(t, "../../etc/hostname", 0, O_RDONLY, "etc/hostname");
        test_inside(t, "dir/sub/../../../../etc/hostname", 0, O_RDONLY, "etc/hostname");
        test_inside(t, "/../dir/../file", 0, O_RDONLY, "file");
        test_refused(t, "../outside/secret", 0, O_RDONLY, ENOENT, "\"..\" above the root");

        /* Created through a symlink: lands inside, never outside. */
        _cleanup_close_ int fd = chase_in_root(t->rootfd, "dangle", 0, O_WRONLY | O_CREAT | O_EXCL, 0600);
        TEST_ASSERT(fd == -EEXIST, "O_EXCL refuses a dangling symlink (got %d)", fd);
        fd = chase_in_root(t->rootfd, "dangle", 0, O_WRONLY | O_CREAT, 0600);
        _cleanup_free_ char *made = xasprintf("%s/made", t->tmp + 1);
        TEST_ASSERT(fd >= 0 && same_inode(fd, t->rootfd, made) && !exists_at(t->tmpfd, "made"),
                    "O_CREAT through an absolute dangling symlink creates the file inside the root");
        fd = chase_in_root(t->rootfd, "dangleout", 0, O_WRONLY | O_CREAT, 0600);
        TEST_ASSERT(fd == -ENOENT && !exists_at(t->outfd, "made"),
                    "O_CREAT through a symlink to the host's real outside dir creates nothing there (got %d)", fd);
        fd = chase_in_root(t->rootfd, "abs/../../outside/new", 0, O_WRONLY | O_CREAT, 0600);
        TEST_ASSERT(fd == -ENOENT && !exists_at(t->outfd, "new"), "nor does O_CREAT with \"..\" after a symlink");
        fd = chase_in_root(t->rootfd, "dir/new", 0, O_WRONLY | O_CREAT | O_EXCL, 0640);
        struct stat st;
        TEST_ASSERT(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0640 &&
                            same_inode(fd, t->rootfd, "dir/new"),
                    "O_CREAT makes the file with MODE");
}

static void test_magic_links(const Tree *t) {
        /* A tree with a live /proc in it (here: the host's own root, opened as
         * "the root") must still not hand out magic links: they jump to
         * wherever the fd points, whatever the root. */
        _cleanup_close_ int hostroot = open_dir_nofollow(AT_FDCWD, "/");
        _cleanup_free_ char *p = xasprintf("proc/self/fd/%d", t->outfd), *q = xasprintf("proc/self/fd/%d/secret", t->outfd),
                            *via = xasprintf("%s/root/fdlink/secret", t->tmp + 1);
        _cleanup_close_ int fd = chase_in_root(hostroot, p, 0, O_RDONLY | O_DIRECTORY, 0);
        TEST_ASSERT(fd == -ELOOP, "/proc/self/fd/N (N a dir fd) is refused with ELOOP (got %d)", fd);
        fd = chase_in_root(hostroot, q, 0, O_RDONLY, 0);
        TEST_ASSERT(fd == -ELOOP, "a path through /proc/self/fd/N is refused with ELOOP (got %d)", fd);
        fd = chase_in_root(hostroot, "proc/self/root/etc", 0, O_RDONLY | O_DIRECTORY, 0);
        TEST_ASSERT(fd == -ELOOP, "/proc/self/root is refused with ELOOP (got %d)", fd);
        fd = chase_in_root(hostroot, "proc/self/cwd", 0, O_RDONLY | O_DIRECTORY, 0);
        TEST_ASSERT(fd == -ELOOP, "/proc/self/cwd is refused with ELOOP (got %d)", fd);
        fd = chase_in_root(hostroot, via, 0, O_RDONLY, 0);
        TEST_ASSERT(fd == -ELOOP, "a guest symlink to /proc/self/fd/N is refused with ELOOP (got %d)", fd);
        fd = chase_in_root(hostroot, "proc/self/status", 0, O_RDONLY, 0);
        TEST_ASSERT(fd >= 0, "an ordinary /proc file is opened (got %d)", fd);
}

static void test_symlinks(const Tree *t) {
        test_refused(t, "loop1", 0, O_RDONLY, ELOOP, "a two-link loop");
        test_refused(t, "self/x", 0, O_RDONLY, ELOOP, "a self loop in the middle");
        test_inside(t, "inlink/sub", 0, O_RDONLY | O_DIRECTORY, "dir/sub");
        test_inside(t, "absin/sub", 0, O_RDONLY | O_DIRECTORY, "dir/sub");
        test_inside(t, "inlink", 0, O_RDONLY | O_DIRECTORY, "dir");

        /* CHASE_NO_SYMLINKS: any symlink, anywhere, even one that stays inside. */
        test_refused(t, "inlink/sub", CHASE_NO_SYMLINKS, O_RDONLY, ELOOP, "CHASE_NO_SYMLINKS, relative symlink inside");
        test_refused(t, "absin", CHASE_NO_SYMLINKS, O_RDONLY, ELOOP, "CHASE_NO_SYMLINKS, last component");
        test_refused(t, "abs/hostname", CHASE_NO_SYMLINKS, O_RDONLY, ELOOP, "CHASE_NO_SYMLINKS, absolute symlink");
        test_refused(t, "dangle", CHASE_NO_SYMLINKS, O_WRONLY | O_CREAT, ELOOP, "CHASE_NO_SYMLINKS with O_CREAT");
        /* ...except that O_PATH|O_NOFOLLOW names the final link itself, unfollowed (openat2(2)). */
        test_inside(t, "absin", CHASE_NO_SYMLINKS, O_PATH | O_NOFOLLOW, "absin");
        test_inside(t, "dir/sub", CHASE_NO_SYMLINKS, O_RDONLY | O_DIRECTORY, "dir/sub");
        test_inside(t, "dir/../etc/hostname", CHASE_NO_SYMLINKS, O_RDONLY, "etc/hostname");

        /* CHASE_NOFOLLOW: the last component only. */
        test_refused(t, "abs", CHASE_NOFOLLOW, O_RDONLY, ELOOP, "CHASE_NOFOLLOW on a final symlink");
        test_inside(t, "abs", CHASE_NOFOLLOW, O_PATH, "abs");
        test_inside(t, "inlink/sub", CHASE_NOFOLLOW, O_RDONLY | O_DIRECTORY, "dir/sub");
}

static void test_shapes(const Tree *t) {
        test_inside(t, "", 0, O_RDONLY | O_DIRECTORY, ".");
        test_inside(t, NULL, 0, O_RDONLY | O_DIRECTORY, ".");
        test_inside(t, "/", 0, O_RDONLY | O_DIRECTORY, ".");
        test_inside(t, "///", 0, O_RDONLY | O_DIRECTORY, ".");
        test_inside(t, ".", 0, O_RDONLY | O_DIRECTORY, ".");
        test_inside(t, "dir/", 0, O_RDONLY | O_DIRECTORY, "dir");
        test_inside(t, "dir//sub/", 0, O_RDONLY | O_DIRECTORY, "dir/sub");
        test_inside(t, "./dir/./sub/.", 0, O_RDONLY | O_DIRECTORY, "dir/sub");
        test_inside(t, "inlink/", 0, O_RDONLY, "dir");
        test_refused(t, "file/", 0, O_RDONLY, ENOTDIR, "a trailing slash on a file");
        test_refused(t, "file/x", 0, O_RDONLY, ENOTDIR, "a file in the middle");
        test_refused(t, "file/..", 0, O_RDONLY, ENOTDIR, "\"..\" after a file");
        test_refused(t, "missing/x", 0, O_RDONLY, ENOENT, "a missing dir in the middle");
        test_refused(t, "dir", 0, O_WRONLY, EISDIR, "a dir opened for writing");

        _cleanup_close_ int fd = chase_in_root(t->rootfd, "file", 0, O_RDONLY, 0);
        TEST_ASSERT(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "the fd is O_CLOEXEC without being asked");
        closep(&fd);
        fd = chase_in_root(-EBADF, "file", 0, O_RDONLY, 0);
        TEST_ASSERT(fd == -EBADF, "a bad root fd is -EBADF (got %d)", fd);
}

int main(void) {
        Tree t = {};
        umask(022);
        make_tree(&t);
        test_escapes(&t);
        test_magic_links(&t);
        test_symlinks(&t);
        test_shapes(&t);
        TEST_ASSERT(exists_at(t.outfd, "secret") && !exists_at(t.outfd, "made") && !exists_at(t.outfd, "new"),
                    "nothing outside the root was created or removed");
        closep(&t.rootfd);
        closep(&t.outfd);
        closep(&t.tmpfd);
        (void) rm_rf_at(AT_FDCWD, t.tmp);
        free(t.tmp);
        return tap_finish();
}
