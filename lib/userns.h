/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Each machine owns a private range of 65536 host UIDs/GIDs: its root is host
 * UID BASE, never host root.  The range is chosen once (at create, or at the
 * first start of an older machine), kept in the machine's "idmap" file, and
 * unique on the host: the registry of uid-registry.h is shared by all state
 * roots, and no range covers an ID of the host's /etc/passwd, /etc/group,
 * /etc/subuid or /etc/subgid.  Ranges start at 0x80000 (above any normal user
 * or system ID) and are aligned to 0x10000, as with systemd-nspawn's -U.
 *
 * Run by any other user than root, the same call takes the range out of
 * that user's own lines in /etc/subuid and /etc/subgid (where the setuid
 * newuidmap lets it map them, newidmap.h), recorded in the user's registry
 * (paths.h); it fails naming those files when none is left. */

#include <sys/types.h>

#include "idmap.h"
#include "store.h"


/* Return the range of the machine whose directory (possibly still a staging
 * dir) is MACHINE_DIR_FD, allocating and persisting one if it has none, and
 * registering it host-wide.  A range another machine already holds (two
 * machines made before the registry existed) is replaced by a new one.
 * Serialized across the host by the registry's lock.  Logs its errors. */
int userns_ensure_range(Store *s, int machine_dir_fd, uid_t *ret_base);

/* This file in a user's machine dir says the machine shares its range with
 * other machines of the user for good (a user's clone --overlay and its
 * source: their layer's files carry the range's IDs on disk, and without
 * idmapped mounts no machine can see them in another range).
 * userns_ensure_range() then leaves it in its range while another machine
 * with this file holds it; a holder without it still moves it.  clone
 * writes it to the source only once the clone is committed. */
#define USERNS_SHARED_FILE "range-shared"

/* After a rename of the machine dir MACHINE_DIR_FD of S: point the
 * registry's claim of its range at the dir's new path.  Never allocates or
 * moves a range: nothing to do for a machine without one, one in the
 * image store's range (the store's claim covers it) or one whose range a
 * machine sharing it for good holds (USERNS_SHARED_FILE).  Left undone, the
 * registry still finds the dir (uid-registry.h counts siblings of the named
 * owner).  0 or -errno (-EADDRINUSE: another machine holds the range). */
int userns_range_follow(Store *s, int machine_dir_fd);

/* The same for a machine dir that is no store's (berth-oci's state dir of a
 * container): MACHINES_FD is the dir that holds it and its siblings, whose
 * idmap files count as taken too; MACHINES_PATH names it in messages. */
int userns_ensure_range_at(int machines_fd, const char *machines_path, int machine_dir_fd, uid_t *ret_base);

/* A user's image store (ROOT/images) has a range of its own, allocated and
 * registered as a machine's (its "idmap" file in ROOT/images) when its
 * first layer is unpacked, and given back when its last one goes: layers are
 * unpacked as root of a namespace mapped to it, so their files belong to
 * it on disk, and the user's machines made from those layers boot in it,
 * as run instances boot in their base's (without host root there is no
 * idmapped mount to show a layer in another range).  Root's store needs
 * none: *RET_BASE is 0.  Logs its errors. */
int userns_image_range(Store *s, uid_t *ret_base);

/* Whether userns_image_range() would find a range, without claiming one:
 * so that a pull fails before fetching anything, and a pull that then
 * fails takes no range from the user's machines.  Logs its errors. */
int userns_image_range_check(Store *s);

/* Give the image store's range back (its idmap and its registry entry)
 * once nothing has it: the layer store is empty (the caller knows: it
 * holds layers_lock(), under which every layer is made and every user's
 * machine of layers is given the range) and no machine dir of ROOT/machines
 * (staging ones included) nor dir of ROOT/images (a template build) has it.  The next unpack claims one again.
 * Nothing to do for root or a store without one.  0 or -errno (logged). */
int userns_image_range_release(Store *s);
