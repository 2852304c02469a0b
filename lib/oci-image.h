/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* OCI import: from an image source (see oci-source.h) to a rootfs plus the
 * machine configuration the image asks for.  Runs in berth-import, the
 * sandboxed helper: everything here parses untrusted input (JSON through
 * json-c, archives through libarchive).
 *
 * Resolution: index.json (nested indexes followed), a manifest picked by
 * --ref (the org.opencontainers.image.ref.name annotation or a digest) and
 * by platform (the host's unless told), its config, its layers in order.
 * Every blob's size is checked before it is read and its digest as it is
 * read; every layer's uncompressed digest against the config's diff_ids.
 *
 * Result: the rootfs, and in OUTDIR two files for berth to take in:
 * "image.conf", a machine.conf fragment ([Machine] Boot=/Init=/PoweroffSignal=/
 * Hostname=, [Exec] Command=/Environment=/WorkingDirectory=/User=), which
 * berth parses again with its strict parser, and "image", KEY=VALUE facts
 * (SOURCE_KIND, MANIFEST, CONFIG, PLATFORM, PORTS, MODE) made of safe
 * characters only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ImportBoot {
        IMPORT_BOOT_AUTO, /* boot if the command is an init, or there is no command and /sbin/init exists */
        IMPORT_BOOT_YES,
        IMPORT_BOOT_NO,
} ImportBoot;

typedef struct ImportOptions {
        const char *ref;       /* NULL: the only image (or the only one for the platform) */
        const char *platform;  /* "os/arch[/variant]"; NULL: the host's */
        ImportBoot boot;
        bool progress;
        uint64_t max_size;     /* cap on the unpacked size (unpack-limit.h); UINT64_MAX: none */
        /* create --image, in two runs.  LAYERS_DIR: unpack the layers the
         * layer store (that directory) lacks, see oci-layered.c, and list the
         * image's in OUTDIR/image-layers; ROOTFS stays empty and nothing else
         * is written.  CONFIGURE_ONLY: ROOTFS holds the image's files already
         * (berth mounted the layers there): check the image as usual, apply
         * no layer, and write OUTDIR's image.conf and image.  OCI images only. */
        const char *layers_dir;
        bool configure_only;
} ImportOptions;

/* Errors that are the caller's input rather than a broken image. */
#define IMPORT_ERROR_IS_USAGE(r) ((r) == -EMEDIUMTYPE || (r) == -ESRCH || (r) == -ENXIO)
/* Errors that are the image's content: a blob or layer failing its check,
 * or over the size limit (not the host's trouble, like ENOSPC).  berth-import
 * exits IMPORT_EXIT_IMAGE_REFUSED (import-exit.h) on them. */
#define IMPORT_ERROR_IS_IMAGE(r) ((r) == -EBADMSG || (r) == -EFBIG)

/* Import SOURCE into the empty directory ROOTFS, write OUTDIR/image.conf and
 * OUTDIR/image.  Returns 0 or -errno (logged): -EMEDIUMTYPE when SOURCE is
 * not something we import, -ESRCH for an unknown ref, -ENXIO when no
 * manifest matches the platform. */
int oci_import(const char *source, const char *rootfs, const char *outdir, const ImportOptions *o);

/* Parse "os/arch[/variant]" (--platform). */
int platform_parse(const char *s, char **ret_os, char **ret_arch, char **ret_variant);

/* The fuzzer's entry (tests/fuzz/fuzz-oci.c): TEXT goes through what an
 * image's JSON goes through, as an index (descriptors, selection; nested
 * indexes are not followed), a manifest (descriptors, media types) and an
 * image config (conversion to a machine.conf fragment, with commands looked
 * up below ROOTFD).  Aborts if the fragment does not parse back: whatever an
 * image says must become valid configuration or nothing. */
void oci_fuzz_json(const char *text, size_t len, int rootfd);
