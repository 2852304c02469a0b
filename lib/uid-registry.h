/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host-wide registry of machine UID ranges, shared by every state root
 * (BERTH_ROOT, --root) on the host: STATEDIR/uid-ranges/ (normally
 * /var/lib/berth/uid-ranges), one file per range, named by its base in hex
 * ("00080000"), holding "OWNER=/canonical/path/of/the/machine/dir".  All
 * changes happen under an exclusive lock on its ".lock" file.
 *
 * An entry is only a claim: the truth is the owner's own "idmap" file.  An
 * entry whose owner is gone, or whose owner's idmap names another range, is
 * stale and reclaimable, so a state root deleted with rm -rf leaks nothing.
 * Because create builds machines under a staging name and renames them, the
 * other machine dirs next to the named owner count as owners too.  Entries
 * berth cannot read (a symlink, not a regular file, garbage) are never
 * followed, never handed out and never removed: their range stays taken and
 * a warning names the file to remove. */

#include <stdint.h>
#include <sys/types.h>

#include "idrange.h"

typedef struct UidRegistry {
        char *path;
        int dir_fd;
        int lock_fd;
} UidRegistry;

#define UID_REGISTRY_INIT { .dir_fd = -EBADF, .lock_fd = -EBADF }

/* Open (creating it 0700) and lock the registry at DIR (NULL: the
 * caller's: the host's for root, the user's own for anyone else, paths.h). */
int uid_registry_open(const char *dir, UidRegistry *ret);
void uid_registry_close(UidRegistry *reg);

/* Add every range held by a live owner (and every unreadable entry) to
 * USED; remove the stale entries on the way. */
int uid_registry_collect(UidRegistry *reg, IdIntervals *used);

/* Claim BASE for the machine dir at OWNER (a canonical absolute path).
 * -EADDRINUSE if another live machine dir holds it (or its entry is
 * unreadable); a missing or stale entry is replaced.  On -EADDRINUSE,
 * *RETERR_HOLDER (may be NULL) gets the holder's path, or NULL for an
 * unreadable entry. */
int uid_registry_claim(UidRegistry *reg, uid_t base, const char *owner, char **reterr_holder);

/* Drop BASE's entry unless a live owner still holds it. */
int uid_registry_release(UidRegistry *reg, uid_t base);

/* The same in the host's registry, opened and closed for it (after rm).
 * Returns 0 or -errno, logs only failures to open the registry. */
int uid_registry_release_base(uid_t base);
