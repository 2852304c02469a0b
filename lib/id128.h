/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* 128-bit IDs as systemd uses them: a machine-id (32 hex digits) and the
 * same bits as a UUID ("8-4-4-4-12"), for the boot IDs berth gives its
 * machines and their container_uuid. */

#include <stdint.h>

typedef struct Id128 {
        uint8_t bytes[16];
} Id128;

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and its NUL. */
#define ID128_UUID_STRING_MAX 37

/* A random ID, marked as a version 4 (random) UUID. */
int id128_randomize(Id128 *ret);

/* Parse 32 hex digits or a UUID, optionally followed by one newline (a
 * machine-id file).  An all-zero ID is -EINVAL: it means "none". */
int id128_parse(const char *s, Id128 *ret);

/* ID as a UUID string, written into BUF, which is returned. */
char *id128_to_uuid(const Id128 *id, char buf[static ID128_UUID_STRING_MAX]);
