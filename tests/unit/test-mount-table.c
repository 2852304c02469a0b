/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mount_table_foreach() on this process's own mount table. */
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "mount-table.h"
#include "tap.h"
#include "util.h"

typedef struct Seen {
        const char *want_target;
        bool proc;
        bool want;
        char *want_fstype;
        size_t n;
} Seen;

static int look(const MountEntry *e, void *userdata) {
        Seen *s = userdata;
        s->n++;
        if (streq(e->target, "/proc") && streq(e->fstype, "proc"))
                s->proc = true;
        if (s->want_target && streq(e->target, s->want_target)) {
                s->want = true;
                free(s->want_fstype);
                s->want_fstype = xstrdup(e->fstype);
        }
        return 0;
}

static int stop_at_first(const MountEntry *e, void *userdata) {
        (*(size_t *) userdata)++;
        return 42;
}

int main(void) {
        Seen s = {};
        int r = mount_table_foreach(look, &s);
        TEST_ASSERT(r == 0 && s.n > 0, "the table is read (%zu mounts)", s.n);
        TEST_ASSERT(s.proc, "/proc is there as proc");

        size_t calls = 0;
        TEST_ASSERT(mount_table_foreach(stop_at_first, &calls) == 42 && calls == 1,
                    "a non-zero return stops the walk and is returned");

        /* The kernel escapes blanks in mountinfo ("\040"): the target comes
         * back as the path it is.  Needs a mount namespace of our own. */
        bool own_ns = unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
        TEST_ASSERT(own_ns, "a mount namespace of our own (the tests run as root)");
        if (own_ns) {
                char dir[] = "/tmp/berth mount table XXXXXX";
                if (mkdtemp(dir) && mount("none", dir, "tmpfs", 0, "size=64k") == 0) {
                        Seen t = { .want_target = dir };
                        TEST_ASSERT(mount_table_foreach(look, &t) == 0 && t.want && streq(t.want_fstype, "tmpfs"),
                                    "a target with blanks comes back unescaped");
                        free(t.want_fstype);
                        (void) umount2(dir, MNT_DETACH);
                }
                (void) rmdir(dir);
        }
        free(s.want_fstype);
        return tap_finish();
}
