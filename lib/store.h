/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where berth keeps things.  Default: machines and images below
 * /var/lib/berth, runtime state below /run/berth, global config
 * /etc/berth/berth.conf.  With a root override (--root DIR or $BERTH_ROOT)
 * everything lives below DIR: DIR/machines, DIR/images, DIR/run and
 * DIR/berth.conf, so tests never touch the real state. */

#include <stdbool.h>

#include "config.h"

typedef struct Store {
        char *root;        /* state root */
        char *run;         /* runtime root */
        char *config_path; /* global berth.conf */
        int root_fd;
        int machines_fd;   /* ROOT/machines */
        int images_fd;     /* ROOT/images */
        int run_fd;        /* RUN */
        int locks_fd;      /* RUN/locks */
} Store;

#define STORE_INIT { .root_fd = -1, .machines_fd = -1, .images_fd = -1, .run_fd = -1, .locks_fd = -1 }

/* ROOT/CONFIG may be NULL: then the environment, then the defaults. */
int store_open(Store *s, const char *root, const char *config);
void store_close(Store *s);

/* Serialize commands on one machine: an exclusive lock on RUN/locks/NAME.
 * Blocks (after saying so on stderr) unless NONBLOCK, which returns
 * -EWOULDBLOCK quietly.  Returns the lock fd. */
int store_lock_machine(Store *s, const char *name, bool nonblock);

int store_machine_exists(Store *s, const char *name);
/* Sorted names of all complete machines (staging dirs are hidden). */
int store_list_machines(Store *s, char ***ret);

/* Layered config of machine NAME: CLI assignments (may be NULL), machine.conf,
 * global berth.conf, defaults.  *ret_error gets a printable message. */
int store_load_config(Store *s, const char *name, char *const *cli_set, MachineConfig *ret, char **ret_error);

/* The cgroup name of machine NAME: NAME itself in the default state root,
 * "NAME@XXXXXXXX" (a hash of the root's path) in any other, so that machines
 * of two roots never share (and never destroy) each other's cgroups. '@'
 * cannot appear in a machine name. */
char *store_cgroup_name(Store *s, const char *name);

/* NAME.XXXXXXXX (the same hash), for namespaces shared by all roots where the
 * plain name is taken: machined's machine names. */
char *store_qualified_name(Store *s, const char *name);

/* A run instance ("berth run") has no rootfs of its own: the "base" file in
 * its machine dir names the base whose rootfs it boots, always ephemeral:
 * "NAME", a machine, or "image:NAME", a read-only image in
 * ROOT/images/bases/NAME/ ({rootfs/,machine.conf,info}, built once from a
 * template by "berth run").  ':' cannot appear in a machine name.
 * *ret_base is NULL for an ordinary machine. */
#define STORE_IMAGE_PREFIX "image:"
int store_machine_base(Store *s, const char *name, char **ret_base);
/* The dir of BASE (as above; malloc'ed): machines/NAME or images/bases/NAME. */
char *store_base_path(Store *s, const char *base);
/* ROOT/images/bases, made if missing; returns its fd or -errno. */
int store_open_images(Store *s);

/* Base users hold a shared lock on RUN/locks/BASE.base for as long as they
 * run; whatever would change BASE's rootfs (a persistent start, rm) needs it
 * exclusively and is refused while they run.  Returns the lock fd, or
 * -EBUSY. */
int store_lock_base(Store *s, const char *base, bool shared);
/* The same lock shared, waiting while someone holds it exclusively (images
 * prune removing a run image, for a moment): its fd or -errno. */
int store_lock_base_wait(Store *s, const char *base);

/* Remove machine NAME's dir: renamed to TMP first (so it vanishes from
 * "list" at once and a killed removal is finished by the next create of
 * NAME), then deleted; its UID range goes back to the host registry. */
int store_remove_machine(Store *s, const char *name, const char *tmp);

/* Remove the dir NAME below machines/ and all in it; without root through
 * the user namespace of its UID range (what the machine's IDs own is not
 * the user's to unlink). */
int store_rm_machine_dir(Store *s, const char *name);
/* The same for the dir NAME below PARENT_FD (PARENT_PATH in messages and
 * for rm): a user's run image of a template (images/bases) has a range. */
int store_rm_ranged_dir_at(int parent_fd, const char *parent_path, const char *name);
/* Give the range BASE of a removed dir back to the caller's registry
 * (uid-registry.h); a failure is only warned about: the next allocation
 * reclaims a stale entry. */
void store_range_release(uid_t base);
/* The same for the tree NAME below PARENT_FD whose owners are the range of
 * the dir RANGE_DIR_FD's idmap (a machine's snapshot or old rootfs: the
 * machine dir's).  PARENT_PATH may be NULL (then PARENT_FD's path).  A
 * missing NAME is removed already (0). */
int store_rm_tree_in_range(int range_dir_fd, int parent_fd, const char *parent_path, const char *name);

/* Machine NAME's UID range (idmap.h); -ENOENT if it has none yet. */
int store_machine_uid_base(Store *s, const char *name, uid_t *ret_base);

/* Path of machine NAME's dir / rootfs (malloc'ed). */
char *store_machine_path(Store *s, const char *name);
char *store_rootfs_path(Store *s, const char *name);
