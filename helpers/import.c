/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-import [--ref R] [--platform P] [--boot auto|yes|no] [--progress]
 *              [--max-size SIZE] [--layers DIR | --configure-only] SOURCE ROOTFS OUTDIR
 * Import an OCI image (layout, oci-archive, docker-archive), a plain rootfs
 * tar or an OCI runtime bundle into the empty ROOTFS, and write what the
 * image asks for into OUTDIR (see oci-image.h).  A program of its own, run
 * by berth through spawn_sandboxed(), so that untrusted JSON, tar and
 * compressed streams are parsed in a separate process, and so that berth
 * itself links neither libarchive nor OpenSSL.  --layers and
 * --configure-only are the two runs of create --image (oci-image.h).
 * Exit status: 0 done, 1 failed, 2 the input is wrong (not an image, no
 * such --ref, no such platform). */

#include <getopt.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/prctl.h>

#include "caps.h"
#include "import-exit.h"
#include "log.h"
#include "oci-image.h"
#include "unpack-limit.h"
#include "util.h"

/* What writing a tree with arbitrary owners, modes, device nodes and file
 * capabilities takes; nothing else (no mounts, no setuid, no ptrace, no
 * network, no trusted.* xattrs). */
static const int import_caps[] = {
        CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, CAP_SETFCAP,
};

/* Beyond the PID and mount namespaces berth gives us: whatever a bug in a
 * parser lets an image do, it does without network and with few privileges. */
static int confine(void) {
        if (unshare(CLONE_NEWNET) < 0)
                return log_error_errno(errno, "Failed to leave the host's network: %m");
        uint64_t keep = 0;
        for (size_t i = 0; i < ELEMENTSOF(import_caps); i++)
                keep |= UINT64_C(1) << import_caps[i];
        int r = caps_limit(keep);
        if (r < 0)
                return log_error_errno(r, "Failed to drop capabilities: %m");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(errno, "Failed to set no_new_privs: %m");
        return 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "ref", required_argument, NULL, 'r' },
                { "platform", required_argument, NULL, 'p' },
                { "boot", required_argument, NULL, 'b' },
                { "progress", no_argument, NULL, 'P' },
                { "max-size", required_argument, NULL, 'm' },
                { "layers", required_argument, NULL, 'L' },
                { "configure-only", no_argument, NULL, 'C' },
                {},
        };
        log_parse_environment();
        log_set_prefix("berth");
        ImportOptions o = { .max_size = UNPACK_MAX_SIZE_DEFAULT };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'r':
                        o.ref = optarg;
                        break;
                case 'p':
                        o.platform = optarg;
                        break;
                case 'b':
                        if (streq(optarg, "auto"))
                                o.boot = IMPORT_BOOT_AUTO;
                        else if (streq(optarg, "yes"))
                                o.boot = IMPORT_BOOT_YES;
                        else if (streq(optarg, "no"))
                                o.boot = IMPORT_BOOT_NO;
                        else
                                return 2;
                        break;
                case 'P':
                        o.progress = true;
                        break;
                case 'L':
                        o.layers_dir = optarg;
                        break;
                case 'C':
                        o.configure_only = true;
                        break;
                case 'm':
                        if (unpack_max_size_parse(optarg, &o.max_size) < 0) {
                                log_error("--max-size takes a size like 20G or 'infinity', not '%s'.", optarg);
                                return 2;
                        }
                        break;
                default:
                        return 2;
                }
        if (argc - optind != 3 || (o.layers_dir && o.configure_only)) {
                fprintf(stderr, "Usage: berth-import [--ref R] [--platform P] [--boot auto|yes|no] [--progress] "
                                "[--max-size SIZE] [--layers DIR | --configure-only] SOURCE ROOTFS OUTDIR\n");
                return 2;
        }
        if (confine() < 0)
                return EXIT_FAILURE;
        int r = oci_import(argv[optind], argv[optind + 1], argv[optind + 2], &o);
        if (r < 0)
                return IMPORT_ERROR_IS_USAGE(r) ? IMPORT_EXIT_USAGE : IMPORT_ERROR_IS_IMAGE(r) ? IMPORT_EXIT_IMAGE_REFUSED : EXIT_FAILURE;
        return EXIT_SUCCESS;
}
