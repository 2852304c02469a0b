/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Image references as users write them, for berth pull, images and rmi:
 *   debian:12                      -> docker.io/library/debian:12
 *   host:5000/team/app:tag         -> as written
 *   quay.io/org/app@sha256:<hex>   -> by digest (a tag may come too)
 * The registry is the first component when it looks like a host (has a '.'
 * or a ':', or is "localhost"), else the default registry (berth.conf
 * [Image] DefaultRegistry=, docker.io unless set); Docker Hub's one-word
 * repositories live in "library/".  No tag and no digest means ":latest".
 * Nothing is looked up: this is syntax only, and strict, since the parts
 * end up in URLs and in index.json. */

#include <stdbool.h>

/* Longer than any valid reference (registry 255, repository 255, tag 128,
 * digest 135 and separators), so a formatted one always parses again. */
#define IMAGE_REF_MAX 1024
#define IMAGE_REF_DEFAULT_REGISTRY "docker.io"

typedef struct ImageRef {
        char *registry;   /* "docker.io", "127.0.0.1:5000", "[::1]:5000" */
        char *repository; /* "library/debian" */
        char *tag;        /* NULL when only a digest was given */
        char *digest;     /* "sha256:<64 hex>", "sha512:<128 hex>"; or NULL */
} ImageRef;

void image_ref_done(ImageRef *r);

/* Parse S.  DEFAULT_REGISTRY NULL means docker.io.  Returns 0, or -EINVAL
 * with *ret_reason (static text) saying what is wrong. */
int image_ref_parse(const char *s, const char *default_registry, ImageRef *ret, const char **ret_reason);

/* The full reference: "registry/repository[:tag][@digest]" (malloc'ed). */
char *image_ref_format(const ImageRef *r);

/* Is HOST (a registry as above, port included) on this machine: localhost,
 * 127.0.0.0/8 or [::1]?  Such registries may speak plain HTTP. */
bool image_ref_registry_is_loopback(const char *registry);

/* Check a registry host[:port] as it may appear in a reference or in
 * berth.conf: 0 or -EINVAL. */
int image_ref_registry_valid(const char *registry);

/* Is S a valid tag: letters, digits, '_', '.' and '-', not starting
 * with '.' or '-', at most 128 (what follows the ':' of a reference). */
bool image_ref_tag_valid(const char *s);

/* Check "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>". */
bool image_digest_valid(const char *digest);
