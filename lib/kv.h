/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The small KEY=VALUE files berth writes for itself in the store (a
 * machine's info, idmap and base files, the import helper's "image" facts):
 * one reader, strict about their shape, so that each caller only asks for
 * the keys it wants and judges their values.
 *
 * The shape: lines "KEY=VALUE", KEY of A-Z, 0-9 and '_', VALUE anything up
 * to the newline (possibly empty); the last newline may be missing.  An
 * empty line, a line without '=', a bad key, a key given twice or a NUL
 * byte makes the whole file malformed (-EBADMSG): such a file was not
 * written by berth, and half of it is not better than none. */

#include <stddef.h>

typedef struct KeyValues {
        char *text;    /* the text, split in place */
        size_t n;      /* entries */
        char **keys;   /* n pointers into text */
        char **values; /* n pointers into text */
} KeyValues;

#define KEY_VALUES_INIT {}
void key_values_done(KeyValues *kv);

/* Split LEN bytes of TEXT (copied).  0, or -EBADMSG (*RET then empty). */
int key_values_parse(const char *text, size_t len, KeyValues *ret);
/* Read and split the regular file NAME below DIR_FD, not following a
 * symlink, at most MAX bytes.  0, -EBADMSG, or read_file_at()'s -errno. */
int key_values_read_at(int dir_fd, const char *name, size_t max, KeyValues *ret);
/* The value of KEY, or NULL if the file has none. */
const char *key_values_get(const KeyValues *kv, const char *key);
