/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <libmount/libmount.h>

#include "dlopen.h"
#include "mount-table.h"
#include "util.h"

typedef struct LibMount {
        struct libmnt_table *(*new_table_from_file)(const char *);
        void (*unref_table)(struct libmnt_table *);
        struct libmnt_iter *(*new_iter)(int);
        void (*free_iter)(struct libmnt_iter *);
        int (*table_next_fs)(struct libmnt_table *, struct libmnt_iter *, struct libmnt_fs **);
        const char *(*fs_get_target)(struct libmnt_fs *);
        const char *(*fs_get_root)(struct libmnt_fs *);
        const char *(*fs_get_fstype)(struct libmnt_fs *);
        const char *(*fs_get_fs_options)(struct libmnt_fs *);
} LibMount;

static void dlclosep(void **h) {
        if (*h)
                (void) dlclose(*h);
}

int mount_table_foreach(int (*cb)(const MountEntry *e, void *userdata), void *userdata) {
        LibMount lib;
        const DlSymbol syms[] = {
#define SYM(field, name) { name, &lib.field }
                SYM(new_table_from_file, "mnt_new_table_from_file"),
                SYM(unref_table, "mnt_unref_table"),
                SYM(new_iter, "mnt_new_iter"),
                SYM(free_iter, "mnt_free_iter"),
                SYM(table_next_fs, "mnt_table_next_fs"),
                SYM(fs_get_target, "mnt_fs_get_target"),
                SYM(fs_get_root, "mnt_fs_get_root"),
                SYM(fs_get_fstype, "mnt_fs_get_fstype"),
                SYM(fs_get_fs_options, "mnt_fs_get_fs_options"),
#undef SYM
        };
        _cleanup_(dlclosep) void *handle = NULL;
        int r = dlopen_symbols("libmount.so.1", syms, ELEMENTSOF(syms), &handle);
        if (r < 0)
                return r;

        struct libmnt_table *tb = lib.new_table_from_file("/proc/self/mountinfo");
        if (!tb)
                return errno > 0 ? -errno : -EIO;
        struct libmnt_iter *it = lib.new_iter(MNT_ITER_FORWARD);
        if (!it) {
                lib.unref_table(tb);
                return -ENOMEM;
        }
        struct libmnt_fs *fs;
        r = 0;
        while (r == 0) {
                int k = lib.table_next_fs(tb, it, &fs);
                if (k != 0) {
                        r = k < 0 ? k : 0;
                        break;
                }
                MountEntry e = { .target = lib.fs_get_target(fs), .root = lib.fs_get_root(fs),
                                 .fstype = lib.fs_get_fstype(fs), .fs_options = lib.fs_get_fs_options(fs) };
                if (!e.target || !e.root || !e.fstype)
                        continue;
                r = cb(&e, userdata);
        }
        lib.free_iter(it);
        lib.unref_table(tb);
        return r;
}
