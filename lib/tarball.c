/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "devices.h"
#include "log.h"
#include "tarball.h"
#include "unpack-limit.h"
#include "util.h"

/* Warnings for skipped device nodes; then only a count. */
#define DEVICE_WARNINGS_MAX 10

static void archive_read_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}
static void archive_write_freep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}

/* Whether E is a device node to leave out: not on the allow-list, or a hard
 * link to one left out before (SKIPPED, names as the archive has them). */
static bool skip_device(const char *tarball, struct archive_entry *e, char ***skipped, unsigned *n_skipped) {
        const char *name = archive_entry_pathname(e) ?: "?", *hl = archive_entry_hardlink(e);
        mode_t type = archive_entry_filetype(e);
        if (hl) {
                if (!strv_contains(*skipped, hl))
                        return false;
                _cleanup_free_ char *p = strdup_printable(name);
                log_warning("%s: skipping hard link '%s' to a skipped device node.", tarball, p);
                return true;
        }
        if (type != AE_IFCHR && type != AE_IFBLK)
                return false;
        char t = type == AE_IFBLK ? 'b' : 'c';
        unsigned major = (unsigned) archive_entry_rdevmajor(e), minor = (unsigned) archive_entry_rdevminor(e);
        if (device_is_allowed(t, major, minor))
                return false;
        *skipped = strv_append(*skipped, name);
        if ((*n_skipped)++ < DEVICE_WARNINGS_MAX) {
                _cleanup_free_ char *p = strdup_printable(name);
                log_warning("%s: skipping device node '%s' (%s %u:%u): not on berth's device allow-list "
                            "(null, zero, full, random, urandom, tty, ptmx, pts).",
                            tarball, p, t == 'b' ? "block" : "char", major, minor);
        }
        return true;
}

int archive_unpack_rootfs(const char *tarball, const char *dir, uint64_t max_size) {
        _cleanup_(archive_read_freep) struct archive *in = archive_read_new();
        _cleanup_(archive_write_freep) struct archive *out = archive_write_disk_new();
        if (!in || !out)
                abort();
        archive_read_support_filter_all(in);
        archive_read_support_format_tar(in);
        archive_read_support_format_gnutar(in);

        archive_write_disk_set_options(out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                    ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_XATTR |
                                                    ARCHIVE_EXTRACT_FFLAGS | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
        /* No user/group lookup is installed on purpose: owners stay numeric, the
         * host's user database means nothing for a guest. */

        _cleanup_close_ int fd = open(tarball, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", tarball);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Cannot inspect %s: %m", tarball);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s is not a regular file.", tarball);
        if (archive_read_open_fd(in, fd, 1 << 16) != ARCHIVE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Cannot read %s: %s", tarball,
                                       archive_error_string(in));

        /* Relative names are resolved against DIR: work from inside it. */
        _cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0 || chdir(dir) < 0)
                return log_error_errno(errno, "Cannot enter %s: %m", dir);
        _cleanup_close_ int dirfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", dir);
        UnpackLimit limit = UNPACK_LIMIT_INIT(max_size, dirfd);

        bool tty = isatty(STDERR_FILENO);
        uint64_t entries = 0;
        _cleanup_strv_free_ char **skipped = NULL;
        unsigned n_skipped = 0;
        int r = 0;
        for (;;) {
                struct archive_entry *e;
                int ar = archive_read_next_header(in, &e);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN) {
                        r = log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s is not a valid tarball: %s", tarball,
                                            archive_error_string(in));
                        break;
                }
                const char *name = archive_entry_pathname(e);
                /* Hard link targets are names in the tree too: keep them relative. */
                const char *hl = archive_entry_hardlink(e);
                if (hl && (hl[0] == '/' || path_has_dotdot(hl))) {
                        r = log_error_errno(SYNTHETIC_ERRNO(EPERM), "%s: hard link '%s' -> '%s' leaves the tree.",
                                            tarball, name, hl);
                        break;
                }
                if (skip_device(tarball, e, &skipped, &n_skipped))
                        continue;
                /* Names in messages are the archive's: made printable there. */
                r = unpack_limit_charge(&limit, tarball, name, archive_entry_size(e));
                if (r < 0)
                        break;
                ar = archive_write_header(out, e);
                if (ar < ARCHIVE_WARN) {
                        r = log_error_errno(SYNTHETIC_ERRNO(EPERM), "%s: refusing entry '%s': %s", tarball,
                                            name ?: "?", archive_error_string(out));
                        break;
                }
                if (archive_entry_size(e) > 0) {
                        const void *buf;
                        size_t size;
                        la_int64_t off;
                        while ((ar = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK) {
                                r = unpack_limit_write(&limit, tarball, name, size);
                                if (r < 0)
                                        break;
                                if (archive_write_data_block(out, buf, size, off) < ARCHIVE_WARN) {
                                        ar = ARCHIVE_FATAL;
                                        break;
                                }
                        }
                        if (r < 0)
                                break;
                        if (ar != ARCHIVE_EOF) {
                                r = log_error_errno(SYNTHETIC_ERRNO(EIO), "%s: failed to extract '%s': %s",
                                                    tarball, name, archive_error_string(in) ?: archive_error_string(out));
                                break;
                        }
                }
                if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
                        r = log_error_errno(SYNTHETIC_ERRNO(EIO), "%s: failed to finish '%s': %s", tarball, name,
                                            archive_error_string(out));
                        break;
                }
                entries++;
                if (tty && entries % 512 == 0)
                        fprintf(stderr, "\rUnpacking %s: %llu entries", tarball, (unsigned long long) entries);
        }
        if (tty && entries >= 512)
                fprintf(stderr, "\rUnpacking %s: %llu entries, done.\n", tarball, (unsigned long long) entries);
        if (n_skipped > DEVICE_WARNINGS_MAX)
                log_warning("%s: skipped %u more device nodes.", tarball, n_skipped - DEVICE_WARNINGS_MAX);
        if (r >= 0 && archive_write_close(out) != ARCHIVE_OK)
                r = log_error_errno(SYNTHETIC_ERRNO(EIO), "%s: %s", tarball, archive_error_string(out));
        if (fchdir(cwd) < 0 && r >= 0)
                r = -errno;
        return r;
}
