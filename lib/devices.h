/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The devices a machine may use, as one list for every enforcement: the v1
 * devices controller in direct mode, a BPF_PROG_TYPE_CGROUP_DEVICE program
 * on the unified hierarchy in direct mode (the only device control on hosts
 * with cgroup v2 alone), and systemd's DeviceAllow= in unit mode.  These are
 * the nodes berth binds into /dev (the entries with a NODE), the console and
 * ptys; every other device, host disks above all, stays closed even to a
 * privileged machine's root with CAP_MKNOD.  Every entry allows read, write and mknod. */

#include <stdbool.h>
#include <stddef.h>

#define DEVICE_MINOR_ANY (-1)

typedef struct DeviceRule {
        char type;        /* 'c' (character) or 'b' (block) */
        unsigned major;
        int minor;        /* DEVICE_MINOR_ANY: all minors of MAJOR */
        const char *unit; /* the same device as systemd's DeviceAllow= names it */
        const char *node; /* bound from the host's /dev/NODE to the machine's, if the host
                           * has it; NULL: not a host node berth binds */
} DeviceRule;

/* The list, *RET_N entries. */
const DeviceRule *device_rules(size_t *ret_n);

/* Whether the list allows device TYPE ('c' or 'b') MAJOR:MINOR: the only
 * nodes an image layer or a rootfs tarball may create. */
bool device_is_allowed(char type, unsigned major, unsigned minor);

/* A rule as the v1 devices.allow file wants it ("c 1:3 rwm", "c 136:* rwm"). */
char *device_rule_v1(const DeviceRule *rule);

/* Load the list as a BPF device program and attach it (BPF_F_ALLOW_MULTI: a
 * program below can narrow it, never widen it) to the cgroup v2 directory
 * CGROUP_FD; the kernel keeps it until the cgroup is removed.  Returns 0 or
 * -errno; does not log. */
int device_bpf_attach(int cgroup_fd);
