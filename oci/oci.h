/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* berth-oci, a runc-compatible OCI runtime on lib/.  What its parts share:
 *   main.c     options and verbs
 *   state.c    the state directory ROOT/ID: state.json, the exec fifo, status
 *   create.c   create: the runtime's side of the launch
 *   rootfs.c   the container init's side: mounts, devices, pivot_root
 *   process.c  what every container process gets before exec: user, caps,
 *              rlimits, seccomp (create's init and exec alike)
 *   sync.c     the messages between the runtime and its children
 *   hooks.c    OCI hooks
 *   verbs.c    start, state, kill, delete, ps, exec
 *   resources.c  pause, resume, update: the cgroup of a running container
 *   profile.c  the machine profile of an init container
 *   notify.c   READY=1 from the container to the engine's NOTIFY_SOCKET
 *   machine.c  a machine-profile container to machined and `berth list`
 *   scope.c    the systemd cgroup manager: a container's transient scope */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "cgroup.h"
#include "oci-spec.h"
#include "util.h"

#define OCI_DEFAULT_ROOT "/run/berth-oci"
#define OCI_VERSION "1.1.0"

typedef struct OciOptions {
        const char *root;
        bool systemd_cgroup;
        /* create and exec */
        const char *bundle;
        const char *pid_file;
        const char *console_socket;
        const char *process;
        bool no_pivot;
        bool detach;
        bool tty;
        unsigned preserve_fds;
        /* kill and delete */
        bool all;
        bool force;
        const char *format;
        /* update */
        const char *resources;
} OciOptions;

typedef enum OciStatus {
        OCI_STATUS_CREATING,
        OCI_STATUS_CREATED,
        OCI_STATUS_RUNNING,
        OCI_STATUS_PAUSED,
        OCI_STATUS_STOPPED,
} OciStatus;

typedef enum OciProfile {
        OCI_PROFILE_NONE,
        OCI_PROFILE_MACHINE,
} OciProfile;

#define OCI_PROFILE_ANNOTATION "org.berth.profile"
#define OCI_NAME_ANNOTATION "org.berth.name"

/* What ROOT/ID/state.json keeps. */
typedef struct OciState {
        char *id;
        pid_t pid;
        unsigned long long starttime;
        char *bundle;
        char *rootfs;
        char *created;
        char *cgroup; /* MachineCgroup group, relative to each hierarchy */
        OciProfile profile;
        uid_t uid_base; /* the machine profile's ID range (0: none) */
        char *notify_socket; /* the engine's NOTIFY_SOCKET at create, or NULL */
        char *machine_name; /* the machine profile: its machine name */
        char *registered;   /* the name machined knows it by, or NULL */
        char *scope;        /* its systemd scope (scope.c), whose cgroup is CGROUP; or NULL */
} OciState;

/* state.c */
int oci_id_validate(const char *id);
int oci_state_dir_open(const char *root, const char *id, int *ret);
int oci_state_write(int dirfd, const OciState *s);
int oci_state_load(const char *root, const char *id, int *ret_dirfd, OciState *ret);
void oci_state_done(OciState *s);
OciStatus oci_state_status(int dirfd, const OciState *s);
const char *oci_status_name(OciStatus st);
/* The state JSON the spec defines (also a hook's stdin), malloc'ed. */
char *oci_state_json(const OciState *s, OciStatus st, const char *annotations_from);
/* The container's cgroup as ST says: its own (cgroupfs), or its scope's,
 * delegated (ST->scope). */
MachineCgroup oci_state_cgroup(const OciState *st);
/* The container's cgroup for the spec's cgroupsPath (or ID's default). */
char *oci_cgroup_group(const char *cgroups_path, const char *id);
/* Load ROOT/ID/config.json, the copy create keeps. */
int oci_state_spec(int dirfd, OciSpec *ret);
/* Write PID to PATH (the caller's --pid-file) atomically. */
int oci_write_pid_file(const char *path, pid_t pid);

/* hooks.c: run the hooks of KIND with STATE_JSON on their stdin.  With
 * FATAL false a failing hook is logged and ignored (poststart, poststop). */
int oci_hooks_run(const OciSpec *spec, OciHookKind kind, const char *state_json, bool fatal);

/* sync.c: fixed-size messages over a SOCK_SEQPACKET socketpair. */
typedef enum SyncType {
        SYNC_GO = 1,      /* runtime -> child: carry on */
        SYNC_USERNS,      /* child: my user namespace waits for its maps */
        SYNC_PID,         /* child: the container process is VALUE */
        SYNC_HOOKS,       /* init: mounts are done; run prestart/createRuntime */
        SYNC_PTY,         /* child: the pty master comes with this message; TEXT its name */
        SYNC_READY,       /* init: set up, waiting for start */
        SYNC_ERROR,       /* child: failed; VALUE is -errno, TEXT the message */
} SyncType;

typedef struct SyncMsg {
        int type;
        int value;
        char text[2048];
} SyncMsg;

int sync_send(int sock, SyncType type, int value, const char *text);
/* A message with an fd (SYNC_PTY). */
int sync_send_fd(int sock, SyncType type, const char *text, int fd);
/* Receive one message (and its fd, if RET_FD); -EPIPE at EOF. */
int sync_recv(int sock, SyncMsg *ret, int *ret_fd);
/* Report an error to the runtime and die: the last thing a child does. */
_noreturn_ void sync_fail(int sock, int r, const char *fmt, ...) _printf_(3, 4);
/* Hand the pty master to the engine's console socket at PATH. */
int console_socket_send(const char *path, int master, const char *name);

/* rootfs.c: in the container init, in its new mount namespace: build the
 * tree on the bundle's rootfs (every target resolved inside it), then make
 * it the root.  Each step returns -errno with a message in ERR. */
typedef struct RootfsContext {
        const OciSpec *spec;
        const char *rootfs;   /* absolute host path */
        const char *bundle;   /* absolute: relative bind sources are below it */
        bool new_userns;
        bool no_pivot;
        /* A host with v1 hierarchies: a "cgroup" mount is, as runc makes it, a
         * tmpfs with the container's own cgroup of each hierarchy bound in,
         * NAMES[i] ("memory", "unified") showing DIRS[i] (host paths).  NULL
         * on a cgroup2-only host: a cgroup2 mount. */
        char **cgroup_names, **cgroup_dirs;
        int root_tree;        /* the root as a detached (idmapped) mount to attach, or -EBADF */
        const char *root_mountpoint; /* where to attach it: ROOT/ID/rootfs */
        const int *bind_trees; /* per mount: its bind made by the runtime (-EBADF: none), or NULL */
        int rootfd;           /* set by rootfs_prepare() */
} RootfsContext;
/* Fill C's cgroup_names and cgroup_dirs for the container's GROUP (in the
 * runtime, before the fork: it reads the mount table). */
int rootfs_cgroup_views(RootfsContext *c, const char *group);
void rootfs_context_done(RootfsContext *c);
/* In the runtime, for a container whose root cannot reach the engine's
 * files (the machine profile: they stay host root's): every bind of S as
 * a detached mount with its options, by mount index (-EBADF for the other
 * mounts), for the init to attach.  Each fd must reach the init. */
int rootfs_bind_trees(const OciSpec *s, const char *bundle, int **ret, char *err, size_t errlen);
void rootfs_bind_trees_free(int *trees, size_t n);
int rootfs_prepare(RootfsContext *c, char *err, size_t errlen);
/* A pty from the container's own devpts: master, slave, and its name there. */
int rootfs_open_pty(RootfsContext *c, int *ret_master, int *ret_slave, char *name, size_t name_len, char *err,
                    size_t errlen);
int rootfs_pivot(RootfsContext *c, char *err, size_t errlen);
/* After the pivot: hostname, sysctls, then the masked and read-only paths. */
int rootfs_finish(RootfsContext *c, char *err, size_t errlen);

/* process.c */
/* Apply P in the calling child (after the fifo or the namespaces): rlimits,
 * user, capabilities, no_new_privs, the seccomp filter SECCOMP (NULL: none).
 * Then find the program (in P's PATH) and exec it; only returns on error,
 * with a message in ERR. */
int process_exec(const OciProcess *p, const OciSeccomp *seccomp, unsigned preserve_fds, char *err, size_t errlen);
/* Whether P's program can be found in the current root (for an early error). */
int process_find_program(const OciProcess *p, char **ret_path);
/* Write P's oomScoreAdj (if any) for process PID. */
int process_set_oom_score(pid_t pid, const OciProcess *p);

/* profile.c: which profile SPEC (with its root at ROOTFS) gets: the
 * annotation's, else the machine profile for an init that resolves to
 * systemd inside the root, in a new PID namespace, with no ID maps of the
 * spec's own.  Logs its errors. */
int profile_detect(const OciSpec *s, const char *rootfs, OciProfile *ret);
/* Give S the machine profile with the ID range at BASE. */
void profile_apply(OciSpec *s, uid_t base);
/* Set NAME=VALUE in P's environment, replacing an earlier NAME if REPLACE. */
void oci_env_set(OciProcess *p, const char *name, const char *value, bool replace);

/* notify.c: the engine's NOTIFY_SOCKET (an absolute path), or NULL. */
const char *notify_socket_from_env(void);
/* In create: make STATEFD's "notify" dir (owned by UID:GID, the container's
 * root on the host), bind it into S and point S's NOTIFY_SOCKET at it;
 * STATE_DIR is STATEFD's path. */
int notify_prepare(OciSpec *s, int statefd, uid_t uid, gid_t gid, const char *state_dir);
/* In start, before the process runs: bind the container's socket. */
int notify_listen(int statefd, uid_t uid, gid_t gid, int *ret);
/* Wait for READY=1 on SOCK and pass it (with MAINPID=PID) on to
 * ENGINE_SOCKET; -ECHILD if the init (PIDFD) exits first. */
int notify_wait_ready(int sock, const char *engine_socket, pid_t pid, int pidfd);

/* machine.c: the machine name of container ID with spec S: the annotation
 * org.berth.name (refused, logged, if no valid machine name), else one made
 * from ID. */
int oci_machine_name(const OciSpec *s, const char *id, char **ret);
/* After create: register ST with machined (st->registered gets the name)
 * and write its record for berth list.  Failures are logged warnings. */
void oci_machine_announce(const OciOptions *o, OciState *st);
/* On delete: undo oci_machine_announce(). */
void oci_machine_withdraw(const OciOptions *o, const OciState *st);

/* scope.c: whether a container for which WANTED (the machine profile,
 * --systemd-cgroup) gets a scope: 1 with *RET a system bus where systemd is
 * the host's init, else 0 (its cgroup is then the cgroupsPath). */
int oci_scope_bus(bool wanted, sd_bus **ret);
/* The scope's slice and unit for CGROUPS_PATH: its SLICE:PREFIX:NAME form
 * (an empty slice is machine.slice), else berth-oci-ID.scope in
 * machine.slice.  -EINVAL (logged) for a bad systemd form. */
int oci_scope_name(const char *cgroups_path, const char *id, char **ret_slice, char **ret_unit);
/* Start the scope UNIT in SLICE for container ID with LIMITS, holding this
 * process, moved into its "supervisor" leaf; *RET_GROUP gets its cgroup. */
int oci_scope_start(sd_bus *bus, const char *unit, const char *slice, const char *id, const CgroupLimits *limits,
                    char **ret_group);
/* Stop UNIT (gone already is fine); failures are logged warnings. */
void oci_scope_stop(const char *unit);
/* Set LIMITS on UNIT (update). */
int oci_scope_set_limits(const char *unit, const CgroupLimits *limits);

/* verbs.c: the state of container ID (the messages engines look for on error). */
int oci_load(const OciOptions *o, const char *id, int *ret_dirfd, OciState *ret);
int oci_load_spec(int dirfd, const char *id, OciSpec *ret);

/* resources.c: the cgroup limits of R (unset: none). */
CgroupLimits oci_resources_limits(const OciResources *r);

/* verbs */
int verb_create(const OciOptions *o, const char *id);
int verb_start(const OciOptions *o, const char *id);
int verb_state(const OciOptions *o, const char *id);
int verb_kill(const OciOptions *o, const char *id, const char *signal);
int verb_delete(const OciOptions *o, const char *id);
int verb_exec(const OciOptions *o, const char *id);
int verb_ps(const OciOptions *o, const char *id);
int verb_pause(const OciOptions *o, const char *id);
int verb_resume(const OciOptions *o, const char *id);
int verb_update(const OciOptions *o, const char *id);
