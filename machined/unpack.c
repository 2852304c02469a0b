/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-unpack TARBALL DIR: unpack a rootfs tarball into the empty DIR.
 * A program of its own so that parsing an untrusted archive happens in a
 * separate, sandboxed process (berth runs it with spawn_sandboxed()), and so
 * that berth itself does not load libarchive and its many libraries on
 * every command. */

#include "log.h"
#include "tarball.h"
#include "util.h"

int main(int argc, char **argv) {
        log_parse_environment();
        log_set_prefix("berth");
        if (argc != 3) {
                fprintf(stderr, "Usage: berth-unpack TARBALL DIR\n");
                return 2;
        }
        return archive_unpack_rootfs(argv[1], argv[2]) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
