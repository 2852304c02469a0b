/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* berth cp over a connection (berth -H HOST cp, and its remote end
 * `berth cp - NAME:PATH` / `berth cp NAME:PATH -`): the files travel as a
 * tar archive of one top-level entry, written and read by the system's
 * tar(1) with numeric owners, into and out of a private staging directory
 * on each side.  The copy between that directory and a machine or the
 * host's destination is berth cp's own (lib/copy.c), so the rules of a
 * local copy (paths resolved inside the machine, owners shifted, setuid
 * bits dropped on the way out) hold unchanged; the staging directory costs
 * the space of one more copy while it lasts. */

#include <stdbool.h>
#include <sys/types.h>

/* A staging directory is $TMPDIR/berth-cp-RANDOM (else /var/tmp), mode
 * 0700, locked (flock) while in use, holding "tree", the files. */
#define STREAM_DIR_PREFIX "berth-cp-"

typedef struct StreamDir {
        int parent_fd;  /* the directory it was made in ($TMPDIR, else /var/tmp) */
        char *name;     /* berth-cp-RANDOM below parent_fd */
        char *top_path; /* its whole path, for messages */
        int top_fd;     /* holds the lock */
        char *path;     /* TOP_PATH/tree, for tar -C */
        int fd;         /* TOP_PATH/tree: open the files below it by this fd, never by path */
} StreamDir;

#define STREAM_DIR_INIT { .parent_fd = -EBADF, .top_fd = -EBADF, .fd = -EBADF }

/* A new empty staging directory.  0 or -errno (logged). */
int stream_dir_make(StreamDir *ret);
/* Removes it and everything in it. */
void stream_dir_done(StreamDir *d);
/* Removes the staging directories of killed cps (their lock is free), for
 * berth gc.  How many were removed, or -errno. */
int stream_dir_gc(bool verbose);
/* The one entry the unpacked archive holds (malloc'ed); -EBADMSG (logged)
 * if it holds none or several. */
int stream_dir_single_entry(const StreamDir *d, char **ret_name);

/* tar: NAME below DIR archived onto OUT_FD, or an archive from IN_FD
 * unpacked into DIR, in the background; wait with stream_tar_wait(). */
int stream_tar_pack(const char *dir, const char *name, int out_fd, pid_t *ret_pid);
int stream_tar_unpack(const char *dir, int in_fd, pid_t *ret_pid);
/* 0, or -EIO if tar failed (logged). */
int stream_tar_wait(pid_t pid);
