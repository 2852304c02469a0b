/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-unpack [--max-size SIZE] TARBALL DIR: unpack a rootfs tarball into
 * the empty DIR.  A program of its own so that parsing an untrusted archive
 * happens in a separate, sandboxed process (berth runs it with
 * spawn_sandboxed()), and so that berth itself does not load libarchive and
 * its many libraries on every command. */

#include <getopt.h>

#include "log.h"
#include "tarball.h"
#include "unpack-limit.h"
#include "util.h"

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "max-size", required_argument, NULL, 'm' },
                {},
        };
        log_parse_environment();
        log_set_prefix("berth");
        uint64_t max_size = UNPACK_MAX_SIZE_DEFAULT;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'm':
                        if (unpack_max_size_parse(optarg, &max_size) < 0) {
                                log_error("--max-size takes a size like 20G or 'infinity', not '%s'.", optarg);
                                return 2;
                        }
                        break;
                default:
                        return 2;
                }
        if (argc - optind != 2) {
                fprintf(stderr, "Usage: berth-unpack [--max-size SIZE] TARBALL DIR\n");
                return 2;
        }
        return archive_unpack_rootfs(argv[optind], argv[optind + 1], max_size) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
