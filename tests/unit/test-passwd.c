/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "passwd.h"
#include "tap.h"
#include "util.h"

static const char passwd_text[] = "root:x:0:0:root:/root:/bin/bash\n"
                                  "# a comment\n"
                                  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                  "broken:x:notanumber:1::/:/bin/sh\n"
                                  "short:x:5\n"
                                  "alice:x:1000:1000:Alice,,,:/home/alice:/bin/zsh\n"
                                  "noshell:x:1001:1001:::\n";
static const char group_text[] = "root:x:0:\n"
                                 "adm:x:4:alice,bob\n"
                                 "wheel:x:10:bob,alice\n"
                                 "alice:x:1000:\n"
                                 "other:x:20:alicex\n";

static FILE *text(const char *s) {
        return fmemopen((void *) s, strlen(s), "r");
}

/* passwd_file_open() reads inside the root it runs in: a child chroots into
 * a tree with one file of each kind and reports what each open returned. */
static const char *const kinds[] = { "passwd", "fifo", "link", "huge", "missing" };

static void check_file_open(void) {
        char dir[] = "/tmp/test-passwd.XXXXXX";
        if (!mkdtemp(dir)) {
                TEST_ASSERT(false, "mkdtemp: %m");
                return;
        }
        _cleanup_free_ char *etc = xasprintf("%s/etc", dir), *passwd = xasprintf("%s/passwd", etc),
                            *fifo = xasprintf("%s/fifo", etc), *link = xasprintf("%s/link", etc),
                            *huge = xasprintf("%s/huge", etc);
        FILE *w = NULL;
        bool made = mkdir(etc, 0755) == 0 && (w = fopen(passwd, "we")) && fputs(passwd_text, w) >= 0 &&
                    fclose(w) == 0 && mkfifo(fifo, 0644) == 0 && symlink("/dev/zero", link) == 0 &&
                    (w = fopen(huge, "we")) && fclose(w) == 0 && truncate(huge, PASSWD_FILE_MAX + 1) == 0;
        TEST_ASSERT(made, "a tree with a passwd, a FIFO, a symlink to /dev/zero and a huge file");

        int p[2];
        if (made && pipe(p) == 0) {
                pid_t pid = fork();
                if (pid == 0) {
                        /* A FIFO that blocked would hang the test: end it. */
                        alarm(10);
                        int res[ELEMENTSOF(kinds) + 1] = {};
                        if (chroot(dir) < 0 || chdir("/") < 0)
                                res[ELEMENTSOF(kinds)] = -errno;
                        for (size_t i = 0; i < ELEMENTSOF(kinds) && !res[ELEMENTSOF(kinds)]; i++) {
                                _cleanup_free_ char *path = xasprintf("/etc/%s", kinds[i]);
                                FILE *f = NULL;
                                res[i] = passwd_file_open(path, &f);
                                PasswdEntry e;
                                if (res[i] == 0 && (passwd_lookup(f, "alice", &e) < 0 || e.uid != 1000))
                                        res[i] = -EIO;
                                if (f)
                                        fclose(f);
                        }
                        _exit(write(p[1], res, sizeof res) == (ssize_t) sizeof res ? 0 : 1);
                }
                close(p[1]);
                int res[ELEMENTSOF(kinds) + 1] = {}, status = 0;
                bool got = read(p[0], res, sizeof res) == (ssize_t) sizeof res;
                close(p[0]);
                (void) waitpid(pid, &status, 0);
                if (got && res[ELEMENTSOF(kinds)] == -EPERM)
                        printf("ok %u - # SKIP chroot needs root\n", ++tap_state.run);
                else {
                        TEST_ASSERT(got && WIFEXITED(status) && res[ELEMENTSOF(kinds)] == 0,
                                    "the child ran in the tree and did not hang");
                        TEST_ASSERT(res[0] == 0, "a regular passwd is read (%d)", res[0]);
                        TEST_ASSERT(res[1] == -EBADFD, "a FIFO is refused at once (%d)", res[1]);
                        TEST_ASSERT(res[2] == -ELOOP, "a symlink (to /dev/zero) is refused (%d)", res[2]);
                        TEST_ASSERT(res[3] == -EFBIG, "a file over PASSWD_FILE_MAX is refused (%d)", res[3]);
                        TEST_ASSERT(res[4] == -ENOENT, "a missing one is -ENOENT (%d)", res[4]);
                }
        }
        (void) unlink(passwd);
        (void) unlink(fifo);
        (void) unlink(link);
        (void) unlink(huge);
        (void) rmdir(etc);
        (void) rmdir(dir);
}

int main(void) {
        PasswdEntry e;
        FILE *f;

        check_file_open();

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "alice", &e) == 0 && e.uid == 1000 && e.gid == 1000 &&
                            streq(e.home, "/home/alice") && streq(e.shell, "/bin/zsh"),
                    "finds a user by name");
        passwd_entry_done(&e);
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "0", &e) == 0 && streq(e.name, "root") && streq(e.shell, "/bin/bash"),
                    "finds a user by number");
        passwd_entry_done(&e);
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "4242", &e) == 0 && e.uid == 4242 && e.gid == 4242 && streq(e.home, "/"),
                    "an unknown number is still a user");
        passwd_entry_done(&e);
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "nobodyhere", &e) == -ESRCH, "an unknown name is -ESRCH");
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "broken", &e) == -EBADMSG, "a malformed matching line is -EBADMSG");
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "noshell", &e) == 0 && streq(e.shell, "/bin/sh") && streq(e.home, "/"),
                    "empty home and shell get defaults");
        passwd_entry_done(&e);
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "4294967295", &e) < 0, "uid -1 is refused");
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "", &e) == -EINVAL, "empty user is refused");
        fclose(f);

        gid_t *g;
        size_t n;
        f = text(group_text);
        TEST_ASSERT(group_list_for(f, "alice", 1000, &g, &n) == 0 && n == 3 && g[0] == 1000 && g[1] == 4 &&
                            g[2] == 10,
                    "supplementary groups: primary first, then memberships");
        free(g);
        fclose(f);

        f = text(group_text);
        TEST_ASSERT(group_list_for(f, "carol", 7, &g, &n) == 0 && n == 1 && g[0] == 7,
                    "a user in no group gets only the primary one");
        free(g);
        fclose(f);

        TEST_ASSERT(group_list_for(NULL, "alice", 5, &g, &n) == 0 && n == 1 && g[0] == 5,
                    "no group file: primary only");
        free(g);

        return tap_finish();
}
