/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-export --format FORMAT [--shift BASE] [--ref REF] TREE FILE: write
 * the tree TREE (a stopped machine's rootfs, its merged view for a layered
 * one) into FILE, an empty regular file berth made.  With --format
 * oci-store, FILE is berth's image store (ROOT/images, its lock held by
 * berth) and the tree becomes image REF there (a template image).  A program of its own so
 * that berth itself never loads libarchive, and so that the walk of a
 * guest's tree happens in a separate, sandboxed process (spawn_sandboxed()). */

#include <fcntl.h>
#include <getopt.h>

#include "export.h"
#include "fs.h"
#include "idmap.h"
#include "image-store.h"
#include "log.h"
#include "util.h"

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "format", required_argument, NULL, 'f' },
                { "shift", required_argument, NULL, 's' },
                { "ref", required_argument, NULL, 'r' },
                {},
        };
        log_parse_environment();
        log_set_prefix("berth");
        ExportOptions o = { .format = _EXPORT_FORMAT_INVALID, .scratch_dir_fd = -EBADF, .store_fd = -EBADF };
        unsigned shift;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'f':
                        o.format = export_format_from_string(optarg);
                        if (o.format < 0) {
                                log_error("Unknown --format '%s'.", optarg);
                                return 2;
                        }
                        break;
                case 's':
                        if (safe_atou(optarg, &shift) < 0 || (shift != 0 && !idmap_base_valid(shift))) {
                                log_error("--shift takes a UID base, not '%s'.", optarg);
                                return 2;
                        }
                        o.shift = (uid_t) shift;
                        break;
                case 'r':
                        o.ref = optarg;
                        break;
                default:
                        return 2;
                }
        if (argc - optind != 2 || o.format < 0) {
                fprintf(stderr, "Usage: berth-export --format FORMAT [--shift BASE] [--ref REF] TREE FILE\n");
                return 2;
        }
        const char *tree = argv[optind], *file = argv[optind + 1];
        _cleanup_close_ int root = open_dir_nofollow(AT_FDCWD, tree);
        if (root < 0) {
                log_error_errno(root, "Failed to open %s: %m", tree);
                return EXIT_FAILURE;
        }
        if (o.format == EXPORT_OCI_STORE) {
                if (!o.ref) {
                        log_error("--format oci-store needs --ref.");
                        return 2;
                }
                _cleanup_close_ int store = open_dir_nofollow(AT_FDCWD, file);
                if (store < 0) {
                        log_error_errno(store, "Failed to open %s: %m", file);
                        return EXIT_FAILURE;
                }
                if (image_store_prepare(store) < 0)
                        return EXIT_FAILURE;
                /* The layer waits among the blobs: linked in once complete. */
                _cleanup_close_ int blobs = open_dir_nofollow(store, "blobs/sha256");
                if (blobs < 0) {
                        log_error_errno(blobs, "Failed to open %s/blobs/sha256: %m", file);
                        return EXIT_FAILURE;
                }
                o.store_fd = store;
                o.scratch_dir_fd = blobs;
                return export_rootfs(root, -EBADF, &o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        }
        _cleanup_close_ int out = open(file, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (out < 0) {
                log_error_errno(errno, "Failed to open %s: %m", file);
                return EXIT_FAILURE;
        }
        /* The layer of an oci-archive waits beside FILE: the same file system,
         * which berth checked has room for the archive. */
        const char *slash = strrchr(file, '/');
        _cleanup_free_ char *dir = slash ? strndup(file, (size_t) (slash - file)) : xstrdup(".");
        if (!dir)
                abort();
        _cleanup_close_ int scratch = open_dir_nofollow(AT_FDCWD, isempty(dir) ? "/" : dir);
        if (scratch < 0) {
                log_error_errno(scratch, "Failed to open %s: %m", dir);
                return EXIT_FAILURE;
        }
        o.scratch_dir_fd = scratch;
        return export_rootfs(root, out, &o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
