/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "config.h"
#include "id128.h"
#include "mount.h"
#include "mount-lock.h"
#include "stub-init.h"

typedef struct LaunchParams {
        const MachineCgroup *cgroup;
        const char *hostname;
        bool hostname_configured; /* Hostname= set: also written to the guest's /etc/hostname */
        const char *init;       /* path inside the rootfs */
        MountPlan mount;
        bool own_netns;
        uint64_t caps_keep;     /* bounding set */
        uid_t uid_base;         /* > 0: user namespace mapping 0..65535 to uid_base.. */
        bool rootless;          /* started by a user: maps through newuidmap (newidmap.h), the
                                 * child clones its own trees, no cgroup */
        Ownership ownership;    /* with uid_base: idmapped rootfs, or chowned into the range */
        bool rootfs_shared;     /* the rootfs is another machine's (berth run): never chowned */
        bool stub_init;         /* PID 1 is berth's stub init (stub-init.h), not INIT */
        /* Called in the supervisor with the new network namespace, before the
         * child may go on: gives the machine its interfaces, and may return a
         * resolv.conf (malloc'ed) that replaces RESOLV_CONF.  May be NULL. */
        int (*setup_network)(void *userdata, int netns_fd, char **ret_resolv_conf);
        void *network_userdata;
        const char *resolv_conf; /* written to the guest's /etc/resolv.conf unless it is a symlink; may be NULL */
        const StubProgram *program; /* with stub_init: the machine's main program, or NULL */
        const MountStage *stage; /* with uid_base: the stage the tree is locked through
                                  * (MOUNT.stage is its path); NULL: no locking */
        Id128 machine_uuid;     /* container_uuid= where the guest has no /etc/machine-id */
} LaunchParams;

/* Start the machine's PID 1: clone3 into new mount, pid, uts, ipc (and net,
 * and user) namespaces, place it in the machine's cgroup, write its ID maps
 * and hand it an idmapped clone of the rootfs, let it build its filesystem,
 * enter a fresh cgroup namespace and exec the init.  Returns once the exec
 * happened (0, with the pid and a pidfd) or failed (-errno, logged with the
 * child's own message; the child is reaped). */
int launch_machine(const LaunchParams *p, pid_t *ret_pid, int *ret_pidfd);
