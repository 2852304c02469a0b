/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Host directories and files inside a machine ([Files] Bind=, BindReadOnly=,
 * TemporaryFileSystem=, and --bind, --bind-ro, --tmpfs): the one parser of
 * their values, used by the configuration (to refuse bad input at parse
 * time) and by the supervisor (to mount them). */

#include <stdbool.h>
#include <sys/types.h>

/* Whose IDs the files of a bind show inside a machine with a user namespace
 * (without one the host's IDs are the machine's and this does not apply). */
typedef enum BindIdmap {
        BIND_IDMAP_ROOT,  /* "rootidmap", the default: the owner of SRC is root inside
                           * (its group root's group), every other ID unmapped */
        BIND_IDMAP_ID,    /* "idmap": host ID N is N inside, for N below 65536 */
        BIND_IDMAP_NONE,  /* "noidmap": the raw host IDs, which the machine's range
                           * does not contain, so they show as nobody */
        _BIND_IDMAP_MAX,
} BindIdmap;

typedef struct BindSpec {
        char *source;      /* absolute host path */
        char *destination; /* absolute path inside the machine */
        bool read_only;
        bool recursive;    /* "rbind" (default): the mounts below SRC come along */
        BindIdmap idmap;
        bool idmap_set;    /* OPTIONS named one of idmap, rootidmap, noidmap */
        /* A user's machine (bind_source_pin(), mount-tree.h): the source as
         * the user was checked to read it; 0 if not pinned. */
        dev_t source_dev;
        ino_t source_ino;
} BindSpec;

typedef struct TmpfsSpec {
        char *destination;
        bool read_only;
        char *mode; /* octal, NULL: 0755 */
        char *size; /* as tmpfs takes it (bytes, k, m, g or %), NULL: the kernel's default */
} TmpfsSpec;

/* PATH with each ':' and '\' escaped by a '\', as a field of a Bind= or
 * TemporaryFileSystem= value (malloc'ed). */
char *bind_path_escape(const char *path);

/* SRC[:DST[:OPTIONS]] ("\:" is a ':' of a path, "\\" a backslash, as
 * nspawn takes them), OPTIONS comma-separated from ro, rw, rbind,
 * norbind, idmap, rootidmap, noidmap.  READ_ONLY (BindReadOnly=, --bind-ro)
 * makes it read-only whatever OPTIONS say.  Returns 0 or -EINVAL with a
 * static *ret_reason. */
int bind_spec_parse(const char *s, bool read_only, BindSpec *ret, const char **ret_reason);
void bind_spec_done(BindSpec *b);

/* Whether DST may be a bind's destination in a machine: absolute, without
 * "." or "..", not over the machine's API filesystems.  0 or -EINVAL with a
 * static *ret_reason. */
int bind_destination_check(const char *dst, const char **ret_reason);

/* DST[:OPTIONS], OPTIONS comma-separated from ro, rw, mode=OCTAL, size=SIZE. */
int tmpfs_spec_parse(const char *s, TmpfsSpec *ret, const char **ret_reason);
void tmpfs_spec_done(TmpfsSpec *t);

const char *bind_idmap_to_string(BindIdmap m);
