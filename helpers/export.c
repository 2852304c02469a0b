/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-export --format FORMAT [--shift BASE] [--layer-fd M] [--ref REF]
 * --out-fd N TREE: write the tree TREE (a stopped machine's rootfs, its
 * merged view for a layered one) as an archive into the empty file open at
 * fd N; an oci-archive's layer waits in the empty file open at fd M until
 * its digest is known.  berth opens both with its own rights, beside the
 * archive's name: a helper that runs as root of a user's machine range
 * (which owns the tree) needs no right to the user's directories, and
 * nothing it writes is ever owned by a subordinate ID.  berth-export
 * --format oci-store --ref REF TREE STORE: the tree becomes image REF in
 * berth's image store STORE (ROOT/images, its lock held by berth: a
 * template image).  A program of its own so that berth itself never loads
 * libarchive, and so that the walk of a guest's tree happens in a separate,
 * sandboxed process (spawn_sandboxed()). */

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
                { "out-fd", required_argument, NULL, 'o' },
                { "layer-fd", required_argument, NULL, 'l' },
                {},
        };
        log_parse_environment();
        log_set_prefix("berth");
        ExportOptions o = { .format = _EXPORT_FORMAT_INVALID, .scratch_dir_fd = -EBADF, .layer_fd = -EBADF,
                            .store_fd = -EBADF };
        unsigned shift;
        int out_fd = -EBADF;
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
                case 'o':
                case 'l': {
                        int fd;
                        if (safe_atoi(optarg, &fd) < 0 || fd < 3 || fcntl(fd, F_GETFD) < 0) {
                                log_error("--%s takes an open file descriptor above 2, not '%s'.",
                                          c == 'o' ? "out-fd" : "layer-fd", optarg);
                                return 2;
                        }
                        *(c == 'o' ? &out_fd : &o.layer_fd) = fd;
                        break;
                }
                default:
                        return 2;
                }
        bool store = o.format == EXPORT_OCI_STORE;
        if (o.format < 0 || argc - optind != (store ? 2 : 1) || (store != (out_fd < 0)) ||
            (o.format == EXPORT_OCI_ARCHIVE) != (o.layer_fd >= 0) || (store && !o.ref)) {
                fprintf(stderr, "Usage: berth-export --format FORMAT [--shift BASE] [--layer-fd N] "
                                "[--ref REF] --out-fd N TREE\n"
                                "       berth-export --format oci-store --ref REF TREE STORE\n"
                                "(--layer-fd with oci-archive only, and always)\n");
                return 2;
        }
        const char *tree = argv[optind];
        _cleanup_close_ int root = open_dir_nofollow(AT_FDCWD, tree);
        if (root < 0) {
                log_error_errno(root, "Failed to open %s: %m", tree);
                return EXIT_FAILURE;
        }
        if (!store)
                return export_rootfs(root, out_fd, &o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        const char *file = argv[optind + 1];
        _cleanup_close_ int sfd = open_dir_nofollow(AT_FDCWD, file);
        if (sfd < 0) {
                log_error_errno(sfd, "Failed to open %s: %m", file);
                return EXIT_FAILURE;
        }
        if (image_store_prepare(sfd) < 0)
                return EXIT_FAILURE;
        /* The layer waits among the blobs: linked in once complete. */
        _cleanup_close_ int blobs = open_dir_nofollow(sfd, "blobs/sha256");
        if (blobs < 0) {
                log_error_errno(blobs, "Failed to open %s/blobs/sha256: %m", file);
                return EXIT_FAILURE;
        }
        o.store_fd = sfd;
        o.scratch_dir_fd = blobs;
        return export_rootfs(root, -EBADF, &o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
