/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the parts of the OCI import (oci-image.h) share; only lib/oci-*.c
 * include this:
 *   oci-json.c      json-c helpers, descriptors, reading blobs as JSON
 *   oci-platform.c  platforms: parsing, the host's, matching
 *   oci-select.c    picking the manifest from an index (--ref, platform)
 *   oci-config.c    an image config turned into machine configuration
 *   oci-docker.c    docker-archive (docker save) sources
 *   oci-bundle.c    OCI runtime bundles
 *   oci-fuzz.c      the fuzzer's entry point
 *   oci-image.c     oci_import(): the source kinds, OCI layouts, layers */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "digest.h"
#include "oci-image.h"
#include "oci-layer.h"
#include "oci-source.h"
#include "unpack-limit.h"

/* Manifests, configs and index files are small; anything bigger is hostile. */
#define JSON_MAX (4u << 20)

/* An OCI descriptor: the strings point into its JSON object. */
typedef struct Descriptor {
        const char *media_type;
        const char *digest;
        int64_t size;
        const char *os, *arch, *variant; /* platform, NULL when absent */
        const char *ref_name;
} Descriptor;

/* A platform, os/arch[/variant] (malloc'ed parts). */
typedef struct Platform {
        char *os, *arch, *variant;
} Platform;

/* The search for the one manifest that fits --ref and the platform. */
typedef struct Selection {
        const Source *source;
        const ImportOptions *options;
        Platform platform;
        char *manifest_digest;      /* the winner */
        char *manifest_media_type;
        int64_t manifest_size;
        unsigned matches;           /* manifests that fit */
        bool ref_seen;              /* some descriptor carried the ref */
        bool platform_miss;         /* a manifest was skipped for its platform */
        char *refs;                 /* the refs seen, for the error message */
} Selection;

/* What an image asks to run, from its config (or a bundle's config.json). */
typedef struct ImageExec {
        char **args;       /* Entrypoint ++ Cmd, or process.args */
        char **env;
        char *cwd;
        char *user;
        char *stop_signal;
        char *hostname;
        char *ports;       /* "80/tcp 443/tcp" */
} ImageExec;


/* oci-json.c */
void json_putp(json_object **o);
#define _cleanup_json_ _cleanup_(json_putp)
int json_parse(const char *what, const char *buf, size_t len, json_object **ret);
char *strdup_or_null(const char *s);
json_object *jget(json_object *o, const char *key, json_type type);
const char *jstr(json_object *o, const char *key);
int jstrv(json_object *o, const char *key, char ***ret);
int descriptor_parse(json_object *o, const char *what, Descriptor *ret);
char *blob_path(const char *digest);
char *short_digest(const char *digest);
int source_read_json(const Source *s, const char *name, json_object **ret);
int read_blob_json(const Source *s, const Descriptor *d, const char *what, json_object **ret);

/* oci-platform.c */
void platform_done(Platform *p);
void platform_host(Platform *ret);
bool platform_matches(const Platform *want, const char *os, const char *arch, const char *variant);
char *platform_string(const char *os, const char *arch, const char *variant);

/* oci-select.c */
void selection_done(Selection *s);
int select_in_index(Selection *sel, json_object *index, unsigned depth);

/* oci-config.c */
void image_exec_done(ImageExec *e);
int exec_to_config(int rootfd, const ImageExec *ie, ImportBoot boot, MachineConfig *c, const char **ret_mode);
int image_exec_from_config(json_object *image_config, ImageExec *ret);

/* oci-docker.c */
int import_docker(const Source *s, int rootfd, const ImportOptions *o, const Platform *platform,
                  UnpackLimit *limit, json_object **ret_config, char **ret_info);

/* oci-bundle.c */
int import_bundle(const Source *s, const char *rootfs, ImageExec *ret_exec, char **ret_info);

/* oci-layered.c: layers unpacked once into the layer store (create --image). */
typedef struct Layered {
        int layers_fd;   /* ROOT/images/layers */
        char chain[DIGEST_STRING_MAX]; /* the ChainID of the layers so far */
        char **ids;      /* their layer IDs, bottom first */
        int *trees;      /* their trees, bottom first */
        size_t n;
} Layered;
#define LAYERED_INIT { .layers_fd = -EBADF }
/* The file of OUTDIR that lists the image's layer IDs, top first. */
#define LAYERED_LIST "image-layers"
int layered_open(const char *layers_dir, Layered *ret);
void layered_done(Layered *l);
/* The layer of SPEC (blob BLOB of S) over the ones added before: reused if
 * the store has it, else unpacked as an overlayfs diff into a new one. */
int layered_add(Layered *l, const Source *s, const char *blob, LayerSpec *spec);
int layered_write_list(const Layered *l, const char *outdir);

/* oci-image.c */
LayerCompression layer_compression(const char *mt);
int apply_one(const Source *s, int rootfd, const char *name, LayerSpec *spec);
int check_config_platform(json_object *config, const Platform *want);
