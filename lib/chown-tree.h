/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shifting the owners of a whole rootfs from one ID range to another, for
 * machines whose filesystem has no idmapped mounts (PrivateUsersOwnership=
 * chown).  The tree is a guest's: nothing is ever followed (every change is
 * made through an O_PATH fd of the inode itself, opened with O_NOFOLLOW),
 * and the walk stays on the filesystem it started on.  Like a chown(1)
 * the kernel drops setuid/setgid bits and file capabilities on every
 * chown: the mode bits are put back, file capabilities
 * (security.capability) are lost, and POSIX ACL entries naming a user or
 * group keep their unshifted IDs. */

#include <sys/types.h>

/* Every inode below DIR_FD (DIR_FD included) whose UID or GID lies in
 * [FROM, FROM+SIZE) gets TO + (ID - FROM); other IDs stay.  Running it again
 * after an interruption finishes the job (shifted inodes are outside FROM's
 * range as long as the two ranges do not overlap).  Returns 0 or -errno. */
int chown_tree_shift(int dir_fd, uid_t from, uid_t to, uid_t size);
