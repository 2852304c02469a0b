/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup.h"
#include "devices.h"
#include "fs.h"
#include "idmap.h"
#include "log.h"
#include "mount-tree.h"
#include "oci.h"
#include "uid-registry.h"
#include "userns.h"
#include "util.h"

/* The launch, as three processes:
 *   runtime  (berth-oci create): checks everything, makes the state
 *            directory and the cgroup, writes maps, runs the hooks, hands
 *            the pty on, writes the pid file and exits;
 *   child    forked by the runtime: joins the namespaces the spec names by
 *            path, makes the new ones (user first, mapped by the runtime),
 *            forks the init, reports its pid and exits, so the init is
 *            orphaned to the engine (a subreaper) and becomes its child;
 *   init     PID 1 of the new PID namespace: builds the root, pivots,
 *            reports ready, then blocks opening the exec fifo until
 *            "start" opens its other end, and execs the process.
 * They talk over one SOCK_SEQPACKET socketpair (sync.c).  Any failure
 * before ready reaches the runtime as one message, and the runtime undoes
 * everything: kills the init, removes the cgroup and the state. */

typedef struct Launch {
        const OciOptions *o;
        const OciSpec *spec;
        const char *id;
        char *bundle;
        char *rootfs;
        int statefd;
        MachineCgroup cg;
        bool new_userns;
        bool idmap_root;   /* the machine profile: the rootfs through an idmapped mount */
        int root_tree;     /* the child's and init's: that mount, detached */
        int *bind_trees;   /* the machine profile: the binds, made by the runtime (rootfs_bind_trees()) */
        char *root_mountpoint; /* the machine profile: where the init attaches the root */
        uid_t uid_base;    /* the machine profile's range, released on failure */
        char **cgroup_names, **cgroup_dirs; /* see RootfsContext */
} Launch;

static int write_maps(pid_t pid, const OciSpec *s) {
        const char *files[2] = { "uid_map", "gid_map" };
        const OciIdMap *maps[2] = { s->uid_maps, s->gid_maps };
        size_t n[2] = { s->n_uid_maps, s->n_gid_maps };
        for (int k = 0; k < 2; k++) {
                _cleanup_free_ char *text = NULL;
                for (size_t i = 0; i < n[k]; i++)
                        strextendf(&text, "%u %u %u\n", maps[k][i].container_id, maps[k][i].host_id, maps[k][i].size);
                _cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int) pid, files[k]);
                int r = write_string_at(AT_FDCWD, path, text);
                if (r < 0)
                        return log_error_errno(r, "Failed to write the container's %s: %m", files[k]);
        }
        return 0;
}

/* The host UID of the container's root: the owner the exec fifo needs. */
static uid_t host_root(const OciIdMap *maps, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (maps[i].container_id == 0)
                        return maps[i].host_id;
        return 0;
}

_noreturn_ static void run_init(Launch *l, int sync) {
        const OciSpec *s = l->spec;
        char err[2048] = "";
        RootfsContext rc = { .spec = s, .rootfs = l->rootfs, .bundle = l->bundle, .new_userns = l->new_userns,
                             .no_pivot = l->o->no_pivot, .cgroup_names = l->cgroup_names,
                             .cgroup_dirs = l->cgroup_dirs, .rootfd = -EBADF, .root_tree = l->root_tree,
                             .bind_trees = l->bind_trees, .root_mountpoint = l->root_mountpoint };
        int r = rootfs_prepare(&rc, err, sizeof err);
        if (r < 0)
                sync_fail(sync, r, "%s", err);
        _cleanup_close_ int slave = -EBADF;
        if (s->process.terminal) {
                int master;
                char name[64];
                r = rootfs_open_pty(&rc, &master, &slave, name, sizeof name, err, sizeof err);
                if (r < 0)
                        sync_fail(sync, r, "%s", err);
                r = sync_send_fd(sync, SYNC_PTY, name, master);
                close(master);
                if (r < 0)
                        _exit(EXIT_FAILURE);
        }
        SyncMsg m;
        if (sync_send(sync, SYNC_HOOKS, 0, NULL) < 0 || sync_recv(sync, &m, NULL) < 0 || m.type != SYNC_GO)
                _exit(EXIT_FAILURE);
        if ((r = rootfs_pivot(&rc, err, sizeof err)) < 0 || (r = rootfs_finish(&rc, err, sizeof err)) < 0)
                sync_fail(sync, r, "%s", err);
        _cleanup_free_ char *prog = NULL;
        if (chdir(s->process.cwd) < 0)
                sync_fail(sync, errno, "Cannot change to the working directory %s: %m", s->process.cwd);
        if (process_find_program(&s->process, &prog) < 0)
                sync_fail(sync, ENOENT, "exec: \"%s\": executable file not found in $PATH", s->process.args[0]);
        if (setsid() < 0)
                sync_fail(sync, errno, "setsid failed: %m");
        if (slave >= 0) {
                if (ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
                        sync_fail(sync, errno, "Cannot make the pty the container's terminal: %m");
                closep(&slave);
        }
        if (sync_send(sync, SYNC_READY, 0, NULL) < 0)
                _exit(EXIT_FAILURE);
        close(sync);

        /* Until "start": the open blocks until a reader comes. */
        _cleanup_close_ int fifo = openat(l->statefd, "exec.fifo", O_WRONLY | O_CLOEXEC);
        if (fifo < 0 || write(fifo, "0", 1) != 1)
                _exit(EXIT_FAILURE);
        closep(&fifo);
        close(l->statefd);
        r = process_exec(&s->process, s->seccomp, l->o->preserve_fds, err, sizeof err);
        /* The runtime is gone: the container's stderr is the one place left. */
        dprintf(STDERR_FILENO, "berth-oci: %s\n", err);
        _exit(127);
}

_noreturn_ static void run_child(Launch *l, int sync) {
        const OciSpec *s = l->spec;
        SyncMsg m;
        /* Wait until the runtime has put us in the cgroup (before the cgroup namespace). */
        if (sync_recv(sync, &m, NULL) < 0 || m.type != SYNC_GO)
                _exit(EXIT_FAILURE);

        /* Namespaces to join: the user namespace first, as it owns the others. */
        static const OciNsType order[] = { OCI_NS_USER, OCI_NS_NET, OCI_NS_IPC, OCI_NS_UTS,
                                           OCI_NS_PID, OCI_NS_CGROUP, OCI_NS_MNT };
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                const OciNamespace *ns = &s->ns[order[i]];
                if (!ns->wanted || !ns->path)
                        continue;
                _cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || setns(fd, oci_ns_flag(order[i])) < 0)
                        sync_fail(sync, errno, "Cannot join the %s namespace %s: %m", oci_ns_name(order[i]), ns->path);
        }
        if (l->new_userns) {
                if (unshare(CLONE_NEWUSER) < 0)
                        sync_fail(sync, errno, "Cannot create a user namespace: %m");
                /* The GO may carry the idmapped rootfs (the machine profile). */
                int tree = -EBADF;
                if (sync_send(sync, SYNC_USERNS, 0, NULL) < 0 || sync_recv(sync, &m, &tree) < 0 || m.type != SYNC_GO)
                        _exit(EXIT_FAILURE);
                l->root_tree = tree;
                if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                        sync_fail(sync, errno, "Cannot become root in the user namespace: %m");
        }
        int flags = 0;
        for (OciNsType t = 0; t < _OCI_NS_MAX; t++)
                if (t != OCI_NS_USER && s->ns[t].wanted && !s->ns[t].path)
                        flags |= oci_ns_flag(t);
        if (unshare(flags) < 0)
                sync_fail(sync, errno, "Cannot create the container's namespaces: %m");
        pid_t pid = fork();
        if (pid < 0)
                sync_fail(sync, errno, "fork failed: %m");
        if (pid == 0)
                run_init(l, sync);
        (void) sync_send(sync, SYNC_PID, (int) pid, NULL);
        _exit(EXIT_SUCCESS);
}

static char *now_rfc3339(void) {
        struct timespec ts;
        struct tm tm;
        char buf[64];
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
        return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

/* The device cgroup: berth's built-in list (the nodes every container
 * gets), plus the spec's allow rules for single character or block
 * devices (the nodes it lists in linux.devices). */
static void device_list_from_spec(const OciSpec *s, DeviceList *ret) {
        size_t n;
        const DeviceRule *builtin = device_rules(&n);
        DeviceList l = { .rules = xcalloc(n + s->n_device_rules + 1, sizeof(DeviceRule)) };
        memcpy(l.rules, builtin, n * sizeof(DeviceRule));
        l.n = n;
        for (size_t i = 0; i < s->n_device_rules; i++) {
                const OciDeviceRule *d = &s->device_rules[i];
                if (!d->allow || d->type == 'a' || d->major < 0)
                        continue;
                l.rules[l.n++] = (DeviceRule) { .type = d->type, .major = (unsigned) d->major,
                                                .minor = d->minor < 0 ? DEVICE_MINOR_ANY : (int) d->minor,
                                                .access = d->access };
        }
        *ret = l;
}

/* The state dir, and the ID range it held (its owner gone, the registry's
 * entry is stale: released). */
static void state_remove(int rfd, const char *id, uid_t uid_base) {
        if (rfd >= 0)
                (void) rm_rf_at(rfd, id);
        if (uid_base > 0)
                (void) uid_registry_release_base(uid_base);
}

static void launch_undo(Launch *l, pid_t init) {
        if (init > 0)
                (void) kill(init, SIGKILL);
        (void) cgroup_machine_destroy(&l->cg);
        _cleanup_close_ int rfd = open_dir_nofollow(AT_FDCWD, l->o->root);
        state_remove(rfd, l->id, l->uid_base);
}

/* The machine profile's rootfs: a recursive clone of it, idmapped into the
 * container's user namespace (of the child CHILD), so the engine's files,
 * owned by host root, belong to the container's root without a chown.
 * Host privileges make it; the init attaches it (rootfs_prepare()). */
static int idmapped_root(const Launch *l, pid_t child, int *ret) {
        _cleanup_free_ char *ns = xasprintf("/proc/%d/ns/user", (int) child);
        _cleanup_close_ int userns = open(ns, O_RDONLY | O_CLOEXEC);
        if (userns < 0)
                return log_error_errno(errno, "Cannot open the container's user namespace: %m");
        _cleanup_close_ int tree = open_tree(AT_FDCWD, l->rootfs, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (tree < 0)
                return log_error_errno(errno, "Cannot clone the root %s: %m", l->rootfs);
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) userns };
        if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0)
                return log_error_errno(errno,
                                       "Cannot idmap the root %s (%m): the machine profile needs a filesystem with "
                                       "idmapped mounts there. Annotation %s=none runs the container without it.",
                                       l->rootfs, OCI_PROFILE_ANNOTATION);
        *ret = TAKE_FD(tree);
        return 0;
}

static int launch_run(Launch *l, OciState *st) {
        const OciSpec *s = l->spec;
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return log_error_errno(errno, "socketpair failed: %m");
        _cleanup_close_ int sync = sp[0], peer = sp[1];

        pid_t child = fork();
        if (child < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (child == 0) {
                closep(&sync);
                /* Only the container's stdio, the fds the engine asked to pass
                 * on, and ours: no pipe of the engine's stays open in here. */
                int *keep = xcalloc(3 + 1024 + s->n_mounts, sizeof(int));
                size_t nk = 0;
                keep[nk++] = peer;
                keep[nk++] = l->statefd;
                for (size_t i = 0; l->bind_trees && i < s->n_mounts; i++)
                        if (l->bind_trees[i] >= 0)
                                keep[nk++] = l->bind_trees[i];
                for (unsigned i = 0; i < l->o->preserve_fds; i++)
                        keep[nk++] = 3 + (int) i;
                (void) close_all_fds_except(keep, nk);
                free(keep);
                run_child(l, peer);
        }
        closep(&peer);

        int r = cgroup_machine_attach(&l->cg, child);
        if (r < 0) {
                (void) kill(child, SIGKILL);
                (void) waitpid(child, NULL, 0);
                return r;
        }
        (void) sync_send(sync, SYNC_GO, 0, NULL);

        pid_t init = 0;
        for (;;) {
                SyncMsg m;
                int fd = -EBADF;
                r = sync_recv(sync, &m, &fd);
                _cleanup_close_ int msgfd = fd;
                if (r < 0) {
                        r = log_error_errno(r == -EPIPE ? SYNTHETIC_ERRNO(ECHILD) : r,
                                            "The container's init died while it was set up.");
                        break;
                }
                if (m.type == SYNC_ERROR) {
                        r = log_error_errno(m.value, "%s", m.text);
                        break;
                }
                if (m.type == SYNC_USERNS) {
                        r = write_maps(child, s);
                        if (r < 0)
                                break;
                        _cleanup_close_ int tree = -EBADF;
                        if (l->idmap_root && (r = idmapped_root(l, child, &tree)) < 0)
                                break;
                        if (tree >= 0)
                                (void) sync_send_fd(sync, SYNC_GO, NULL, tree);
                        else
                                (void) sync_send(sync, SYNC_GO, 0, NULL);
                } else if (m.type == SYNC_PID) {
                        init = (pid_t) m.value;
                        (void) waitpid(child, NULL, 0);
                        child = 0;
                        st->pid = init;
                        if ((r = proc_starttime(init, &st->starttime)) < 0) {
                                log_error_errno(r, "The container's init is gone: %m");
                                break;
                        }
                        /* From here, as host root: in a user namespace the init may
                         * not write its own /proc file. */
                        if ((r = process_set_oom_score(init, &s->process)) < 0) {
                                log_error_errno(r, "Cannot set process.oomScoreAdj: %m");
                                break;
                        }
                } else if (m.type == SYNC_PTY) {
                        if (msgfd < 0 || !l->o->console_socket) {
                                r = log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "No pty came from the container.");
                                break;
                        }
                        r = console_socket_send(l->o->console_socket, msgfd, m.text);
                        if (r < 0) {
                                log_error_errno(r, "Cannot send the pty to the console socket %s: %m",
                                                l->o->console_socket);
                                break;
                        }
                } else if (m.type == SYNC_HOOKS) {
                        (void) oci_state_write(l->statefd, st);
                        _cleanup_free_ char *json = oci_state_json(st, OCI_STATUS_CREATING, NULL);
                        if ((r = oci_hooks_run(s, OCI_HOOK_PRESTART, json, true)) < 0 ||
                            (r = oci_hooks_run(s, OCI_HOOK_CREATE_RUNTIME, json, true)) < 0)
                                break;
                        (void) sync_send(sync, SYNC_GO, 0, NULL);
                } else if (m.type == SYNC_READY) {
                        r = 0;
                        break;
                }
        }
        if (child > 0) {
                (void) kill(child, SIGKILL);
                (void) waitpid(child, NULL, 0);
        }
        if (r < 0) {
                if (init > 0)
                        (void) kill(init, SIGKILL);
                return r;
        }
        return 0;
}

static int read_spec(const char *bundle, OciSpec *ret) {
        _cleanup_close_ int bfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (bfd < 0)
                return log_error_errno(errno, "Cannot open the bundle %s: %m", bundle);
        _cleanup_free_ char *buf = NULL, *err = NULL;
        size_t len;
        int r = read_file_at(bfd, "config.json", OCI_SPEC_MAX_SIZE, &buf, &len);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s/config.json: %m", bundle);
        r = oci_spec_parse(buf, len, ret, &err);
        if (r < 0)
                return log_error_errno(r, "%s/config.json: %s", bundle, err);
        return 0;
}

int verb_create(const OciOptions *o, const char *id) {
        int r;
        if (oci_id_validate(id) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid container ID \"%s\": use letters, digits, '_', '-', '.', '+'.", id);
        _cleanup_free_ char *bundle = realpath(o->bundle ?: ".", NULL);
        if (!bundle)
                return log_error_errno(errno, "Cannot find the bundle %s: %m", o->bundle ?: ".");
        _cleanup_(oci_spec_done) OciSpec spec = {};
        if ((r = read_spec(bundle, &spec)) < 0)
                return r;
        if (!spec.ns[OCI_NS_MNT].wanted || spec.ns[OCI_NS_MNT].path)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "%s/config.json: linux.namespaces has no new mount namespace; berth-oci "
                                       "always builds the container's root in one.", bundle);
        if (spec.process.terminal && !o->console_socket)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "process.terminal is set: --console-socket is required.");
        _cleanup_free_ char *rootfs_rel = spec.root_path[0] == '/' ? xstrdup(spec.root_path)
                                                                    : xasprintf("%s/%s", bundle, spec.root_path);
        _cleanup_free_ char *rootfs = realpath(rootfs_rel, NULL);
        if (!rootfs)
                return log_error_errno(errno, "Cannot find the root %s: %m", rootfs_rel);
        _cleanup_free_ char *group = oci_cgroup_group(spec.cgroups_path, id);
        if (isempty(group) || streq(group, "berth-oci"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "linux.cgroupsPath \"%s\" is no cgroup of its own.",
                                       spec.cgroups_path);
        OciProfile profile;
        if ((r = profile_detect(&spec, rootfs, &profile)) < 0)
                return r;
        _cleanup_free_ char *machine_name = NULL;
        if (profile == OCI_PROFILE_MACHINE && (r = oci_machine_name(&spec, id, &machine_name)) < 0)
                return r;
        /* A machine must be in a unit for machined to take it (scope.c). */
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *slice = NULL, *scope = NULL, *scope_group = NULL;
        if (oci_scope_bus(profile == OCI_PROFILE_MACHINE || o->systemd_cgroup, &bus) > 0 &&
            (r = oci_scope_name(spec.cgroups_path, id, &slice, &scope)) < 0)
                return r;

        if ((r = mkdir_p_at(AT_FDCWD, o->root, 0711)) < 0)
                return log_error_errno(r, "Cannot create the state directory %s: %m", o->root);
        _cleanup_close_ int rfd = open_dir_nofollow(AT_FDCWD, o->root);
        if (rfd < 0)
                return log_error_errno(rfd, "Cannot open the state directory %s: %m", o->root);
        if (mkdirat(rfd, id, 0711) < 0)
                return log_error_errno(errno, errno == EEXIST ? "container with id exists: %s" :
                                                                "Cannot create the state of %s: %m", id);
        _cleanup_close_ int statefd = open_dir_nofollow(rfd, id);
        uid_t base = 0;
        if (statefd >= 0 && profile == OCI_PROFILE_MACHINE) {
                /* The state dir owns the range: its "idmap" file is the registry's truth. */
                r = userns_ensure_range_at(rfd, o->root, statefd, &base);
                if (r < 0) {
                        state_remove(rfd, id, 0);
                        return r;
                }
                profile_apply(&spec, base);
                log_debug("%s: the machine profile, IDs %u-%u.", id, (unsigned) base,
                          (unsigned) (base + USERNS_RANGE_SIZE - 1));
        }
        /* The engine waits for READY=1: only where the container's root is
         * known to us (no ID maps, or ours), else nobody could send it. */
        const char *notify = notify_socket_from_env();
        if (notify && statefd >= 0 && (base > 0 || !spec.ns[OCI_NS_USER].wanted)) {
                _cleanup_free_ char *state_dir = xasprintf("%s/%s", o->root, id);
                r = notify_prepare(&spec, statefd, base, base, state_dir);
                if (r < 0) {
                        log_error_errno(r, "Cannot make the notify socket's directory in %s: %m", state_dir);
                        state_remove(rfd, id, base);
                        return r;
                }
        } else
                notify = NULL;
        _cleanup_free_ char *root_mountpoint = NULL;
        if (base > 0) {
                root_mountpoint = xasprintf("%s/%s/rootfs", o->root, id);
                if (mkdirat(statefd, "rootfs", 0755) < 0) {
                        r = log_error_errno(errno, "Cannot create %s: %m", root_mountpoint);
                        state_remove(rfd, id, base);
                        return r;
                }
        }
        Launch l = { .o = o, .spec = &spec, .id = id, .bundle = bundle, .rootfs = rootfs,
                     .root_mountpoint = root_mountpoint,
                     .cg = { .group = group }, .new_userns = spec.ns[OCI_NS_USER].wanted && !spec.ns[OCI_NS_USER].path,
                     .idmap_root = profile == OCI_PROFILE_MACHINE, .root_tree = -EBADF, .uid_base = base };
        l.statefd = statefd;
        _cleanup_free_ char *created = now_rfc3339();
        OciState st = { .id = (char *) id, .bundle = bundle, .rootfs = rootfs, .created = created, .cgroup = group,
                        .profile = profile, .uid_base = base, .notify_socket = (char *) notify,
                        .machine_name = machine_name };
        _cleanup_free_ char *cfg = NULL, *cfgpath = xasprintf("%s/config.json", bundle);
        size_t cfglen;
        if (statefd < 0)
                r = log_error_errno(statefd, "Cannot open the state of %s: %m", id);
        /* Our own copy of the config: delete runs the poststop hooks when the bundle may be gone. */
        else if ((r = read_file_at(AT_FDCWD, cfgpath, OCI_SPEC_MAX_SIZE, &cfg, &cfglen)) < 0 ||
                 (r = write_file_atomic_at(statefd, "config.json", cfg, cfglen, 0600)) < 0)
                log_error_errno(r, "Cannot save the config: %m");
        else if (mkfifoat(statefd, "exec.fifo", 0600) < 0)
                r = log_error_errno(errno, "Cannot create the exec fifo: %m");
        else if (l.new_userns && fchownat(statefd, "exec.fifo", host_root(spec.uid_maps, spec.n_uid_maps),
                                          host_root(spec.gid_maps, spec.n_gid_maps), AT_SYMLINK_NOFOLLOW) < 0)
                r = log_error_errno(errno, "Cannot hand the exec fifo to the container's root: %m");
        else if ((r = oci_state_write(statefd, &st)) < 0)
                log_error_errno(r, "Cannot write the state: %m");
        if (r < 0) {
                state_remove(rfd, id, base);
                return r;
        }

        /* cgroup_machine_create() starts clean, killing what it finds: never in a
         * cgroup someone else already has.  (A scope's is new: systemd refuses
         * a unit that exists.) */
        _cleanup_free_ char *cg_v1 = xasprintf("/sys/fs/cgroup/pids/%s", group);
        _cleanup_free_ char *cg_v2 = xasprintf("/sys/fs/cgroup/%s", group);
        if (!scope && (access(cg_v1, F_OK) == 0 || access(cg_v2, F_OK) == 0)) {
                state_remove(rfd, id, base);
                return log_error_errno(SYNTHETIC_ERRNO(EEXIST),
                                       "The cgroup %s exists already: another container uses this cgroupsPath.", group);
        }
        _cleanup_(device_list_done) DeviceList devices = {};
        device_list_from_spec(&spec, &devices);
        CgroupLimits limits = oci_resources_limits(&spec.resources);
        if (scope && (r = oci_scope_start(bus, scope, slice, id, &limits, &scope_group)) >= 0) {
                /* From here the scope's cgroup is the container's; should create
                 * fail, the scope goes with this process, the last one in it. */
                l.cg = (MachineCgroup) { .group = scope_group, .delegated = true, .payload_devices = true };
                st.cgroup = scope_group;
                st.scope = scope;
                if ((r = oci_state_write(statefd, &st)) < 0)
                        log_error_errno(r, "Cannot write the state: %m");
        }
        if (r >= 0)
                r = cgroup_machine_create(&l.cg, &limits, &devices);
        /* The machine profile's init manages its own subtree (payload), as its root. */
        if (r >= 0 && base > 0 && (r = cgroup_machine_chown(&l.cg, base, base)) < 0)
                (void) cgroup_machine_destroy(&l.cg);
        if (r < 0) {
                state_remove(rfd, id, base);
                return r;
        }

        RootfsContext views = {};
        char err[2048] = "";
        r = rootfs_cgroup_views(&views, l.cg.group);
        if (r < 0)
                log_error_errno(r, "Cannot read the mount table: %m");
        else if (l.idmap_root && (r = rootfs_bind_trees(&spec, bundle, &l.bind_trees, err, sizeof err)) < 0)
                log_error_errno(r, "%s", err);
        else {
                l.cgroup_names = views.cgroup_names;
                l.cgroup_dirs = views.cgroup_dirs;
                r = launch_run(&l, &st);
        }
        rootfs_context_done(&views);
        rootfs_bind_trees_free(l.bind_trees, spec.n_mounts);
        _cleanup_free_ char *registered = NULL;
        if (r >= 0 && profile == OCI_PROFILE_MACHINE) {
                oci_machine_announce(o, &st);
                registered = st.registered;
        }
        if (r >= 0) {
                r = oci_state_write(statefd, &st);
                if (r < 0)
                        log_error_errno(r, "Cannot write the state: %m");
        }
        if (r >= 0 && o->pid_file) {
                r = oci_write_pid_file(o->pid_file, st.pid);
                if (r < 0)
                        log_error_errno(r, "Cannot write the pid file %s: %m", o->pid_file);
        }
        if (r < 0) {
                if (profile == OCI_PROFILE_MACHINE)
                        oci_machine_withdraw(o, &st);
                launch_undo(&l, st.pid);
                return r;
        }
        return 0;
}
