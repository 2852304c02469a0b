/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The devices a machine may use, as one list for every enforcement: the v1
 * devices controller in direct mode, a BPF_PROG_TYPE_CGROUP_DEVICE program
 * on the unified hierarchy in direct mode (the only device control on hosts
 * with cgroup v2 alone), and systemd's DeviceAllow= in unit mode.  These are
 * the nodes berth binds into /dev (the entries with a NODE), the console and
 * ptys; every other device, host disks above all, stays closed even to a
 * privileged machine's root with CAP_MKNOD.  Every built-in entry allows read,
 * write and mknod.  A machine's [Devices] Allow= lines extend the list for
 * that machine only (DeviceAllow, DeviceList). */

#include <stdbool.h>
#include <stddef.h>

#define DEVICE_MINOR_ANY (-1)

/* Access bits, as BPF_DEVCG_ACC_* and the v1 "rwm" letters. */
#define DEVICE_ACCESS_MKNOD 1u
#define DEVICE_ACCESS_READ 2u
#define DEVICE_ACCESS_WRITE 4u
#define DEVICE_ACCESS_ALL 7u

/* At most this many Allow= lines per machine. */
#define DEVICE_ALLOW_MAX 64
/* At most this many host nodes of one class go into a machine's /dev. */
#define DEVICE_CLASS_NODES_MAX 256

typedef struct DeviceRule {
        char type;        /* 'c' (character) or 'b' (block) */
        unsigned major;
        int minor;        /* DEVICE_MINOR_ANY: all minors of MAJOR */
        const char *unit; /* the same device as systemd's DeviceAllow= names it */
        const char *node; /* bound from the host's /dev/NODE to the machine's, if the host
                           * has it; NULL: not a host node berth binds */
        unsigned access;  /* DEVICE_ACCESS_* */
} DeviceRule;

/* One [Devices] Allow= line: "PATH|CLASS [ACCESS] [privileged]". */
typedef struct DeviceAllow {
        char *name;       /* "/dev/kvm", or a class as DeviceAllow= names it: "char-drm", "block-loop" */
        unsigned access;  /* DEVICE_ACCESS_*, not 0; "rwm" when the line gives none */
        bool privileged;  /* the line acknowledges a device outside the safe list */
} DeviceAllow;

/* Parse an Allow= value into RET (RET->name malloc'ed).  A device outside
 * the safe list (device_name_is_safe) without "privileged" is refused.
 * Returns 0 or -EINVAL with *RET_REASON a static text. */
int device_allow_parse(const char *value, DeviceAllow *ret, const char **ret_reason);
/* The --device form "PATH|CLASS[:ACCESS][:privileged]" as an Allow= value
 * (malloc'ed; not checked: parse it). */
char *device_allow_from_option(const char *option);
/* The value back, as device_allow_parse() takes it (malloc'ed). */
char *device_allow_format(const DeviceAllow *a);
/* "rwm", "rw", ... for ACCESS (into BUF, at least 4 bytes). */
const char *device_access_format(unsigned access, char *buf);

/* Whether PATH ("/dev/net/tun") is a node of the built-in list, in every
 * machine with every access already: an Allow= of it adds nothing. */
bool device_is_builtin_node(const char *path);

/* Whether NAME is in the safe list: devices that act only on what the
 * machine owns or that give no reach over the host's storage or memory:
 * /dev/kvm, /dev/net/tun, /dev/fuse, /dev/vhost-net, /dev/dri/<any>,
 * /dev/snd/<any>, /dev/ttyUSB<N>, /dev/ttyACM<N>, and the classes char-drm,
 * char-alsa, char-ttyUSB, char-ttyACM.  At start the host node must also be
 * the character device the name stands for (device_rule_is_safe). */
bool device_name_is_safe(const char *name);

/* The list for one machine: the built-in rules, then the configured ones
 * resolved on this host (a path to the node's own number, a class to its
 * majors in /proc/devices, and the host's nodes of those majors in /dev, up
 * to DEVICE_CLASS_NODES_MAX, so that they are in the machine's /dev too).  The rules borrow ALLOW's names: ALLOW must
 * outlive the list. */
typedef struct DeviceList {
        DeviceRule *rules;
        size_t n;
        char **nodes; /* the node names of the host nodes a class brought (owned) */
} DeviceList;

/* Build RET from ALLOW.  A configured node that is missing, not a device, a
 * symlink, or (without "privileged") not the device its safe name stands
 * for, and an unknown class, are refused: returns -errno with *RET_ERROR a
 * malloc'ed message. */
int device_list_build(const DeviceAllow *allow, size_t n_allow, DeviceList *ret, char **ret_error);
void device_list_done(DeviceList *l);

/* The built-in list, *RET_N entries. */
const DeviceRule *device_rules(size_t *ret_n);

/* Whether the list allows device TYPE ('c' or 'b') MAJOR:MINOR: the only
 * nodes an image layer or a rootfs tarball may create. */
bool device_is_allowed(char type, unsigned major, unsigned minor);

/* A rule as the v1 devices.allow file wants it ("c 1:3 rwm", "c 136:* rwm", "c 10:232 rw"). */
char *device_rule_v1(const DeviceRule *rule);

/* Load LIST as a BPF device program and attach it (BPF_F_ALLOW_MULTI: a
 * program below can narrow it, never widen it) to the cgroup v2 directory
 * CGROUP_FD; the kernel keeps it until the cgroup is removed.  Returns 0 or
 * -errno; does not log. */
int device_bpf_attach(int cgroup_fd, const DeviceList *list);
