/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A machine's UID range and its "idmap" file ("UID_BASE=N\nUID_SIZE=65536\n"
 * in the machine's directory).  The range's size and the bounds of its base
 * are here, with the one check every reader of a base applies: userns.h
 * allocates ranges, uid-registry.h records them host-wide, and both read
 * idmap files through this module (which depends on neither). */

#include <stdbool.h>
#include <sys/types.h>

#include "util.h"

#define USERNS_RANGE_SIZE 0x10000U
#define USERNS_BASE_MIN 0x80000U
#define USERNS_BASE_MAX 0x6FFF0000U

/* A base berth could have handed out: for root in bounds and aligned to the
 * range size; for any other caller (whose ranges come from /etc/subuid, see
 * subid.h) any range that fits in 32 bits. */
bool idmap_base_valid(unsigned long base);

/* The base in MACHINE_DIR_FD's idmap file: -ENOENT without one, -EBADMSG or
 * -ERANGE for a malformed one. */
int idmap_read_at(int machine_dir_fd, uid_t *ret_base);

/* Write BASE to MACHINE_DIR_FD's idmap file, atomically. */
int idmap_write_at(int machine_dir_fd, uid_t base);
