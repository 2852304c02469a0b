/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Sets of host UID/GID intervals, and the IDs the host itself has handed out
 * (its users and groups, and the subordinate ranges in /etc/subuid and
 * /etc/subgid), so that machine ranges are picked where nothing else lives. */

#include <stddef.h>
#include <stdint.h>

typedef struct IdInterval {
        uint64_t start, end; /* [start, end) */
} IdInterval;

typedef struct IdIntervals {
        IdInterval *v;
        size_t n, cap;
} IdIntervals;

void id_intervals_done(IdIntervals *l);
void id_intervals_add(IdIntervals *l, uint64_t start, uint64_t count);

/* The lowest START, a multiple of SIZE in [MIN, MAX], such that
 * [START, START+SIZE) overlaps no interval of L; -ENOSPC if none. */
int id_intervals_first_free(IdIntervals *l, uint64_t min, uint64_t max, uint64_t size, uint64_t *ret);

/* Add the IDs reserved by the host's files below ETC_FD (normally /etc):
 * every UID of passwd, every GID of group (third field), every range of
 * subuid and subgid ("name:start:count").  Missing files are empty;
 * malformed lines are skipped (they reserve nothing the tools would honour
 * either). */
int id_intervals_add_host(IdIntervals *l, int etc_fd);
