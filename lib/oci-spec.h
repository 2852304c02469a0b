/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An OCI runtime bundle's config.json (runtime spec 1.0/1.1), the part
 * berth-oci acts on, parsed and checked as a whole before anything is done
 * with it: wrong types, relative paths where the spec wants absolute ones,
 * ".." in container paths, unknown namespace types and oversized arrays are
 * refused with a message naming the field ("mounts[3].destination: ...").
 * Fields the spec defines but berth-oci does not act on are ignored, as
 * runc ignores what it does not know.  The config comes from the engine
 * (root), but a bundle is often built from an image: treat it as input to
 * check, not to trust. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OCI_SPEC_MAX_SIZE (4u << 20)
#define OCI_SPEC_MAX_ARRAY 4096u   /* args, env, mounts, paths, syscalls, ... */
#define OCI_SPEC_MAX_IDMAP 340u    /* the kernel's limit of uid_map lines */

typedef struct OciMount {
        char *destination; /* absolute, no ".." */
        char *type;        /* NULL: a bind when the options say so */
        char *source;
        char **options;
} OciMount;

typedef struct OciIdMap {
        uint32_t container_id, host_id, size;
} OciIdMap;

typedef struct OciRlimit {
        int resource; /* RLIMIT_* */
        uint64_t soft, hard;
} OciRlimit;

typedef enum OciNsType {
        OCI_NS_PID,
        OCI_NS_NET,
        OCI_NS_IPC,
        OCI_NS_UTS,
        OCI_NS_MNT,
        OCI_NS_USER,
        OCI_NS_CGROUP,
        _OCI_NS_MAX,
} OciNsType;

typedef struct OciNamespace {
        bool wanted;
        char *path; /* join this one (absolute); NULL: a new one */
} OciNamespace;

/* linux.devices: a node to create in the container's /dev. */
typedef struct OciDevice {
        char *path;
        char type; /* 'c', 'b', 'p' ('u' is taken as 'c') */
        uint32_t major, minor;
        mode_t mode;
        uid_t uid;
        gid_t gid;
} OciDevice;

/* linux.resources.devices: the cgroup's device rules, in order. */
typedef struct OciDeviceRule {
        bool allow;
        char type;       /* 'a', 'c', 'b' */
        int64_t major;   /* -1: any */
        int64_t minor;   /* -1: any */
        unsigned access; /* DEVICE_ACCESS_* bits (devices.h) */
} OciDeviceRule;

typedef struct OciHook {
        char *path;
        char **args;
        char **env;
        int timeout; /* seconds, 0: none */
} OciHook;

typedef enum OciHookKind {
        OCI_HOOK_PRESTART,
        OCI_HOOK_CREATE_RUNTIME,
        OCI_HOOK_POSTSTART,
        OCI_HOOK_POSTSTOP,
        _OCI_HOOK_MAX,
} OciHookKind;

typedef struct OciSeccompArg {
        unsigned index;
        uint64_t value, value_two;
        int op; /* enum scmp_compare */
} OciSeccompArg;

typedef struct OciSeccompRule {
        char **names;
        uint32_t action; /* SCMP_ACT_* */
        OciSeccompArg *args;
        size_t n_args;
} OciSeccompRule;

typedef struct OciSeccomp {
        uint32_t default_action;
        uint32_t *arches; /* SCMP_ARCH_* */
        size_t n_arches;
        OciSeccompRule *rules;
        size_t n_rules;
} OciSeccomp;

/* The capability sets; bit N is capability N. */
typedef struct OciCaps {
        uint64_t bounding, effective, inheritable, permitted, ambient;
} OciCaps;

/* linux.resources, the limits berth-oci writes to the container's cgroup;
 * also the whole of an "update --resources" file.  As for runc, an absent
 * or zero value leaves a limit as it is; -1 lifts a memory or pids limit. */
typedef struct OciResources {
        bool has_memory, has_pids, has_cpu_shares, has_cpu_quota, has_cpu_period;
        uint64_t memory_limit; /* bytes; UINT64_MAX: unlimited */
        uint64_t pids_limit;   /* UINT64_MAX: unlimited */
        uint64_t cpu_shares;   /* v1 shares, 2..262144 */
        int64_t cpu_quota;     /* microseconds per period; -1: none */
        uint64_t cpu_period;   /* microseconds */
} OciResources;

/* "process", also the whole of an exec's --process file. */
typedef struct OciProcess {
        bool terminal;
        char **args;
        char **env;
        char *cwd;
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
        bool has_caps;
        OciCaps caps;
        OciRlimit *rlimits;
        size_t n_rlimits;
        bool no_new_privileges;
        bool has_oom_score_adj;
        int oom_score_adj;
} OciProcess;

typedef struct OciSpec {
        char *oci_version;
        OciProcess process;
        char *root_path; /* as written: relative to the bundle or absolute */
        bool root_readonly;
        char *hostname;
        OciMount *mounts;
        size_t n_mounts;
        OciNamespace ns[_OCI_NS_MAX];
        OciIdMap *uid_maps, *gid_maps;
        size_t n_uid_maps, n_gid_maps;
        char **masked_paths;
        char **readonly_paths;
        OciDevice *devices;
        size_t n_devices;
        OciDeviceRule *device_rules;
        size_t n_device_rules;
        char *cgroups_path;
        uint64_t memory_limit; /* bytes; UINT64_MAX: unset or unlimited */
        int64_t pids_limit;    /* 0: unset; -1: unlimited */
        OciResources resources; /* the same and the CPU's, as update takes them */
        char **annotations;    /* "key=value" pairs */
        OciSeccomp *seccomp;   /* NULL: none */
        char **sysctl;         /* "key=value" pairs */
        OciHook *hooks[_OCI_HOOK_MAX];
        size_t n_hooks[_OCI_HOOK_MAX];
} OciSpec;

/* Parse the JSON text BUF (LEN bytes) as a config.json into RET.  On error
 * returns -EINVAL (or -E2BIG for size limits) with *RET_ERROR a malloc'ed
 * message and RET untouched. */
int oci_spec_parse(const char *buf, size_t len, OciSpec *ret, char **ret_error);

/* The same for the "process" object alone (exec --process FILE). */
int oci_process_parse(const char *buf, size_t len, OciProcess *ret, char **ret_error);

/* The same for an "update --resources" file: LinuxResources alone. */
int oci_resources_parse(const char *buf, size_t len, OciResources *ret, char **ret_error);

/* The value of annotation KEY of S, NULL if it has none. */
const char *oci_spec_annotation(const OciSpec *s, const char *key);

void oci_spec_done(OciSpec *s);
void oci_process_done(OciProcess *p);

/* "pid", "network", ... as the spec names them. */
const char *oci_ns_name(OciNsType t);
/* The CLONE_NEW* flag of T. */
int oci_ns_flag(OciNsType t);
const char *oci_hook_name(OciHookKind k);
