/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>

#include "devices.h"
#include "digest.h"
#include "fs.h"
#include "hash.h"
#include "idmap.h"
#include "log.h"
#include "oci-layer.h"
#include "util.h"

#define STREAM_BUFFER_SIZE (256 * 1024)
#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
/* Warnings for skipped device nodes, per layer; then only a count. */
#define DEVICE_WARNINGS_MAX 10

/* ----- A set of paths: what this layer created (the spec's "upper") ----- */

typedef struct PathSet {
        char **slots;
        size_t n_slots, n_used;
} PathSet;

static void path_set_done(PathSet *s) {
        for (size_t i = 0; i < s->n_slots; i++)
                free(s->slots[i]);
        free(s->slots);
        *s = (PathSet) {};
}

static bool path_set_contains(const PathSet *s, const char *p) {
        if (s->n_slots == 0)
                return false;
        for (size_t i = fnv1a64(p) & (s->n_slots - 1);; i = (i + 1) & (s->n_slots - 1)) {
                if (!s->slots[i])
                        return false;
                if (streq(s->slots[i], p))
                        return true;
        }
}

/* Returns true if P was new. */
static bool path_set_add(PathSet *s, const char *p) {
        if (path_set_contains(s, p))
                return false;
        if ((s->n_used + 1) * 2 > s->n_slots) {
                PathSet n = { .n_slots = s->n_slots ? s->n_slots * 2 : 1024 };
                n.slots = xcalloc(n.n_slots, sizeof(char *));
                for (size_t i = 0; i < s->n_slots; i++)
                        if (s->slots[i]) {
                                size_t j = fnv1a64(s->slots[i]) & (n.n_slots - 1);
                                while (n.slots[j])
                                        j = (j + 1) & (n.n_slots - 1);
                                n.slots[j] = s->slots[i];
                        }
                n.n_used = s->n_used;
                free(s->slots);
                *s = n;
        }
        size_t i = fnv1a64(p) & (s->n_slots - 1);
        while (s->slots[i])
                i = (i + 1) & (s->n_slots - 1);
        s->slots[i] = xstrdup(p);
        s->n_used++;
        return true;
}

/* P and every ancestor of it. */
static void path_set_add_with_parents(PathSet *s, const char *p) {
        _cleanup_free_ char *c = xstrdup(p);
        for (;;) {
                if (!path_set_add(s, c))
                        return; /* its ancestors are in already */
                char *slash = strrchr(c, '/');
                if (!slash)
                        return;
                *slash = 0;
        }
}

/* ----- Names ----- */

/* Clean an entry name into "a/b/c": "./" and empty components dropped.
 * Absolute names and ".." are refused, not cleaned: a layer that contains
 * them was made to escape.  "" is the root itself. */
static int clean_name(const char *name, char **ret, const char **ret_reason) {
        if (!name || !*name)
                return *ret_reason = "empty name", -EINVAL;
        /* "/" alone is the root (umoci writes it so); any other absolute name is not. */
        if (name[0] == '/' && name[strspn(name, "/.")] != 0)
                return *ret_reason = "absolute name", -EPERM;
        char *out = xmalloc(strlen(name) + 1), *o = out;
        for (const char *p = name; *p;) {
                const char *end = strchrnul(p, '/');
                size_t n = (size_t) (end - p);
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        free(out);
                        return *ret_reason = "'..' component", -EPERM;
                }
                if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (o != out)
                                *o++ = '/';
                        memcpy(o, p, n);
                        o += n;
                }
                p = *end ? end + 1 : end;
        }
        *o = 0;
        *ret = out;
        return 0;
}

/* ----- Resolving inside the rootfs ----- */

static int openat2_beneath(int dirfd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                /* No symlink at all on the way: a layer must never write
                 * through one, whoever planted it. */
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        return fd < 0 ? -errno : (int) fd;
}

typedef struct Applier {
        int rootfd;
        const LayerSpec *spec;
        PathSet upper;
        /* The last parent directory opened: entries come grouped by directory. */
        char *cached_dir;
        int cached_fd;
        /* Directories whose times are set once the layer is done, since
         * every entry written below one changes its mtime again. */
        char **dirs;
        struct timespec *dir_times;
        size_t n_dirs;
        bool xattr_warned;
        unsigned devices_skipped;
        PathSet skipped;         /* device nodes not made: hard links to them are skipped too */
        /* A user's unpacker (root of a user namespace) owns IDs below this
         * only; 0: any ID (root on the host). */
        uid_t id_limit;
        unsigned ids_squashed;
        const bool *input_ended; /* the uncompressed stream has reached its end */
} Applier;

static void applier_forget_dir(Applier *a) {
        free(a->cached_dir);
        a->cached_dir = NULL;
        closep(&a->cached_fd);
        a->cached_fd = -EBADF;
}

static void applier_done(Applier *a) {
        applier_forget_dir(a);
        path_set_done(&a->upper);
        path_set_done(&a->skipped);
        strv_free(a->dirs);
        free(a->dir_times);
}

/* ----- Overlay diffs: what the lower layers have ----- */

typedef enum LowerKind {
        LOWER_ABSENT,
        LOWER_DIR,
        LOWER_OTHER,
} LowerKind;

static bool is_whiteout(const struct stat *st) {
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(int dirfd) {
        char v[2];
        ssize_t n = fgetxattr(dirfd, OVERLAY_OPAQUE_XATTR, v, sizeof v);
        return n == 1 && v[0] == 'y';
}

/* What the merged view of the lower layers has at PATH (clean, relative,
 * not empty), as overlayfs merges them: the topmost layer that has the path
 * or hides it decides.  A whiteout hides, an opaque directory hides what
 * lies below it in lower layers, and a directory hides a lower layer's
 * non-directory of the same name.  *ret_st gets a directory's attributes,
 * or a non-directory's (LOWER_OTHER) that stands where one should be. */
static LowerKind lower_lookup(const LayerSpec *spec, const char *path, struct stat *ret_st) {
        _cleanup_free_ char *copy = xstrdup(path);
        _cleanup_strv_free_ char **comps = NULL;
        char *save = NULL;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
                comps = strv_append(comps, c);
        size_t n = strv_length(comps), dir_depth = 0; /* components a higher layer has as directories */
        for (size_t l = 0; l < spec->n_lowers; l++) {
                _cleanup_close_ int cur = openat(spec->lowers[l], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cur < 0)
                        return LOWER_ABSENT;
                for (size_t i = 0; i < n; i++) {
                        struct stat st;
                        if (fstatat(cur, comps[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                /* Not in this layer; below an opaque dir, in none. */
                                if (i > 0 && is_opaque(cur))
                                        return LOWER_ABSENT;
                                break;
                        }
                        if (is_whiteout(&st))
                                return LOWER_ABSENT;
                        if (!S_ISDIR(st.st_mode)) {
                                if (i < dir_depth)
                                        return LOWER_ABSENT;
                                *ret_st = st;
                                return LOWER_OTHER;
                        }
                        if (i + 1 == n) {
                                *ret_st = st;
                                return LOWER_DIR;
                        }
                        if (i + 1 > dir_depth)
                                dir_depth = i + 1;
                        int next = openat(cur, comps[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (next < 0)
                                return LOWER_ABSENT;
                        closep(&cur);
                        cur = next;
                }
        }
        return LOWER_ABSENT;
}

/* Make directory NAME below AT (at PATH in the tree): in an overlay diff
 * with the attributes the lower layers give it, else 0755 and root. */
static int make_parent(const LayerSpec *spec, int at, const char *name, const char *path, const char **ret_reason) {
        struct stat st;
        LowerKind k = spec->overlay_diff ? lower_lookup(spec, path, &st) : LOWER_ABSENT;
        /* A symlink a lower layer planted is the flat unpack's "through a
         * symlink": said alike. */
        if (k == LOWER_OTHER)
                return *ret_reason = S_ISLNK(st.st_mode) ? "its path goes through a symlink of a lower layer"
                                                         : "a parent is not a directory in a lower layer",
                       -ENOTDIR;
        if (mkdirat(at, name, 0755) < 0) {
                if (errno == EEXIST)
                        return 0;
                return *ret_reason = "cannot create a parent directory", -errno;
        }
        if (k != LOWER_DIR)
                return 0;
        /* Just made by us, so not a symlink. */
        if (fchownat(at, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            fchmodat(at, name, st.st_mode & 07777, 0) < 0)
                return *ret_reason = "cannot set a parent directory's owner or mode", -errno;
        return 0;
}

/* Open directory DIR ("" for the root) below the rootfs, creating missing
 * components (0755, root) when CREATE.  Returns an fd the applier owns
 * (don't close it) or -errno with *ret_reason. */
static int open_parent(Applier *a, const char *dir, bool create, const char **ret_reason) {
        if (!*dir)
                return a->rootfd;
        if (a->cached_dir && streq(a->cached_dir, dir))
                return a->cached_fd;
        applier_forget_dir(a);

        int fd = openat2_beneath(a->rootfd, dir, O_PATH | O_DIRECTORY);
        if (fd == -ENOENT && create) {
                /* Component by component, making what is missing. */
                _cleanup_close_ int cur = -EBADF;
                _cleanup_free_ char *copy = xstrdup(dir), *sofar = NULL;
                char *save = NULL;
                for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                        int at = cur >= 0 ? cur : a->rootfd;
                        strextendf(&sofar, "%s%s", sofar ? "/" : "", c);
                        int k = make_parent(a->spec, at, c, sofar, ret_reason);
                        if (k < 0)
                                return k;
                        int n = openat2_beneath(at, c, O_PATH | O_DIRECTORY);
                        if (n < 0) {
                                fd = n;
                                break;
                        }
                        closep(&cur);
                        cur = n;
                        fd = cur;
                }
                if (fd >= 0)
                        fd = TAKE_FD(cur);
        }
        if (fd == -ELOOP || fd == -EXDEV)
                return *ret_reason = "its path goes through a symlink", fd;
        if (fd == -ENOTDIR)
                return *ret_reason = "a parent is not a directory", fd;
        if (fd == -ENOENT)
                return *ret_reason = "a parent directory does not exist", fd;
        if (fd < 0)
                return *ret_reason = "cannot open its parent directory", fd;
        a->cached_dir = xstrdup(dir);
        a->cached_fd = fd;
        return fd;
}

/* Split "a/b/c" into a malloc'ed "a/b" ("" for a top-level name) and "c"
 * (a pointer into PATH). */
static char *split_path(const char *path, const char **ret_base) {
        const char *slash = strrchr(path, '/');
        *ret_base = slash ? slash + 1 : path;
        return slash ? strndup(path, (size_t) (slash - path)) : xstrdup("");
}

/* ----- Whiteouts ----- */

/* Opaque directory: remove everything below DIRFD (at PATH) that this layer
 * did not create. */
static int opaque_clear(Applier *a, int dirfd, const char *path) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_close_ int rfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return -errno;
        int r = opendir_dup(rfd, &d);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        names = strv_append(names, de->d_name);
        for (char **n = names; n && *n; n++) {
                _cleanup_free_ char *child = *path ? xasprintf("%s/%s", path, *n) : xstrdup(*n);
                if (!path_set_contains(&a->upper, child)) {
                        r = rm_rf_at(rfd, *n);
                        if (r < 0)
                                return r;
                        continue;
                }
                _cleanup_close_ int cfd = openat(rfd, *n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0)
                        continue; /* not a directory: this layer's own file */
                r = opaque_clear(a, cfd, child);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ----- Entries ----- */

static int entry_fail(const Applier *a, const char *name, int r, const char *reason) {
        _cleanup_free_ char *p = strdup_printable(name);
        errno = -r;
        return log_error_errno(r, "%s: entry '%s': %s%s%m.", a->spec->label, p, reason ?: "",
                               reason ? ": " : "");
}

/* An entry the layer may not have (its name or path leaves the tree or goes
 * through a symlink, a whiteout names nothing): the image's fault, like a
 * blob failing its check, hence -EBADMSG (a pull drops the image again,
 * import-exit.h); R, in the message, says what the kernel or the check said. */
static int entry_refuse(const Applier *a, const char *name, int r, const char *reason) {
        (void) entry_fail(a, name, r, reason);
        return -EBADMSG;
}

static int apply_xattrs(Applier *a, struct archive_entry *e, int fd) {
        const char *name;
        const void *value;
        size_t size;
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                /* Labels are the host's business, not the image's (as umoci);
                 * overlay xattrs would steer the overlayfs that ephemeral runs
                 * stack on this rootfs (redirects, metacopy origins). */
                if (streq(name, "security.selinux") || streq(name, "system.nfs4_acl") ||
                    startswith(name, "trusted.overlay.") || startswith(name, "user.overlay.")) {
                        log_debug("%s: dropping xattr %s.", a->spec->label, name);
                        continue;
                }
                if (fsetxattr(fd, name, value, size, 0) < 0) {
                        if (errno != EOPNOTSUPP && errno != EPERM)
                                return -errno;
                        if (!a->xattr_warned)
                                log_warning("%s: cannot set xattr %s here (%m), ignoring this and others.",
                                            a->spec->label, name);
                        a->xattr_warned = true;
                }
        }
        return 0;
}

/* Write the entry's data to FD; every failure is logged here. */
static int write_data(Applier *a, struct archive *ar, int fd, int64_t size, const char *path) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int64_t pos = 0;
        int ar_r;
        while ((ar_r = archive_read_data_block(ar, &buf, &len, &off)) == ARCHIVE_OK) {
                if (a->spec->limit) {
                        int r = unpack_limit_write(a->spec->limit, a->spec->label, path, len);
                        if (r < 0)
                                return r;
                }
                if (off != pos && lseek(fd, off, SEEK_SET) < 0)
                        return entry_fail(a, path, -errno, "cannot write the file");
                int r = write_all(fd, buf, len);
                if (r < 0)
                        return entry_fail(a, path, r, "cannot write the file");
                pos = off + (int64_t) len;
        }
        /* Some writers (umoci 0.4) end a layer right after the last file's
         * data, without padding or end blocks; Go's reader accepts that. All
         * data is there, and the diff_id covers every byte we did get. */
        if (ar_r != ARCHIVE_EOF && !(*a->input_ended && pos >= size)) {
                _cleanup_free_ char *p = strdup_printable(path);
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "%s: entry '%s': cannot read its data: %s",
                                       a->spec->label, p, archive_error_string(ar) ?: "truncated");
        }
        /* A sparse tail is a hole, not missing data. */
        if (pos != size && ftruncate(fd, size) < 0)
                return entry_fail(a, path, -errno, "cannot write the file");
        return 0;
}

/* A device node not made (WHY), and said so. */
static void skip_device(Applier *a, const char *path, const char *raw, char type, unsigned major, unsigned minor,
                        const char *why) {
        path_set_add(&a->skipped, path);
        if (a->devices_skipped++ >= DEVICE_WARNINGS_MAX)
                return;
        _cleanup_free_ char *p = strdup_printable(raw);
        log_warning("%s: skipping device node '%s' (%s %u:%u): %s.", a->spec->label, p,
                    type == 'b' ? "block" : "char", major, minor, why);
}

/* The same in an overlay diff: an opaque marker marks DIR (PFD) opaque, any
 * other becomes an overlayfs whiteout, where a lower layer has the path. */
static int apply_whiteout_diff(Applier *a, int pfd, const char *dir, const char *base, const char *raw) {
        if (streq(base, WHITEOUT_OPAQUE)) {
                _cleanup_close_ int dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0 || fsetxattr(dfd, OVERLAY_OPAQUE_XATTR, "y", 1, 0) < 0)
                        return entry_fail(a, raw, -errno, "cannot make the directory opaque");
                return 0;
        }
        const char *victim = base + strlen(WHITEOUT_PREFIX);
        if (!*victim || streq(victim, ".") || streq(victim, ".."))
                return entry_refuse(a, raw, -EINVAL, "whiteout without a valid name");
        _cleanup_free_ char *vpath = *dir ? xasprintf("%s/%s", dir, victim) : xstrdup(victim);
        struct stat st;
        if (path_set_contains(&a->upper, vpath) || fstatat(pfd, victim, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                return 0; /* this layer's own path: whiteouts hide lower layers only */
        if (mknodat(pfd, victim, S_IFCHR | 0, makedev(0, 0)) < 0)
                return entry_fail(a, raw, -errno, "cannot create the whiteout");
        return 0;
}

/* A whiteout entry BASE in DIR (PFD): an opaque marker clears the directory
 * of what lower layers put there, any other hides one lower-layer path. */
static int apply_whiteout(Applier *a, int pfd, const char *dir, const char *base, const char *raw) {
        if (a->spec->overlay_diff)
                return apply_whiteout_diff(a, pfd, dir, base, raw);
        int r;
        if (streq(base, WHITEOUT_OPAQUE)) {
                _cleanup_close_ int dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = dfd < 0 ? -errno : opaque_clear(a, dfd, dir);
                if (r < 0)
                        return entry_fail(a, raw, r, "cannot make the directory opaque");
                applier_forget_dir(a);
                return 0;
        }
        const char *victim = base + strlen(WHITEOUT_PREFIX);
        if (!*victim || streq(victim, ".") || streq(victim, ".."))
                return entry_refuse(a, raw, -EINVAL, "whiteout without a valid name");
        _cleanup_free_ char *vpath = *dir ? xasprintf("%s/%s", dir, victim) : xstrdup(victim);
        /* Whiteouts hide lower layers only, never this layer's files. */
        if (path_set_contains(&a->upper, vpath))
                return 0;
        r = rm_rf_at(pfd, victim);
        if (r < 0)
                return entry_fail(a, raw, r, "cannot remove the whited-out path");
        applier_forget_dir(a);
        return 0;
}

/* A hard link BASE in PFD to HARDLINK (the archive's name, untrusted),
 * which must already be in the tree, reached without symlinks. */
static int apply_hardlink(Applier *a, int pfd, const char *base, const char *raw, const char *hardlink) {
        const char *reason = NULL;
        _cleanup_free_ char *target = NULL;
        int r = clean_name(hardlink, &target, &reason);
        if (r < 0)
                return entry_refuse(a, raw, r, reason);
        if (!*target)
                return entry_refuse(a, raw, -EPERM, "hard link to the root directory");
        if (path_set_contains(&a->skipped, target)) {
                _cleanup_free_ char *p = strdup_printable(raw);
                log_warning("%s: skipping hard link '%s' to a skipped device node.", a->spec->label, p);
                return 0;
        }
        const char *tbase;
        _cleanup_free_ char *tdir = split_path(target, &tbase);
        if (!tdir)
                abort();
        /* The cache holds one dir; the target's parent gets its own fd. */
        _cleanup_close_ int tfd = *tdir ? openat2_beneath(a->rootfd, tdir, O_PATH | O_DIRECTORY) : -EBADF;
        if (*tdir && (tfd == -ELOOP || tfd == -EXDEV))
                return entry_refuse(a, raw, tfd, "hard link target goes through a symlink");
        /* A link into a lower layer is no fault of the image's: a flat
         * unpack (--copy) makes it, so the image stays. */
        if (*tdir && tfd < 0)
                return entry_fail(a, raw, tfd,
                                  a->spec->overlay_diff ? "hard link to a file of a lower layer, which a layered "
                                                          "machine cannot have (make a flat one with --copy)"
                                                        : "hard link target not found");
        if (linkat(*tdir ? tfd : a->rootfd, tbase, pfd, base, 0) < 0)
                return entry_fail(a, raw, -errno,
                                  a->spec->overlay_diff && errno == ENOENT
                                          ? "hard link to a file of a lower layer, which a layered machine cannot "
                                            "have (make a flat one with --copy)"
                                          : "cannot create the hard link");
        return 0; /* a hard link shares its target's metadata */
}

/* The IDs an unpacker may give away: any on the host (0), the machine
 * range's only in any other user namespace.  A user's unpack namespace maps
 * the user's own ID (newidmap.h) and maybe a second range above the machine
 * range; a layer must reach neither, or it could plant a setuid file owned
 * by the user on the host. */
static uid_t unpack_id_limit(void) {
        _cleanup_free_ char *map = NULL;
        if (read_file_at(AT_FDCWD, "/proc/self/uid_map", 4096, &map, NULL) < 0)
                return USERNS_RANGE_SIZE; /* cannot tell: the safe side */
        unsigned long in, out, len;
        char tail;
        if (sscanf(map, " %lu %lu %lu %c", &in, &out, &len, &tail) == 3 && in == 0 && out == 0 &&
            len == 4294967295UL)
                return 0;
        return USERNS_RANGE_SIZE;
}

/* An owner beyond the limit becomes nobody, and its set-ID bits go: the
 * machine's range has no such ID anyway, and squashing keeps images whose
 * files carry build hosts' IDs usable where refusing would fail the pull. */
static void squash_ids(Applier *a, const char *raw, uid_t *uid, gid_t *gid, mode_t *mode) {
        if (a->id_limit == 0 || (*uid < a->id_limit && *gid < a->id_limit))
                return;
        if (a->ids_squashed++ < DEVICE_WARNINGS_MAX) {
                _cleanup_free_ char *p = strdup_printable(raw);
                log_warning("%s: '%s' is owned by %u:%u, outside the machine's IDs 0-%u: made nobody's "
                            "(65534)%s.",
                            a->spec->label, p, (unsigned) *uid, (unsigned) *gid, (unsigned) a->id_limit - 1,
                            *mode & (S_ISUID | S_ISGID) ? ", without its set-ID bits" : "");
        }
        if (*uid >= a->id_limit)
                *uid = 65534;
        if (*gid >= a->id_limit)
                *gid = 65534;
        *mode &= ~(mode_t) (S_ISUID | S_ISGID);
}

static int apply_entry(Applier *a, struct archive *ar, struct archive_entry *e) {
        const char *raw = archive_entry_pathname(e);
        const char *reason = NULL;
        _cleanup_free_ char *path = NULL;
        int r = clean_name(raw, &path, &reason);
        if (r < 0)
                return entry_refuse(a, raw, r, reason);
        if (a->spec->limit) {
                r = unpack_limit_charge(a->spec->limit, a->spec->label, raw, archive_entry_size(e));
                if (r < 0)
                        return r;
        }
        if (!*path)
                return 0; /* the root directory itself keeps berth's owner and mode */

        const char *base;
        _cleanup_free_ char *dir = split_path(path, &base);
        if (!dir)
                abort();

        bool whiteout = a->spec->whiteouts && startswith(base, WHITEOUT_PREFIX);
        if (whiteout && a->spec->overlay_diff) {
                /* What it hides must be somewhere: this layer (an opaque
                 * marker's own directory) or a lower one.  Else nothing is
                 * made, not even its directory. */
                bool opaque = streq(base, WHITEOUT_OPAQUE);
                const char *victim = base + strlen(WHITEOUT_PREFIX);
                bool valid = opaque || (*victim && !streq(victim, ".") && !streq(victim, ".."));
                _cleanup_free_ char *target = opaque ? xstrdup(dir)
                                              : *dir ? xasprintf("%s/%s", dir, base + strlen(WHITEOUT_PREFIX))
                                                     : xstrdup(base + strlen(WHITEOUT_PREFIX));
                struct stat lst;
                if (valid && *target && !path_set_contains(&a->upper, target) &&
                    lower_lookup(a->spec, target, &lst) == LOWER_ABSENT)
                        return 0;
        }
        /* In an overlay diff a whiteout's directory may be a lower layer's
         * only: it is made here, as overlayfs would copy it up. */
        int pfd = open_parent(a, dir, !whiteout || a->spec->overlay_diff, &reason);
        if (pfd == -ENOENT && whiteout)
                return 0; /* hiding what does not exist */
        if (pfd == -ELOOP || pfd == -EXDEV || pfd == -ENOTDIR)
                return entry_refuse(a, raw, pfd, reason);
        if (pfd < 0)
                return entry_fail(a, raw, pfd, reason);

        if (whiteout)
                return apply_whiteout(a, pfd, dir, base, raw);

        mode_t type = archive_entry_filetype(e);
        const char *hardlink = archive_entry_hardlink(e);
        if (!hardlink && (type == AE_IFCHR || type == AE_IFBLK)) {
                char t = type == AE_IFBLK ? 'b' : 'c';
                unsigned major = (unsigned) archive_entry_rdevmajor(e), minor = (unsigned) archive_entry_rdevminor(e);
                if (!device_is_allowed(t, major, minor)) {
                        skip_device(a, path, raw, t, major, minor,
                                    "not on berth's device allow-list (null, zero, full, random, urandom, tty, "
                                    "ptmx, pts)");
                        return 0;
                }
        }
        struct stat st;
        bool exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) >= 0;
        if (exists && !(S_ISDIR(st.st_mode) && type == AE_IFDIR && !hardlink)) {
                /* A changeset replaces what was there, whatever its type. */
                r = rm_rf_at(pfd, base);
                if (r < 0)
                        return entry_fail(a, raw, r, "cannot replace the existing path");
                exists = false;
        }
        path_set_add_with_parents(&a->upper, path);

        if (hardlink)
                return apply_hardlink(a, pfd, base, raw, hardlink);

        uid_t uid = (uid_t) archive_entry_uid(e);
        gid_t gid = (gid_t) archive_entry_gid(e);
        mode_t mode = archive_entry_perm(e) & 07777;
        squash_ids(a, raw, &uid, &gid, &mode);
        struct timespec ts[2] = {
                { .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
        };
        ts[1] = ts[0]; /* atime = mtime, as umoci does: reproducible trees */

        switch (type) {
        case AE_IFREG: {
                _cleanup_close_ int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                                0600);
                if (fd < 0)
                        return entry_fail(a, raw, -errno, "cannot create the file");
                r = write_data(a, ar, fd, archive_entry_size(e), raw);
                if (r < 0)
                        return r;
                /* chown before chmod: chown clears set-id bits. */
                if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
                        return entry_fail(a, raw, -errno, "cannot set owner or mode");
                r = apply_xattrs(a, e, fd);
                if (r < 0)
                        return entry_fail(a, raw, r, "cannot set xattrs");
                if (futimens(fd, ts) < 0)
                        return entry_fail(a, raw, -errno, "cannot set times");
                return 0;
        }
        case AE_IFDIR: {
                if (!exists && mkdirat(pfd, base, 0700) < 0)
                        return entry_fail(a, raw, -errno, "cannot create the directory");
                _cleanup_close_ int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return entry_fail(a, raw, -errno, "cannot open the directory");
                if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
                        return entry_fail(a, raw, -errno, "cannot set owner or mode");
                r = apply_xattrs(a, e, fd);
                if (r < 0)
                        return entry_fail(a, raw, r, "cannot set xattrs");
                a->dirs = strv_append(a->dirs, path);
                a->dir_times = realloc(a->dir_times, sizeof(struct timespec) * (a->n_dirs + 1));
                if (!a->dir_times)
                        abort();
                a->dir_times[a->n_dirs++] = ts[0];
                return 0;
        }
        case AE_IFLNK: {
                const char *target = archive_entry_symlink(e);
                if (isempty(target))
                        return entry_refuse(a, raw, -EINVAL, "symlink without a target");
                /* Stored verbatim: berth never follows it on the host side. */
                if (symlinkat(target, pfd, base) < 0)
                        return entry_fail(a, raw, -errno, "cannot create the symlink");
                break;
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: {
                unsigned major = (unsigned) archive_entry_rdevmajor(e), minor = (unsigned) archive_entry_rdevminor(e);
                if (mknodat(pfd, base, type | 0600, type == AE_IFIFO ? 0 : makedev(major, minor)) < 0) {
                        /* A user's unpacker, root of a user namespace, makes no
                         * device node at all: the machine's devices are the
                         * ones bound into its /dev, whatever its tree has.
                         * Root on the host fails as before. */
                        if (errno == EPERM && type != AE_IFIFO && a->id_limit != 0) {
                                skip_device(a, path, raw, type == AE_IFBLK ? 'b' : 'c', major, minor,
                                            "device nodes cannot be made without root");
                                return 0;
                        }
                        return entry_fail(a, raw, -errno, "cannot create the device node or fifo");
                }
                /* Just made by us, so not a symlink: fchmodat may follow. */
                if (fchmodat(pfd, base, mode, 0) < 0)
                        return entry_fail(a, raw, -errno, "cannot set the mode");
                break;
        }
        default:
                return entry_fail(a, raw, -EBADMSG, "unsupported entry type");
        }
        if (fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return entry_fail(a, raw, -errno, "cannot set the owner");
        if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return entry_fail(a, raw, -errno, "cannot set times");
        return 0;
}

static void apply_dir_times(Applier *a) {
        /* Deepest last-listed first, so a parent's time is set after its children. */
        for (size_t i = a->n_dirs; i-- > 0;) {
                _cleanup_close_ int fd = openat2_beneath(a->rootfd, a->dirs[i], O_RDONLY | O_DIRECTORY);
                struct timespec ts[2] = { a->dir_times[i], a->dir_times[i] };
                if (fd >= 0)
                        (void) futimens(fd, ts);
        }
}

/* ----- The stream: blob -> hash -> decompress -> hash -> tar ----- */

typedef struct Stream {
        const LayerSpec *spec;
        LayerReadFunc read;
        void *userdata;
        Digest *blob_digest;
        Digest *tar_digest;
        uint64_t blob_bytes, tar_bytes;
        struct archive *decompressor;
        char *blob_buf, *tar_buf;
        int error;          /* first failure of the blob reader */
        bool tar_eof;       /* the decompressed stream ended */
        bool blob_eof;
        uint64_t next_progress;
} Stream;

static void show_progress(Stream *s, bool done) {
        if (!s->spec->progress)
                return;
        if (!done && s->blob_bytes < s->next_progress)
                return;
        s->next_progress = s->blob_bytes + (4u << 20);
        char total[32] = "";
        if (s->spec->size >= 0)
                snprintf(total, sizeof total, " of %.1f", (double) s->spec->size / (1 << 20));
        fprintf(stderr, "\rLayer %u/%u: %.1f%s MiB read, %.1f MiB unpacked%s", s->spec->index, s->spec->count,
                (double) s->blob_bytes / (1 << 20), total, (double) s->tar_bytes / (1 << 20), done ? "\n" : "");
}

static la_ssize_t blob_read_cb(struct archive *ar, void *userdata, const void **buf) {
        Stream *s = userdata;
        *buf = s->blob_buf;
        if (s->blob_eof)
                return 0;
        ssize_t n = s->read(s->userdata, s->blob_buf, STREAM_BUFFER_SIZE);
        if (n < 0) {
                s->error = (int) n;
                archive_set_error(ar, (int) -n, "reading the blob failed");
                return ARCHIVE_FATAL;
        }
        if (n == 0) {
                s->blob_eof = true;
                return 0;
        }
        s->blob_bytes += (uint64_t) n;
        /* Never read past the size the descriptor promised. */
        if (s->spec->size >= 0 && s->blob_bytes > (uint64_t) s->spec->size) {
                s->error = -EFBIG;
                archive_set_error(ar, EFBIG, "the blob is larger than its descriptor says");
                return ARCHIVE_FATAL;
        }
        if (s->blob_digest)
                digest_update(s->blob_digest, s->blob_buf, (size_t) n);
        show_progress(s, false);
        return n;
}

static la_ssize_t tar_read_cb(struct archive *ar, void *userdata, const void **buf) {
        Stream *s = userdata;
        *buf = s->tar_buf;
        la_ssize_t n = archive_read_data(s->decompressor, s->tar_buf, STREAM_BUFFER_SIZE);
        if (n < 0) {
                archive_set_error(ar, EIO, "%s", archive_error_string(s->decompressor) ?: "decompression failed");
                return ARCHIVE_FATAL;
        }
        if (n == 0)
                s->tar_eof = true;
        s->tar_bytes += (uint64_t) n;
        digest_update(s->tar_digest, s->tar_buf, (size_t) n);
        return n;
}

static void archive_read_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

static int check_digest(const LayerSpec *spec, const char *what, const char *want, Digest *d) {
        char got[DIGEST_STRING_MAX];
        digest_finish(d, got);
        if (!streq(want, got))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: %s mismatch: expected %s, got %s.", spec->label,
                                       what, want, got);
        return 0;
}

int layer_apply(int rootfd, const LayerSpec *spec, LayerReadFunc read, void *userdata) {
        DigestAlgorithm alg = DIGEST_SHA256, diff_alg = DIGEST_SHA256;
        if (spec->digest && digest_parse(spec->digest, &alg, NULL) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s: unsupported digest '%s'.", spec->label,
                                       spec->digest);
        if (spec->diff_id && digest_parse(spec->diff_id, &diff_alg, NULL) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s: unsupported diff_id '%s'.", spec->label,
                                       spec->diff_id);

        _cleanup_free_ char *blob_buf = xmalloc(STREAM_BUFFER_SIZE), *tar_buf = xmalloc(STREAM_BUFFER_SIZE);
        _cleanup_(digest_freep) Digest *blob_digest = spec->digest ? digest_new(alg) : NULL;
        _cleanup_(digest_freep) Digest *tar_digest = digest_new(diff_alg);
        _cleanup_(archive_read_freep) struct archive *dec = archive_read_new();
        _cleanup_(archive_read_freep) struct archive *tar = archive_read_new();
        if (!dec || !tar)
                abort();
        Stream s = {
                .spec = spec, .read = read, .userdata = userdata, .blob_digest = blob_digest,
                .tar_digest = tar_digest, .decompressor = dec, .blob_buf = blob_buf, .tar_buf = tar_buf,
        };

        /* The media type decides the compression; only a source without one
         * (docker-archive, plain tar) is sniffed. */
        switch (spec->compression) {
        case LAYER_COMPRESSION_GZIP:
                archive_read_support_filter_gzip(dec);
                break;
        case LAYER_COMPRESSION_ZSTD:
                archive_read_support_filter_zstd(dec);
                break;
        case LAYER_COMPRESSION_DETECT:
                archive_read_support_filter_all(dec);
                break;
        default:
                break;
        }
        archive_read_support_format_raw(dec);
        archive_read_support_format_empty(dec);
        archive_read_support_format_tar(tar);

        struct archive_entry *e;
        int hr = archive_read_open(dec, &s, NULL, blob_read_cb, NULL);
        if (hr == ARCHIVE_OK)
                hr = archive_read_next_header(dec, &e);
        /* An empty stream is an empty layer (Go's tar reader agrees). */
        bool empty = hr == ARCHIVE_EOF;
        if (hr != ARCHIVE_OK && !empty)
                return log_error_errno(s.error ?: SYNTHETIC_ERRNO(EBADMSG), "%s: cannot read the layer: %s",
                                       spec->label, archive_error_string(dec) ?: "unknown error");
        if (spec->compression != LAYER_COMPRESSION_DETECT && spec->compression != LAYER_COMPRESSION_NONE &&
            archive_filter_count(dec) < 2)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: the blob is not %s-compressed as its media type says.",
                                       spec->label, spec->compression == LAYER_COMPRESSION_GZIP ? "gzip" : "zstd");
        if (!empty && archive_read_open(tar, &s, NULL, tar_read_cb, NULL) != ARCHIVE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: not a tar stream: %s", spec->label,
                                       archive_error_string(tar) ?: "unknown error");

        _cleanup_(applier_done) Applier a = { .rootfd = rootfd, .spec = spec, .cached_fd = -EBADF,
                                              .input_ended = &s.tar_eof, .id_limit = unpack_id_limit() };
        int r = 0;
        for (; !empty;) {
                int ar_r = archive_read_next_header(tar, &e);
                if (ar_r == ARCHIVE_EOF)
                        break;
                if (ar_r < ARCHIVE_WARN && s.tar_eof && s.error == 0) {
                        /* The stream ended without end-of-archive blocks (see
                         * write_data()): the end, if the digests agree. */
                        log_debug("%s: tar stream ends without end blocks.", spec->label);
                        break;
                }
                if (ar_r < ARCHIVE_WARN) {
                        r = log_error_errno(s.error ?: SYNTHETIC_ERRNO(EBADMSG), "%s: broken tar stream: %s",
                                            spec->label, archive_error_string(tar) ?: "unknown error");
                        break;
                }
                r = apply_entry(&a, tar, e);
                if (r < 0)
                        break;
        }
        if (r < 0)
                return r;
        apply_dir_times(&a);
        if (a.devices_skipped > DEVICE_WARNINGS_MAX)
                log_warning("%s: skipped %u more device nodes.", spec->label, a.devices_skipped - DEVICE_WARNINGS_MAX);
        if (a.ids_squashed > DEVICE_WARNINGS_MAX)
                log_warning("%s: made %u more paths nobody's.", spec->label, a.ids_squashed - DEVICE_WARNINGS_MAX);

        /* Whatever follows the tar's end is part of both digests: drain it. */
        for (; !empty;) {
                const void *b;
                la_ssize_t n = tar_read_cb(tar, &s, &b);
                if (n <= 0)
                        break;
        }
        for (;;) {
                const void *b;
                la_ssize_t n = blob_read_cb(dec, &s, &b);
                if (n <= 0)
                        break;
        }
        if (s.error < 0)
                return log_error_errno(s.error, "%s: reading the blob failed: %m", spec->label);
        show_progress(&s, true);

        if (spec->size >= 0 && s.blob_bytes != (uint64_t) spec->size)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: size mismatch: expected %" PRIi64 " bytes, got %" PRIu64 ".",
                                       spec->label, spec->size, s.blob_bytes);
        if (spec->digest) {
                r = check_digest(spec, "digest", spec->digest, blob_digest);
                if (r < 0)
                        return r;
        }
        if (spec->diff_id) {
                r = check_digest(spec, "diff_id (digest of the uncompressed layer)", spec->diff_id, tar_digest);
                if (r < 0)
                        return r;
        }
        return 0;
}
