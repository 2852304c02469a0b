/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Sets of host UID/GID intervals, and the IDs the host itself has handed out
 * (its users and groups, and the subordinate ranges in /etc/subuid and
 * /etc/subgid), so that machine ranges are picked where nothing else lives. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct IdInterval {
        uint64_t start, end; /* [start, end) */
} IdInterval;

typedef struct IdIntervals {
        IdInterval *v;
        size_t n, cap;
} IdIntervals;

void id_intervals_done(IdIntervals *l);
void id_intervals_add(IdIntervals *l, uint64_t start, uint64_t count);

/* Whether [START, END) overlaps an interval of L. */
bool id_intervals_overlap(const IdIntervals *l, uint64_t start, uint64_t end);

/* The lowest START, a multiple of SIZE in [MIN, MAX], such that
 * [START, START+SIZE) overlaps no interval of L; -ENOSPC if none. */
int id_intervals_first_free(IdIntervals *l, uint64_t min, uint64_t max, uint64_t size, uint64_t *ret);

/* Add the IDs reserved by the host's files below ETC_FD (normally /etc):
 * every UID of passwd, every GID of group (third field), every range of
 * subuid and subgid ("name:start:count").  Missing files are empty;
 * malformed lines are skipped (they reserve nothing the tools would honour
 * either). */
int id_intervals_add_host(IdIntervals *l, int etc_fd);

/* Add the subordinate ranges FILE ("subuid" or "subgid" below ETC_FD)
 * grants USER (by name or by UID, as newuidmap reads them).  A missing file
 * grants nothing. */
int id_intervals_add_subids(IdIntervals *l, int etc_fd, const char *file, const char *user, uid_t uid);

/* The lowest START such that [START, START+SIZE) lies in one interval of
 * UIDS, in one of GIDS, overlaps nothing of USED and is not 0, stepping
 * through each interval of UIDS from its start (a user's subordinate
 * ranges are rarely aligned); -ENOSPC if none. */
int id_intervals_first_free_within(IdIntervals *uids, const IdIntervals *gids, const IdIntervals *used,
                                   uint64_t size, uint64_t *ret);
