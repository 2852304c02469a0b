/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>

#include "fs.h"
#include "idmap.h"
#include "idrange.h"
#include "log.h"
#include "uid-registry.h"
#include "userns.h"
#include "util.h"

/* The ranges of every machine dir of this state root, staging ones included:
 * machines made before the host-wide registry existed have no entry. */
static int collect_root_ranges(int machines_fd, const char *machines_path, IdIntervals *used) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(machines_fd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_close_ int m = open_dir_nofollow(dirfd(d), de->d_name);
                uid_t b;
                if (m < 0)
                        continue;
                int k = idmap_read_at(m, &b);
                if (k == -ENOENT)
                        continue;
                /* A range we cannot read might be in use: never hand it out twice. */
                if (k < 0)
                        return log_error_errno(k, "Cannot read the UID range of %s (%s/%s/idmap): %m. "
                                               "Fix or remove that file.", de->d_name, machines_path, de->d_name);
                id_intervals_add(used, b, USERNS_RANGE_SIZE);
        }
        return 0;
}

/* Every range taken: the registry's, and those of this state root's
 * machine dirs. */
static int collect_taken(int machines_fd, const char *machines_path, UidRegistry *reg, IdIntervals *used) {
        int r = uid_registry_collect(reg, used);
        if (r < 0)
                return log_error_errno(r, "Failed to read the UID range registry %s: %m", reg->path);
        return collect_root_ranges(machines_fd, machines_path, used);
}

/* A user's machines take their ranges from the user's own subordinate IDs:
 * newuidmap maps nothing else for them. */
static int allocate_user_range(int machines_fd, const char *machines_path, UidRegistry *reg, uid_t *ret) {
        uid_t uid = geteuid();
        struct passwd *pw = getpwuid(uid);
        if (!pw)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT),
                                       "UID %u has no entry in the user database; berth needs your user name to "
                                       "find your subordinate IDs in /etc/subuid.", (unsigned) uid);
        _cleanup_free_ char *user = xstrdup(pw->pw_name);
        _cleanup_(id_intervals_done) IdIntervals uids = {}, gids = {}, used = {};
        _cleanup_close_ int etc = open_dir_nofollow(AT_FDCWD, "/etc");
        if (etc < 0)
                return log_error_errno(etc, "Failed to open /etc: %m");
        int r = id_intervals_add_subids(&uids, etc, "subuid", user, uid);
        if (r >= 0)
                r = id_intervals_add_subids(&gids, etc, "subgid", user, uid);
        if (r < 0)
                return log_error_errno(r, "Failed to read /etc/subuid or /etc/subgid: %m");
        if (uids.n == 0 || gids.n == 0)
                return log_error_errno(SYNTHETIC_ERRNO(ENOSPC),
                                       "User %s has no subordinate IDs in %s: a machine without root needs a "
                                       "range of %u of them. Ask the admin to run 'usermod --add-subuids "
                                       "N-M --add-subgids N-M %s' (or add '%s:100000:%u' lines to /etc/subuid "
                                       "and /etc/subgid).", user, uids.n == 0 ? "/etc/subuid" : "/etc/subgid",
                                       USERNS_RANGE_SIZE, user, user, USERNS_RANGE_SIZE);
        r = collect_taken(machines_fd, machines_path, reg, &used);
        if (r < 0)
                return r;
        uint64_t base;
        r = id_intervals_first_free_within(&uids, &gids, &used, USERNS_RANGE_SIZE, &base);
        if (r < 0)
                return log_error_errno(r, "All subordinate ID ranges of user %s in /etc/subuid and /etc/subgid "
                                       "are taken by machines (each needs %u IDs, in both files). Remove a "
                                       "machine, or ask the admin for a larger range in /etc/subuid and "
                                       "/etc/subgid.", user, USERNS_RANGE_SIZE);
        *ret = (uid_t) base;
        return 0;
}

/* The IDs the host has handed out (its users and groups, and the lines of
 * /etc/subuid and /etc/subgid), added to USED.  Logs. */
static int collect_host(IdIntervals *used) {
        _cleanup_close_ int etc = open_dir_nofollow(AT_FDCWD, "/etc");
        if (etc < 0)
                return log_error_errno(etc, "Failed to open /etc: %m");
        int r = id_intervals_add_host(used, etc);
        if (r < 0)
                return log_error_errno(r, "Failed to read the host's users and subordinate ID ranges in /etc: %m");
        return 0;
}

static int allocate_range(int machines_fd, const char *machines_path, UidRegistry *reg, uid_t *ret) {
        if (geteuid() != 0)
                return allocate_user_range(machines_fd, machines_path, reg, ret);
        _cleanup_(id_intervals_done) IdIntervals used = {};
        int r = collect_host(&used);
        if (r < 0)
                return r;
        r = collect_taken(machines_fd, machines_path, reg, &used);
        if (r < 0)
                return r;
        uint64_t base;
        r = id_intervals_first_free(&used, USERNS_BASE_MIN, USERNS_BASE_MAX, USERNS_RANGE_SIZE, &base);
        if (r < 0)
                return log_error_errno(r, "No free UID range left for another machine.");
        *ret = (uid_t) base;
        return 0;
}

/* Root's ranges are picked where no host user, group or line of
 * /etc/subuid or /etc/subgid is; an admin may hand such IDs out later
 * (useradd picks subordinate ranges from SUB_UID_MIN..SUB_UID_MAX, which
 * covers berth's), and whoever has them could map them and reach the
 * machine's processes and files.  1 if BASE's range is the host's now, 0
 * if not (and always for a user, whose ranges are their own subordinate
 * IDs), -errno (logged). */
static int range_granted_by_host(uid_t base) {
        if (geteuid() != 0)
                return 0;
        _cleanup_(id_intervals_done) IdIntervals host = {};
        int r = collect_host(&host);
        if (r < 0)
                return r;
        return id_intervals_overlap(&host, base, (uint64_t) base + USERNS_RANGE_SIZE);
}

/* Whether a user's machine dir carries USERNS_SHARED_FILE. */
static bool shares_for_good(int machine_dir_fd) {
        return geteuid() != 0 &&
               faccessat(machine_dir_fd, USERNS_SHARED_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Whether the machine dir at HOLDER (a path the registry gave) shares its
 * range for good too: the machines of one clone --overlay family all carry
 * the marker, and while one of them has the range nothing else is given
 * it, so a marked holder of the same range is of our family. */
static bool holder_shares(const char *holder) {
        _cleanup_close_ int dfd = holder ? open_dir_nofollow(AT_FDCWD, holder) : -EBADF;
        return dfd >= 0 && shares_for_good(dfd);
}

/* Claim BASE for OWNER, as uid_registry_claim() does; for a SHARED machine
 * a holder that shares the range for good too (holder_shares()) counts as
 * ours: 0 then, not -EADDRINUSE. */
static int claim_range(UidRegistry *reg, uid_t base, const char *owner, bool shared) {
        _cleanup_free_ char *holder = NULL;
        int r = uid_registry_claim(reg, base, owner, &holder);
        if (r == -EADDRINUSE && shared && holder_shares(holder))
                return 0;
        return r;
}

/* userns_ensure_range_at(); a SHARED machine keeps a range another machine
 * that shares it holds (holder_shares()), and only that. */
static int ensure_range(int machines_fd, const char *machines_path, int machine_dir_fd, bool shared,
                        uid_t *ret_base) {
        _cleanup_free_ char *owner = NULL;
        int r = fd_get_path(machine_dir_fd, &owner);
        if (r < 0)
                return log_error_errno(r, "Cannot find the path of the machine directory: %m");

        /* One allocation at a time on the whole host. */
        _cleanup_(uid_registry_close) UidRegistry reg = UID_REGISTRY_INIT;
        r = uid_registry_open(NULL, &reg);
        if (r < 0)
                return r;

        uid_t base;
        r = idmap_read_at(machine_dir_fd, &base);
        int granted = r >= 0 ? range_granted_by_host(base) : 0;
        if (granted < 0)
                return granted;
        if (granted > 0)
                /* Moved like a doubly held range, below (a chowned rootfs is
                 * shifted at start, ownership_ensure()); the old entry goes
                 * stale once the new idmap is written. */
                log_warning("UID range %u-%u of %s now has IDs of a host user or of a line of /etc/subuid or "
                            "/etc/subgid; giving it a new range.",
                            (unsigned) base, (unsigned) (base + USERNS_RANGE_SIZE - 1), owner);
        else if (r >= 0) {
                r = claim_range(&reg, base, owner, shared);
                if (r != -EADDRINUSE) {
                        if (r < 0)
                                return log_error_errno(r, "Failed to register the UID range of %s: %m", owner);
                        *ret_base = base;
                        return 0;
                }
                /* Two machines hold one range (made before the registry, or a
                 * copied machine dir): the later one moves.  An idmapped rootfs
                 * keeps its files unshifted on disk, so nothing else changes. */
                log_warning("UID range %u-%u of %s is also used by another machine; giving it a new range.",
                            (unsigned) base, (unsigned) (base + USERNS_RANGE_SIZE - 1), owner);
        } else if (r != -ENOENT)
                return log_error_errno(r, "Cannot read %s/idmap: %m. Fix or remove that file.", owner);

        r = allocate_range(machines_fd, machines_path, &reg, &base);
        if (r < 0)
                return r;
        /* The claim first: killed before the idmap is written, the entry is stale. */
        r = uid_registry_claim(&reg, base, owner, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to register UID range %u: %m", (unsigned) base);
        r = idmap_write_at(machine_dir_fd, base);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s/idmap: %m", owner);
        *ret_base = base;
        return 0;
}

int userns_ensure_range_at(int machines_fd, const char *machines_path, int machine_dir_fd, uid_t *ret_base) {
        return ensure_range(machines_fd, machines_path, machine_dir_fd, false, ret_base);
}

/* Whether BASE, a machine's range in store S, is the user's image store's
 * (userns_image_range()), whose claim covers the machines of its layers. */
static bool in_image_range(Store *s, uid_t base) {
        uid_t image_base;
        return geteuid() != 0 && idmap_read_at(s->images_fd, &image_base) >= 0 && base == image_base;
}

int userns_ensure_range(Store *s, int machine_dir_fd, uid_t *ret_base) {
        _cleanup_free_ char *machines = xasprintf("%s/machines", s->root);
        uid_t base;
        /* A user's machine of image layers shares the image store's range
         * (userns_image_range()): the store's claim covers it, and a claim
         * of its own would find the range taken and move the machine away
         * from the IDs its layers have. */
        if (idmap_read_at(machine_dir_fd, &base) >= 0 && in_image_range(s, base)) {
                *ret_base = base;
                return 0;
        }
        /* So do machines that share a range for good (USERNS_SHARED_FILE):
         * whichever holds the claim covers the others (the registry counts
         * every machine dir with the range as a holder). */
        return ensure_range(s->machines_fd, machines, machine_dir_fd, shares_for_good(machine_dir_fd),
                            ret_base);
}

int userns_range_follow(Store *s, int machine_dir_fd) {
        uid_t base;
        int r = idmap_read_at(machine_dir_fd, &base);
        if (r == -ENOENT || (r >= 0 && in_image_range(s, base)))
                return 0;
        if (r < 0)
                return r;
        _cleanup_free_ char *owner = NULL;
        _cleanup_(uid_registry_close) UidRegistry reg = UID_REGISTRY_INIT;
        r = fd_get_path(machine_dir_fd, &owner);
        if (r >= 0)
                r = uid_registry_open(NULL, &reg);
        /* A machine of its clone --overlay family holding it covers it. */
        if (r >= 0)
                r = claim_range(&reg, base, owner, shares_for_good(machine_dir_fd));
        return r;
}

int userns_image_range(Store *s, uid_t *ret_base) {
        if (geteuid() == 0) {
                *ret_base = 0;
                return 0;
        }
        _cleanup_free_ char *machines = xasprintf("%s/machines", s->root);
        return userns_ensure_range_at(s->machines_fd, machines, s->images_fd, ret_base);
}

/* What work on a user's image store's range starts with, where the store
 * has a range (HAS_RANGE: its base in *RET_BASE) or has none (!HAS_RANGE):
 * 1, with the registry open and locked in *RET_REG and the path of the
 * store's machines dir (for messages) in *RET_MACHINES.  0: nothing to do
 * (root's store needs no range, or the store is not as HAS_RANGE says). */
static int image_range_open(Store *s, bool has_range, uid_t *ret_base, UidRegistry *ret_reg,
                            char **ret_machines) {
        if (geteuid() == 0)
                return 0;
        uid_t base = 0;
        bool has = idmap_read_at(s->images_fd, &base) >= 0;
        if (has != has_range)
                return 0;
        int r = uid_registry_open(NULL, ret_reg);
        if (r < 0)
                return r;
        *ret_base = base;
        *ret_machines = xasprintf("%s/machines", s->root);
        return 1;
}

int userns_image_range_check(Store *s) {
        uid_t base;
        _cleanup_free_ char *machines = NULL;
        _cleanup_(uid_registry_close) UidRegistry reg = UID_REGISTRY_INIT;
        int r = image_range_open(s, false, &base, &reg, &machines);
        if (r <= 0)
                return r;
        return allocate_range(s->machines_fd, machines, &reg, &base);
}

int userns_image_range_release(Store *s) {
        uid_t base;
        _cleanup_free_ char *machines = NULL;
        /* Under the registry's lock: no allocation reads the idmap files
         * while the store's goes. */
        _cleanup_(uid_registry_close) UidRegistry reg = UID_REGISTRY_INIT;
        int r = image_range_open(s, true, &base, &reg, &machines);
        if (r <= 0)
                return r;
        /* A machine dir with the range (a machine of the store's layers,
         * made or being made) keeps it, whatever the layer store holds, and
         * so does a dir of the store with it (a template's tree being built);
         * so does one whose idmap cannot be read (logged). */
        _cleanup_free_ char *images = xasprintf("%s/images", s->root);
        _cleanup_(id_intervals_done) IdIntervals used = {};
        r = collect_root_ranges(s->machines_fd, machines, &used);
        if (r >= 0)
                r = collect_root_ranges(s->images_fd, images, &used);
        if (r < 0)
                return r;
        for (size_t i = 0; i < used.n; i++)
                if (used.v[i].start <= base && base < used.v[i].end)
                        return 0;
        if (unlinkat(s->images_fd, "idmap", 0) < 0)
                return log_error_errno(errno, "Failed to remove %s/images/idmap: %m", s->root);
        /* Killed here, the entry is stale (its owner has no idmap): the
         * next allocation reclaims it. */
        r = uid_registry_release(&reg, base);
        if (r < 0)
                log_warning_errno(r, "Failed to release UID range %u of %s/images, the next allocation reclaims "
                                  "it: %m", (unsigned) base, s->root);
        return 0;
}
