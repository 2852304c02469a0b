/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "build-config.h"
#include "fs.h"
#include "kv.h"
#include "log.h"
#include "paths.h"
#include "idmap.h"
#include "uid-registry.h"
#include "util.h"

#define ENTRY_MAX 4096

typedef enum EntryState {
        ENTRY_MISSING,
        ENTRY_STALE,      /* no live owner: reclaimable */
        ENTRY_HELD,       /* a machine dir holds the range */
        ENTRY_UNREADABLE, /* not ours to judge: the range stays taken */
} EntryState;

int uid_registry_open(const char *dir, UidRegistry *ret) {
        _cleanup_(state_paths_done) StatePaths def = {};
        int r;
        if (!dir) {
                r = state_paths_default(&def);
                if (r < 0)
                        return r;
                dir = def.uid_registry;
        }
        r = mkdir_p_at(AT_FDCWD, dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create the UID range registry %s: %m", dir);
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        if (dfd < 0)
                return log_error_errno(dfd, "Failed to open the UID range registry %s: %m", dir);
        int lock = lock_file_at(dfd, ".lock", true, true);
        if (lock < 0)
                return log_error_errno(lock, "Failed to lock the UID range registry %s: %m", dir);
        *ret = (UidRegistry) { .path = xstrdup(dir), .dir_fd = TAKE_FD(dfd), .lock_fd = lock };
        return 0;
}

void uid_registry_close(UidRegistry *reg) {
        closep(&reg->lock_fd);
        closep(&reg->dir_fd);
        free(reg->path);
        *reg = (UidRegistry) UID_REGISTRY_INIT;
}

static char *entry_name(uid_t base) {
        return xasprintf("%08x", (unsigned) base);
}

/* An entry's file name back to its base; -EINVAL for anything else (the
 * lock, temporary files, foreign names). */
static int parse_entry_name(const char *name, uid_t *ret) {
        if (strlen(name) != 8 || strspn(name, "0123456789abcdef") != 8)
                return -EINVAL;
        unsigned long v = strtoul(name, NULL, 16);
        if (!idmap_base_valid(v))
                return -EINVAL;
        *ret = (uid_t) v;
        return 0;
}

/* The owner path of an entry; -EBADMSG unless it is "OWNER=/abs/path" and
 * nothing else, with no ".." that could walk the check elsewhere. */
static int read_entry(int dir_fd, const char *name, char **ret_owner) {
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(dir_fd, name, ENTRY_MAX, &kv);
        if (r < 0)
                return r;
        const char *v = key_values_get(&kv, "OWNER");
        size_t n = v ? strlen(v) : 0;
        if (kv.n != 1 || n < 2 || v[0] != '/' || v[n - 1] == '/' || path_has_dotdot(v))
                return -EBADMSG;
        *ret_owner = xstrdup(v);
        return 0;
}

static bool dir_holds(int parent_fd, const char *name, uid_t base) {
        _cleanup_close_ int dfd = open_dir_nofollow(parent_fd, name);
        uid_t b;
        return dfd >= 0 && idmap_read_at(dfd, &b) >= 0 && b == base;
}

/* Which machine dir holds BASE: OWNER itself, else a sibling of OWNER (a
 * staging dir renamed into place), never EXCLUDE (a path or NULL).  The
 * holder's path goes to *RET_HOLDER (may be NULL).  Returns 1 if held, 0 if
 * not. */
static int find_holder(const char *owner, uid_t base, const char *exclude, char **ret_holder) {
        const char *slash = strrchr(owner, '/');
        _cleanup_free_ char *parent = slash == owner ? xstrdup("/") : strndup(owner, (size_t) (slash - owner));
        if (!parent)
                abort();
        _cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
                return 0;
        if (!streq_ptr(owner, exclude) && dir_holds(pfd, slash + 1, base)) {
                if (ret_holder)
                        *ret_holder = xstrdup(owner);
                return 1;
        }
        _cleanup_closedir_ DIR *d = NULL;
        if (opendir_dup(pfd, &d) < 0)
                return 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, slash + 1) ||
                    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
                        continue;
                _cleanup_free_ char *p = xasprintf("%s/%s", streq(parent, "/") ? "" : parent, de->d_name);
                if (streq_ptr(p, exclude) || !dir_holds(pfd, de->d_name, base))
                        continue;
                if (ret_holder)
                        *ret_holder = TAKE_PTR(p);
                return 1;
        }
        return 0;
}

static int write_entry(UidRegistry *reg, const char *name, const char *owner) {
        _cleanup_free_ char *text = xasprintf("OWNER=%s\n", owner);
        return write_file_atomic_at(reg->dir_fd, name, text, strlen(text), 0600);
}

/* The state of BASE's entry, judged without EXCLUDE; a holder other than
 * the named owner is written back into the entry so the next look is
 * direct. */
static EntryState entry_state(UidRegistry *reg, uid_t base, const char *exclude, char **ret_owner) {
        _cleanup_free_ char *name = entry_name(base), *owner = NULL, *holder = NULL;
        int r = read_entry(reg->dir_fd, name, &owner);
        if (r == -ENOENT)
                return ENTRY_MISSING;
        if (r < 0) {
                log_warning_errno(r, "Unreadable UID range entry %s/%s (%m): its range stays unused. Remove the "
                                  "file if no machine uses UIDs %u-%u.",
                                  reg->path, name, (unsigned) base, (unsigned) (base + USERNS_RANGE_SIZE - 1));
                return ENTRY_UNREADABLE;
        }
        if (find_holder(owner, base, exclude, &holder) == 0)
                return ENTRY_STALE;
        if (!streq(holder, owner))
                (void) write_entry(reg, name, holder);
        if (ret_owner)
                *ret_owner = TAKE_PTR(holder);
        return ENTRY_HELD;
}

int uid_registry_collect(UidRegistry *reg, IdIntervals *used) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(reg->dir_fd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d))) {
                uid_t base;
                if (parse_entry_name(de->d_name, &base) < 0)
                        continue;
                switch (entry_state(reg, base, NULL, NULL)) {
                case ENTRY_STALE:
                        log_debug("Reclaiming the stale UID range entry %s.", de->d_name);
                        if (unlinkat(reg->dir_fd, de->d_name, 0) < 0)
                                return -errno;
                        break;
                case ENTRY_HELD:
                case ENTRY_UNREADABLE:
                        id_intervals_add(used, base, USERNS_RANGE_SIZE);
                        break;
                case ENTRY_MISSING:
                default:
                        break;
                }
        }
        return 0;
}

int uid_registry_claim(UidRegistry *reg, uid_t base, const char *owner, char **reterr_holder) {
        _cleanup_free_ char *name = entry_name(base), *holder = NULL, *current = NULL;
        /* Ours already: the common case at every start. */
        if (read_entry(reg->dir_fd, name, &current) >= 0 && streq(current, owner))
                return 0;
        switch (entry_state(reg, base, owner, &holder)) {
        case ENTRY_HELD:
                log_debug("UID range %s is held by %s.", name, holder);
                if (reterr_holder)
                        *reterr_holder = TAKE_PTR(holder);
                return -EADDRINUSE;
        case ENTRY_UNREADABLE:
                if (reterr_holder)
                        *reterr_holder = NULL;
                return -EADDRINUSE;
        case ENTRY_MISSING:
        case ENTRY_STALE:
        default:
                return write_entry(reg, name, owner);
        }
}

int uid_registry_release(UidRegistry *reg, uid_t base) {
        _cleanup_free_ char *name = entry_name(base);
        if (entry_state(reg, base, NULL, NULL) != ENTRY_STALE)
                return 0;
        return RET_NERRNO(unlinkat(reg->dir_fd, name, 0));
}

int uid_registry_release_base(uid_t base) {
        _cleanup_(uid_registry_close) UidRegistry reg = UID_REGISTRY_INIT;
        int r = uid_registry_open(NULL, &reg);
        if (r < 0)
                return r;
        return uid_registry_release(&reg, base);
}
