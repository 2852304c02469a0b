/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Attaching detached mounts (the new mount API) to a tree that is not ours
 * to trust: a machine's rootfs, while it is built (the supervisor's child)
 * or while it runs (berth bind).  Every target is opened with
 * chase_in_root() and CHASE_NO_SYMLINKS, so a guest symlink can never
 * redirect a mount; every mount is attached to that fd.  And the one maker
 * of a bind's detached tree, used for the binds of a start and for live
 * ones. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "binds.h"
#include "util.h"

/* Write FMT ("%m" is R) into BUF and return -abs(R): for code whose errors
 * travel as text (a child reporting to its parent). */
_printf_(4, 5) int errbuf_printf(char *buf, size_t len, int r, const char *fmt, ...);

/* PATH (absolute, inside the machine) as its components joined by single
 * slashes, without the leading one: what the functions below take. */
char *mount_target_path(const char *path);

/* Open (creating if missing, with MODE) a directory or file mount target
 * PATH below DIRFD, never through a symlink.  Returns an O_PATH fd. */
int mount_open_target(int dirfd, const char *path, bool dir, mode_t mode);

/* Create the missing directories above TARGET, each inside the root and
 * never through a symlink. */
int mount_make_parents(int rootfd, const char *target);

/* Attach the detached mount MFD onto TARGET below ROOTFD (created if
 * missing). */
int mount_attach(int mfd, int rootfd, const char *target, bool dir);

/* A detached clone of bind B's source, opened once by its host path (the
 * host's own: symlinks in it are the admin's), nosuid and nodev, read-only
 * if asked, and idmapped through USERNS (-1: not) or one made for
 * "rootidmap" from UID_BASE (0: no user namespace, no idmapping).  Called
 * with host privileges.  -errno with a message in ERRBUF. */
int bind_tree_make(const BindSpec *b, int userns, uid_t uid_base, int *ret, char *errbuf, size_t errlen);

/* For a user's machine, called as the user on the host: open B's source
 * without following any symlink (RESOLVE_NO_SYMLINKS: the user's paths are
 * not the admin's), check that the caller may read it (and search it, a
 * directory) with its own credentials, and record which inode that was in
 * B (source_dev, source_ino).  bind_tree_make() then clones only that
 * inode, resolved the same way: the machine's root, whose path walk is not
 * the user's, never reaches what the user could not read.  Directories and
 * regular files only.  -errno with a message in ERRBUF. */
int bind_source_pin(BindSpec *b, char *errbuf, size_t errlen);

/* For a user's machine, called as root of its user namespace: the detached
 * bind TREE (of B, pinned) made locked, as mount-lock.h does for root's, so
 * the machine's root cannot undo its read-only, nosuid or nodev flags.  The
 * kernel locks a mount's flags when it copies the mount into a namespace
 * owned by another user namespace: TREE is attached in a namespace of a
 * fresh child user namespace of ours, and copied back into one of ours.
 * *RET: the locked tree; TREE stays the caller's to close.  -errno. */
int bind_tree_lock(int tree, const BindSpec *b, int *ret);
