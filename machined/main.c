/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-machined: boots and supervises one machine.  It is the machine's
 * only host-side process: it prepares the cgroup and console, starts the
 * init as PID 1 of new namespaces, drains the console, turns SIGTERM into a
 * clean poweroff, restarts the init when the guest reboots, and cleans up
 * when the guest is gone. */

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "caps.h"
#include "cgroup.h"
#include "config.h"
#include "console.h"
#include "fs.h"
#include "initctl.h"
#include "idmap.h"
#include "last-exit.h"
#include "launch.h"
#include "mount-lock.h"
#include "log.h"
#include "name.h"
#include "machine-register.h"
#include "mount-tree.h"
#include "unit.h"
#include "network.h"
#include "ownership.h"
#include "notify.h"
#include "pasta.h"
#include "portproxy.h"
#include "layers.h"
#include "rootfs.h"
#include "runtime.h"
#include "scratch.h"
#include "store.h"
#include "supervisor-args.h"
#include "userns.h"
#include "util.h"

/* start --wait: how long an init that does not notify must live to count
 * as booted. */
#define WAIT_NO_NOTIFY_MS 1000

/* How often a pending poweroff is signalled again. */
#define POWEROFF_REPEAT_MS 2000

/* The command line (lib/supervisor-args.h), and the fds it passes made ours. */
static int parse_args(int argc, char **argv, SupervisorArgs *a) {
        int r = supervisor_args_parse(argc, argv, a);
        if (r < 0 || a->help || a->network_gc)
                return r;
        /* Inherited without CLOEXEC from berth start; it must not reach the init. */
        if (a->ready_fd >= 0 && fcntl(a->ready_fd, F_SETFD, FD_CLOEXEC) < 0)
                return log_error_errno(errno, "Invalid --ready-fd %d: %m", a->ready_fd);
        if (a->lifeline_fd >= 0 && fcntl(a->lifeline_fd, F_SETFD, FD_CLOEXEC) < 0)
                return log_error_errno(errno, "Invalid --lifeline-fd %d: %m", a->lifeline_fd);
        if (a->lock_fd >= 0 && fcntl(a->lock_fd, F_SETFD, FD_CLOEXEC) < 0)
                return log_error_errno(errno, "Invalid --lock-fd %d: %m", a->lock_fd);
        return 0;
}

/* systemd, by the name of the binary the init resolves to in the rootfs
 * (rootfs_check()): it says when it has booted, takes its own signals, and
 * needs a cgroup tree of its own. */
static bool init_is_systemd(const char *init_name) {
        return init_name && strstr(init_name, "systemd");
}

/* Pick how this init is asked to power off and reboot.  sysvinit (the binary
 * is named init) ignores the signals others take: it gets telinit's runlevel
 * request on /run/initctl, with a signal only while it has no FIFO (early in
 * boot, or an init of that name that is not sysvinit).  An explicit
 * PoweroffSignal=/RebootSignal= always means that signal. */
static void pick_shutdown(const MachineConfig *c, const char *init_name, RuntimeState *st) {
        int poweroff, reboot;
        bool initctl = false;
        if (streq(init_name, "berth-stub")) {
                poweroff = SIGTERM;
                reboot = SIGINT;
        } else if (init_is_systemd(init_name)) {
                poweroff = SIGRTMIN + 4; /* systemd: poweroff.target */
                reboot = SIGINT;         /* ctrl-alt-del.target */
        } else if (streq(init_name, "busybox")) {
                poweroff = SIGUSR2;
                reboot = SIGTERM;
        } else {
                initctl = streq(init_name, "init");
                poweroff = SIGPWR;       /* most others */
                reboot = SIGINT;
        }
        st->poweroff_signal = c->poweroff_signal ?: poweroff;
        st->reboot_signal = c->reboot_signal ?: reboot;
        st->poweroff_initctl = initctl && !c->poweroff_signal;
        st->reboot_initctl = initctl && !c->reboot_signal;
}

/* Ask the init (PID, PIDFD) for RUNLEVEL through /run/initctl if it takes
 * requests there (INITCTL), else (or when that fails) send it SIG.  Says how
 * in BUF, for the log. */
static const char *ask_init(bool initctl, char runlevel, int sig, pid_t pid, int pidfd, char buf[static 64]) {
        if (initctl) {
                int r = initctl_request(pid, runlevel);
                if (r >= 0) {
                        snprintf(buf, 64, "runlevel %c through %s", runlevel, INITCTL_PATH);
                        return buf;
                }
                log_debug_errno(r, "Cannot write to %s in the machine (%m), sending a signal instead.", INITCTL_PATH);
        }
        (void) syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
        char s[16];
        snprintf(buf, 64, "%s", signal_to_string(sig, s));
        return buf;
}

static const char *ask_poweroff(const RuntimeState *st, pid_t pid, int pidfd, char buf[static 64]) {
        return ask_init(st->poweroff_initctl, '0', st->poweroff_signal, pid, pidfd, buf);
}

static void notify_ready(int *ready_fd) {
        if (*ready_fd < 0)
                return;
        (void) !write(*ready_fd, "1", 1);
        closep(ready_fd);
}

/* The guest is up: its init said READY=1, or it is an init that never will.
 * In unit mode that is when the unit's start job completes. */
static void machine_booted(RuntimeState *st, int run_fd, int *ready_fd) {
        if (st->booted)
                return;
        st->booted = true;
        (void) runtime_state_write(run_fd, st);
        notify_ready(ready_fd);
        if (st->delegated)
                (void) sd_notify(0, "READY=1\nSTATUS=The machine has booted.");
}

typedef enum Outcome {
        OUTCOME_POWEROFF,
        OUTCOME_REBOOT,
        OUTCOME_FAILED,
} Outcome;

/* How the init ended decides what happens next.  A SIGKILL nobody asked for
 * (the OOM killer, a stray kill) is a failure, not a poweroff. */
static Outcome classify_exit(const siginfo_t *si, bool stop_requested, char buf[static 64]) {
        char sig[16];
        if (si->si_code == CLD_EXITED) {
                snprintf(buf, 64, "exited with status %d", si->si_status);
                return si->si_status == 0 || stop_requested ? OUTCOME_POWEROFF : OUTCOME_FAILED;
        }
        snprintf(buf, 64, "killed by %s", signal_to_string(si->si_status, sig));
        /* The kernel kills a PID namespace's init with SIGHUP when it calls
         * reboot(RESTART), and with SIGINT for POWER_OFF/HALT. */
        if (si->si_status == SIGHUP && !stop_requested)
                return OUTCOME_REBOOT;
        if (si->si_status == SIGINT || stop_requested)
                return OUTCOME_POWEROFF;
        return OUTCOME_FAILED;
}

/* [Machine] ScratchDirectory=: a fresh DIR/ID for each boot's layers,
 * owned by the machine's root (it makes the layer dirs inside). */
static int scratch_prepare(const char *dir, const char *id, uid_t uid_base, char **ret_path) {
        _cleanup_close_ int dfd = scratch_open_dir(dir, true);
        /* Nobody else may swap what we make here before the machine mounts it. */
        if (dfd == -EPERM)
                return log_error_errno(dfd,
                                       "ScratchDirectory=%s must be owned by root and writable by nobody else "
                                       "(chown root %s; chmod go-w %s).",
                                       dir, dir, dir);
        if (dfd < 0)
                return log_error_errno(dfd, "Cannot create ScratchDirectory=%s: %m", dir);
        int r = scratch_remove_layers(dir, id, uid_base); /* a boot before this one, or a crash */
        if (r < 0)
                return log_error_errno(r, "Cannot clean %s/%s%s: %m", dir, id,
                                       r == -EPERM ? " (not a directory berth made; remove it yourself)" : "");
        if (mkdirat(dfd, id, 0700) < 0 || (uid_base > 0 && fchownat(dfd, id, uid_base, uid_base, AT_SYMLINK_NOFOLLOW) < 0))
                return log_error_errno(errno, "Cannot create %s/%s: %m", dir, id);
        if (ret_path && !*ret_path)
                *ret_path = xasprintf("%s/%s", dir, id);
        return 0;
}

/* /run/host as systemd's container interface has it: next to the notify
 * socket, the host's os-release and the name of the container manager.
 * Best effort: a guest does without them. */
static void host_dir_populate(int run_fd) {
        _cleanup_close_ int dfd = open_dir_nofollow(run_fd, "notify");
        if (dfd < 0) {
                log_warning_errno(dfd, "Failed to open the notify directory, ignoring: %m");
                return;
        }
        int r = write_file_atomic_at(dfd, "container-manager", "berth\n", strlen("berth\n"), 0644);
        if (r < 0)
                log_warning_errno(r, "Failed to write /run/host/container-manager, ignoring: %m");
        static const char *const os_release[] = { "/etc/os-release", "/usr/lib/os-release" };
        for (size_t i = 0; i < ELEMENTSOF(os_release); i++) {
                /* The host's own files: its symlinks (etc/os-release -> ../usr/lib/...) are followed. */
                _cleanup_free_ char *path = realpath(os_release[i], NULL), *text = NULL;
                size_t len;
                if (!path || read_file_at(AT_FDCWD, path, 64 * 1024, &text, &len) < 0)
                        continue;
                r = write_file_atomic_at(dfd, "os-release", text, len, 0644);
                if (r < 0)
                        log_warning_errno(r, "Failed to write /run/host/os-release, ignoring: %m");
                break;
        }
}

/* The machine's UUID where its rootfs has no /etc/machine-id (yet): made
 * at its first start and kept in its directory, so container_uuid= is stable. */
static int machine_uuid_load(int machines_fd, const char *name, Id128 *ret) {
        _cleanup_close_ int mfd = open_dir_nofollow(machines_fd, name);
        if (mfd < 0)
                return log_error_errno(mfd, "Failed to open the directory of machine %s: %m", name);
        _cleanup_free_ char *text = NULL;
        if (read_file_at(mfd, "uuid", 64, &text, NULL) >= 0 && id128_parse(text, ret) >= 0)
                return 0;
        Id128 id;
        int r = id128_randomize(&id);
        if (r < 0)
                return log_error_errno(r, "Failed to make a UUID for machine %s: %m", name);
        char buf[ID128_UUID_STRING_MAX];
        _cleanup_free_ char *line = xasprintf("%s\n", id128_to_uuid(&id, buf));
        r = write_file_atomic_at(mfd, "uuid", line, strlen(line), 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to save the UUID of machine %s: %m", name);
        *ret = id;
        return 0;
}

static int attach_network(void *userdata, int netns_fd, char **ret_resolv_conf) {
        return network_attach(userdata, netns_fd, ret_resolv_conf);
}

static int attach_pasta(void *userdata, int netns_fd, char **ret_resolv_conf);

/* Everything the supervisor holds for its machine, from start to teardown:
 * the steps of run() share it and machine_done() releases it, once. */
typedef struct Machine {
        const SupervisorArgs *args;
        int machine_lock; /* berth's lock on the machine: released once our runtime state exists */
        Store store;
        MachineConfig cfg;
        DeviceList devices; /* the built-in list and cfg's [Devices], resolved on this host */
        Console console;
        int sfd;
        Notify notify;
        char *run_path;
        Network net;
        PortProxy proxy;
        MountStage stage;
        char *resolv_conf;
        char *scratch;
        uid_t uid_base; /* the machine's root on the host; 0 without a user namespace */
        char *cgname;
        char *alt_name;   /* the name machined knows this machine by, while registered */
        char *registered; /* ... the name it is registered under, if it is */
        char *base;       /* a run instance's base machine */
        bool ephemeral;
        bool rootless;    /* started by a user, not root: no cgroups, no bridge, subuid maps */
        bool use_pasta;   /* rootless: user-mode networking (pasta.h) in place of a bridge */
        Pasta pasta;
        PortForward *pasta_ports; /* ... with these forwards (taken from cfg: no bridge makes them) */
        size_t n_pasta_ports;
        int lifeline_pidfd;
        int lifeline; /* readable: whoever started us for one job is gone */
        int base_lock;
        char *machine_dir, *rootfs;
        char **layers;
        char *init_name;
        int run_fd;  /* RUN/NAME */
        int lock_fd; /* RUN/NAME/supervisor.lock */
        int logfd;
        char *group;
        MachineCgroup mcg;
        RuntimeState st;
        bool owns_runtime; /* cgroups, network and state exist: machine_done() undoes them */
        StubProgram program;
        BindSpec *binds;  /* [Files] and this start's --bind, --bind-ro, checked */
        size_t n_binds;
        TmpfsSpec *tmpfs;
        size_t n_tmpfs;
        LaunchParams lp;
        /* Across boots. */
        int ready_fd;
        bool stop_requested;
        bool guest_notifies; /* systemd says READY=1 when it has booted; other inits are "up" at exec */
        uint64_t booted_after; /* start --wait of an init that does not notify: up once it has lived
                                * until then (CLOCK_MONOTONIC usec); 0: not waiting */
} Machine;

/* What was set up is undone in the reverse order it was made. */
static void machine_done(Machine *m) {
        if (m->owns_runtime) {
                if (m->registered)
                        machine_unregister(m->registered);
                pasta_stop(&m->pasta);
                network_release(&m->net);
                if (m->scratch)
                        (void) scratch_remove_layers(m->cfg.scratch_directory, m->cgname, m->uid_base);
                if (m->group)
                        (void) cgroup_machine_destroy(&m->mcg);
                /* Without the state file the machine reads as stopped even before the lock goes. */
                (void) unlinkat(m->run_fd, "state", 0);
        }
        for (size_t i = 0; i < m->n_binds; i++)
                bind_spec_done(&m->binds[i]);
        free(m->binds);
        free(m->pasta_ports);
        for (size_t i = 0; i < m->n_tmpfs; i++)
                tmpfs_spec_done(&m->tmpfs[i]);
        free(m->tmpfs);
        free(m->group);
        closep(&m->logfd);
        closep(&m->lock_fd);
        closep(&m->run_fd);
        free(m->init_name);
        strv_free(m->layers);
        free(m->rootfs);
        free(m->machine_dir);
        closep(&m->base_lock);
        closep(&m->lifeline_pidfd);
        free(m->base);
        free(m->registered);
        free(m->alt_name);
        free(m->cgname);
        free(m->scratch);
        free(m->resolv_conf);
        mount_stage_close(&m->stage);
        portproxy_close(&m->proxy);
        network_done(&m->net);
        free(m->run_path);
        notify_close(&m->notify);
        closep(&m->sfd);
        console_close(&m->console);
        device_list_done(&m->devices);
        machine_config_done(&m->cfg);
        store_close(&m->store);
        closep(&m->machine_lock);
}

/* Add this start's LINES (one value per line) to the [Files] KEY. */
static int files_add(MachineConfig *cfg, const char *key, const char *lines) {
        if (!lines)
                return 0;
        _cleanup_free_ char *copy = xstrdup(lines);
        char *save = NULL;
        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                _cleanup_free_ char *set = xasprintf("Files.%s=%s", key, l), *err = NULL;
                int r = machine_config_set_from_cli(cfg, set, &err);
                if (r < 0)
                        return log_error_errno(r, "%s", err);
        }
        return 0;
}

/* The binds and tmpfs mounts of this start, from the configuration (which
 * checked them) and the command line. */
static int machine_load_files(Machine *m) {
        const SupervisorArgs *a = m->args;
        int r = files_add(&m->cfg, "Bind", a->binds);
        if (r >= 0)
                r = files_add(&m->cfg, "BindReadOnly", a->binds_ro);
        if (r >= 0)
                r = files_add(&m->cfg, "TemporaryFileSystem", a->tmpfs);
        if (r < 0)
                return r;
        size_t n_rw = strv_length(m->cfg.binds), n_ro = strv_length(m->cfg.binds_ro);
        m->binds = xcalloc(n_rw + n_ro + 1, sizeof *m->binds);
        m->tmpfs = xcalloc(strv_length(m->cfg.tmpfs) + 1, sizeof *m->tmpfs);
        const char *reason;
        for (size_t i = 0; i < n_rw + n_ro; i++) {
                const char *v = i < n_rw ? m->cfg.binds[i] : m->cfg.binds_ro[i - n_rw];
                if (bind_spec_parse(v, i >= n_rw, &m->binds[i], &reason) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid bind '%s': %s.", v, reason);
                m->n_binds++;
        }
        for (char **t = m->cfg.tmpfs; t && *t; t++) {
                if (tmpfs_spec_parse(*t, &m->tmpfs[m->n_tmpfs], &reason) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid tmpfs '%s': %s.", *t, reason);
                m->n_tmpfs++;
        }
        return 0;
}

/* A user's binds (README "Without root"): the kernel lets only host root
 * idmap a mount, so a bind shows its files' raw IDs through the machine's
 * map: the user's own as NEWIDMAP_SELF_ID (65536), the machine's range as
 * its own, any other as nobody.  Each source is checked and pinned here, as
 * the user (bind_source_pin()), for the child to clone. */
static int rootless_binds_check(Machine *m) {
        for (size_t i = 0; i < m->n_binds; i++) {
                BindSpec *b = &m->binds[i];
                if (b->idmap_set && b->idmap != BIND_IDMAP_NONE)
                        return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                               "Bind %s: the option %s needs root (only host root may idmap a "
                                               "mount). Without root a bind shows your files as UID 65536 and "
                                               "others' as nobody: leave the option out, or give noidmap.",
                                               b->source, bind_idmap_to_string(b->idmap));
                /* A non-recursive clone would uncover what mounts below the
                 * source hide, so the kernel refuses it in our namespace. */
                if (!b->recursive)
                        return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                               "Bind %s: norbind needs root (without root the mounts below a "
                                               "bind's source always come along). Leave the option out.",
                                               b->source);
                char msg[1024];
                int r = bind_source_pin(b, msg, sizeof msg);
                if (r < 0)
                        return log_error_errno(r, "%s", msg);
        }
        return 0;
}

/* A user's machine (README "Without root"): always in a user namespace of
 * the user's subordinate IDs, with only what needs no host privilege. */
static int machine_load_rootless(Machine *m) {
        const char *name = m->args->name;
        if (!m->cfg.private_users)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "PrivateUsers=no needs root: without root a machine always runs "
                                       "in a user namespace. Drop that setting.");
        if (m->cfg.network_mode == NETWORK_MODE_HOST)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "[Network] Mode=host needs root; without root use Mode=none.");
        if (m->args->devices)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "Devices need root for now: without root a machine gets no extra "
                                       "devices.");
        int r = rootless_binds_check(m);
        if (r < 0)
                return r;
        /* The default (a bridge) becomes user-mode networking with its
         * forwards; the other modes fall back to loopback only. */
        m->use_pasta = m->cfg.network_mode == NETWORK_MODE_BRIDGE && access(PASTA_PATH, X_OK) >= 0 &&
                       access("/dev/net/tun", R_OK | W_OK) >= 0;
        if (m->use_pasta) {
                m->cfg.network_mode = NETWORK_MODE_NONE; /* own namespace; pasta adds the rest */
                m->pasta_ports = TAKE_PTR(m->cfg.ports);
                m->n_pasta_ports = m->cfg.n_ports;
                m->cfg.n_ports = 0;
        } else if (m->cfg.network_mode != NETWORK_MODE_NONE) {
                log_info("Without root, pasta (package passt) and a /dev/net/tun you may open, machine %s "
                         "has no network but its loopback ([Network] Mode=none).", name);
                m->cfg.network_mode = NETWORK_MODE_NONE;
                free(m->cfg.ports);
                m->cfg.ports = NULL;
                m->cfg.n_ports = 0;
        }
        /* A scratch directory is handed to the machine's root with a host
         * chown: ephemeral layers stay in memory instead. */
        free(m->cfg.scratch_directory);
        m->cfg.scratch_directory = NULL;
        return 0;
}

/* Open the store and read the machine's configuration, with what this
 * start adds to it (--port) and takes from it (a run instance's ports). */
static int machine_load(Machine *m) {
        const SupervisorArgs *a = m->args;
        const char *reason;
        if (machine_name_validate(a->name, &reason) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid machine name: %s.", reason);

        int r = store_open(&m->store, a->root, a->config);
        if (r < 0)
                return r;
        if (store_machine_exists(&m->store, a->name) <= 0)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "No machine '%s'.", a->name);

        m->cgname = store_cgroup_name(&m->store, a->name);
        m->alt_name = store_qualified_name(&m->store, a->name);
        _cleanup_free_ char *cfg_err = NULL;
        r = store_load_config(&m->store, a->name, NULL, &m->cfg, &cfg_err);
        if (r < 0)
                return log_error_errno(r, "%s", cfg_err ?: "Failed to load the configuration.");

        /* A run instance boots its base's rootfs, always ephemeral, and keeps the
         * base from changing underneath it; a persistent boot keeps instances away. */
        r = store_machine_base(&m->store, a->name, &m->base);
        if (r < 0)
                return log_error_errno(r, "Failed to read the base of '%s': %m", a->name);
        m->ephemeral = a->ephemeral || m->base;
        if (m->base) {
                /* Instances copy their base's config, but a host port can have
                 * only one owner: they get only the forwards of their --port. */
                free(m->cfg.ports);
                m->cfg.ports = NULL;
                m->cfg.n_ports = 0;
        }
        if (a->network) {
                /* This start's network over the configured one (not kept). */
                _cleanup_strv_free_ char **set = NULL;
                r = machine_config_network_option(a->network, &set, &cfg_err);
                for (char **s = set; r >= 0 && s && *s; s++) {
                        free(TAKE_PTR(cfg_err));
                        r = machine_config_set_from_cli(&m->cfg, *s, &cfg_err);
                }
                if (r < 0)
                        return log_error_errno(r, "%s", cfg_err ?: "Invalid --network.");
        }
        if (a->ports) {
                /* The configured forwards and --port's, checked as one Port= line. */
                _cleanup_free_ char *set = xstrdup("Network.Port=");
                for (size_t i = 0; i < m->cfg.n_ports; i++) {
                        char buf[16];
                        strextendf(&set, "%s ", port_forward_format(&m->cfg.ports[i], buf));
                }
                strextendf(&set, "%s", a->ports);
                r = machine_config_set_from_cli(&m->cfg, set, &cfg_err);
                if (r < 0)
                        return log_error_errno(r, "%s", cfg_err);
        }
        r = machine_load_files(m);
        if (r < 0)
                return r;
        m->rootless = geteuid() != 0;
        if (m->rootless) {
                r = machine_load_rootless(m);
                if (r < 0)
                        return r;
        }
        if (a->devices) {
                r = machine_config_add_devices(&m->cfg, a->devices, &cfg_err);
                if (r < 0)
                        return log_error_errno(r, "%s", cfg_err);
        }
        r = device_list_build(m->cfg.devices, m->cfg.n_devices, &m->devices, &cfg_err);
        if (r < 0)
                return log_error_errno(r, "%s", cfg_err);
        /* berth run in unit mode: we are systemd's child, not its, so no pipe
         * tells us when it is gone; its pidfd does. */
        if (a->lifeline_pid > 0) {
                m->lifeline_pidfd = pidfd_open_checked(a->lifeline_pid, a->lifeline_starttime);
                if (m->lifeline_pidfd < 0)
                        return log_error_errno(m->lifeline_pidfd, "The process that runs machine %s (pid %d) is gone: %m",
                                               a->name, (int) a->lifeline_pid);
        }
        m->lifeline = a->lifeline_fd >= 0 ? a->lifeline_fd : m->lifeline_pidfd;
        return 0;
}

/* A user's machine in direct mode has no cgroup of its own: its init runs
 * in ours, the root of its cgroup namespace.  systemd there makes its
 * init.scope and moves itself in, and exits at once ("Failed to create
 * /init.scope control group: Permission denied") when our cgroup is not the
 * user's to write: no systemd delegated it.  Said before anything runs. */
static int check_init_cgroup(const Machine *m) {
        const char *name = m->args->name;
        if (!m->rootless || m->args->unit || !init_is_systemd(m->init_name))
                return 0;
        /* A run instance is thrown away: its base's config is not the fix. */
        _cleanup_free_ char *without = m->base ? xstrdup("run the command without --boot (under berth's own init)")
                                               : xasprintf("boot the machine without systemd: 'berth set %s Boot=no' "
                                                           "or another Init=",
                                                           name);
        _cleanup_free_ char *dir = NULL;
        int r = cgroup_own_is_writable(&dir);
        if (r == -ENOENT)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "Machine %s boots systemd, which needs a cgroup v2 tree, and this host mounts "
                                       "no unified cgroup hierarchy: %s.",
                                       name, without);
        if (r < 0)
                return log_error_errno(r, "Failed to check whether your cgroup is yours to write: %m");
        if (r > 0)
                return 0;
        const struct passwd *pw = getpwuid(geteuid());
        return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                               "Machine %s boots systemd, which needs a cgroup it may write (one delegated to "
                               "you), but without your systemd berth runs the machine in your own cgroup, %s, "
                               "which is not yours to write.  Run berth under your systemd ('systemd --user': "
                               "log in with a session, or 'loginctl enable-linger %s'), or from a cgroup "
                               "delegated to you (one such machine in each); or %s.",
                               name, dir, pw ? pw->pw_name : "$USER", without);
}

/* Lock the rootfs and the runtime dir, check the rootfs, and write the
 * runtime state that tells berth the machine runs. */
static int machine_claim(Machine *m) {
        const SupervisorArgs *a = m->args;
        const char *base = m->base;
        int r;
        if (base || !m->ephemeral) {
                m->base_lock = store_lock_base(&m->store, base ?: a->name, base != NULL);
                if (m->base_lock == -EBUSY)
                        return log_error_errno(m->base_lock,
                                               base ? "Machine '%s' runs with changes to its rootfs; it cannot be a base now."
                                                    : "Machine '%s' is the base of running 'berth run' machines; stop "
                                                      "them first (or start it with --ephemeral).",
                                               base ?: a->name);
                if (m->base_lock < 0)
                        return log_error_errno(m->base_lock, "Failed to lock the base: %m");
        }
        /* A machine's dir, or an image's (images/bases/NAME) for a run instance. */
        m->machine_dir = store_base_path(&m->store, base ?: a->name);
        m->rootfs = xasprintf("%s/rootfs", m->machine_dir);
        r = layers_prepare_start(&m->store, m->machine_dir, &m->layers);
        if (r < 0)
                return log_error_errno(r, "Failed to read the layers of '%s': %m", base ?: a->name);
        /* Boot=no: berth's minimal init runs [Exec] Command=; no init needed. */
        r = layers_rootfs_check(&m->store, m->machine_dir, a->stub || !m->cfg.boot ? NULL : m->cfg.init, &m->init_name);
        if (r < 0)
                return r;
        r = check_init_cgroup(m);
        if (r < 0)
                return r;

        if (m->cfg.private_users && m->cfg.network_mode == NETWORK_MODE_HOST)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "[Network] Mode=host needs PrivateUsers=no.");

        if (mkdirat(m->store.run_fd, a->name, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s/%s: %m", m->store.run, a->name);
        m->run_fd = open_dir_nofollow(m->store.run_fd, a->name);
        if (m->run_fd < 0)
                return log_error_errno(m->run_fd, "Failed to open %s/%s: %m", m->store.run, a->name);
        m->lock_fd = lock_file_at(m->run_fd, "supervisor.lock", true, false);
        if (m->lock_fd == -EWOULDBLOCK)
                return log_error_errno(m->lock_fd, "Machine '%s' is already running.", a->name);
        if (m->lock_fd < 0)
                return log_error_errno(m->lock_fd, "Failed to lock %s/%s/supervisor.lock: %m", m->store.run, a->name);

        if (a->unit) {
                /* stderr goes to the journal; berth start reads this file on failure. */
                m->logfd = openat(m->run_fd, "supervisor.log", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (m->logfd >= 0)
                        log_set_file(m->logfd);
        }

        /* Where the machine's cgroups go: ours under berth/, or the unit's own. */
        m->mcg.delegated = a->unit;
        if (a->unit) {
                r = cgroup_unified_of(0, &m->group);
                if (r < 0)
                        return log_error_errno(r, "Cannot find the unit's cgroup (is it delegated?): %m");
        } else if (!m->rootless)
                m->group = xasprintf(CGROUP_TOP "/%s", m->cgname);
        m->mcg.group = m->group;

        m->st = (RuntimeState) { .state = MACHINE_STARTING, .supervisor_pid = getpid(), .delegated = a->unit,
                                 .ephemeral = m->ephemeral };
        snprintf(m->st.cgroup, sizeof m->st.cgroup, "%s", m->group ?: "");
        /* What status shows: the devices of this run, --device's too.  The
         * config caps them at 64 lines of under 200 bytes, which can outgrow
         * the field: then the last ones are left out, and "..." says so. */
        size_t used = 0;
        for (size_t i = 0; i < m->cfg.n_devices; i++) {
                _cleanup_free_ char *one = device_allow_format(&m->cfg.devices[i]);
                if (used + strlen(one) + 5 >= sizeof m->st.devices) {
                        strcpy(m->st.devices + used, i ? ",..." : "...");
                        break;
                }
                used += (size_t) sprintf(m->st.devices + used, "%s%s", i ? "," : "", one);
        }
        /* This start's network (--network's), for status. */
        m->st.network_known = true;
        snprintf(m->st.network_mode, sizeof m->st.network_mode, "%s", network_mode_to_string(m->cfg.network_mode));
        snprintf(m->st.network_name, sizeof m->st.network_name, "%s", machine_config_network_name(&m->cfg) ?: "");
        /* This start's port forwards (--port's too), for status. */
        m->st.ports_known = true;
        used = 0;
        for (size_t i = 0; i < m->cfg.n_ports && used < sizeof m->st.ports; i++) {
                char buf[16];
                used += (size_t) snprintf(m->st.ports + used, sizeof m->st.ports - used, "%s%s", i ? " " : "",
                                          port_forward_format(&m->cfg.ports[i], buf));
        }
        if (a->unit) {
                const char *u = strrchr(m->group, '/');
                snprintf(m->st.unit, sizeof m->st.unit, "%s", u ? u + 1 : m->group);
        }
        (void) proc_starttime(m->st.supervisor_pid, &m->st.supervisor_starttime);
        pick_shutdown(&m->cfg, m->init_name, &m->st);
        /* This start's binds and tmpfs mounts (--bind and the like included),
         * as a [Files] section, for status and list. */
        _cleanup_free_ char *files = machine_config_format(&m->cfg, CONFIG_FILES_MASK);
        r = write_file_atomic_at(m->run_fd, RUNTIME_FILES, files, strlen(files), 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s/%s/" RUNTIME_FILES ": %m", m->store.run, a->name);
        r = runtime_state_write(m->run_fd, &m->st);
        if (r < 0)
                return log_error_errno(r, "Failed to write runtime state: %m");
        /* From here on our supervisor.lock and state tell berth the machine
         * runs: its lock on the machine is no longer needed. */
        if (m->machine_lock >= 0)
                (void) flock(m->machine_lock, LOCK_UN); /* for every copy of the fd, berth's included */
        closep(&m->machine_lock);

        _cleanup_free_ char *transient_unit = unit_name_for(m->cgname);
        if (a->unit && !streq(m->st.unit, transient_unit)) {
                /* A unit started from the berth@.service template knows nothing of
                 * machine.conf: give it the machine's limits.  Not berth start's
                 * transient unit, which has them: setting them again would only
                 * write drop-ins.  A user's template unit is their systemd's. */
                _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
                if ((m->rootless ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus)) >= 0)
                        (void) unit_set_limits(bus, m->st.unit, &m->cfg);
        }
        return 0;
}

/* The machine's user namespace range and mount stage; or, without one, its
 * tree owned by the host's IDs again. */
static int machine_setup_users(Machine *m) {
        if (m->cfg.private_users) {
                /* Without idmapped mounts a run instance boots its base's tree
                 * as it is on disk: in the base's range (no range of its own). */
                bool base_range = m->rootless && m->base;
                _cleanup_close_ int mfd = base_range ? open_dir_nofollow(AT_FDCWD, m->machine_dir)
                                                     : open_dir_nofollow(m->store.machines_fd, m->args->name);
                int r = mfd < 0            ? mfd
                        : base_range ? idmap_read_at(mfd, &m->uid_base)
                                     : userns_ensure_range(&m->store, mfd, &m->uid_base);
                if (r < 0)
                        return log_error_errno(r, "Failed to get the machine's UID range: %m");
                /* Without root the user's own IDs are mapped into the machine
                 * (newidmap.h) and its root reaches the console as theirs; no
                 * stage: mounts made in a namespace the user owns lock nothing
                 * the user could not undo anyway. */
                if (m->rootless) {
                        /* devpts mounted with gid=5 (as systemd mounts it) gives the
                         * pty to group tty, which the machine does not map: its root
                         * could not open its console.  The user's own group is mapped. */
                        if (fchown(m->console.slave_keep, (uid_t) -1, getegid()) < 0)
                                return log_error_errno(errno, "Failed to hand the console to your group: %m");
                        return 0;
                }
                /* The console belongs to the machine's root and tty group (GID 5). */
                if (fchown(m->console.slave_keep, m->uid_base, m->uid_base + 5) < 0)
                        return log_error_errno(errno, "Failed to hand the console to the machine: %m");
                /* Its root must not undo its mounts: they come back locked. */
                return mount_stage_open(&m->stage, m->run_fd, m->run_path, m->uid_base, &m->devices);
        }
        log_warning("Machine %s runs without a user namespace (PrivateUsers=no): its root is the host's "
                    "root, this is not a security boundary.",
                    m->args->name);
        /* Host IDs are the guest's: a tree chowned for an earlier start goes back. */
        return ownership_ensure(m->rootfs, 0);
}

/* The signals berth and systemd send us arrive on a signalfd. */
static int signals_open(void) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGUSR2);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) signal(SIGPIPE, SIG_IGN);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return log_error_errno(errno, "signalfd failed: %m");
        return sfd;
}

/* What every boot of this machine is launched with. */
static void launch_params_init(Machine *m, Id128 uuid) {
        const SupervisorArgs *a = m->args;
        const MachineConfig *cfg = &m->cfg;
        bool own_netns = cfg->network_mode != NETWORK_MODE_HOST;
        /* "berth run" runs its command itself (--stub-init); Boot=no runs Command=. */
        bool program = !a->stub && !cfg->boot;
        m->program = (StubProgram) { .argv = cfg->command, .env = cfg->environment, .cwd = cfg->working_directory,
                                     .user = cfg->user };
        m->lp = (LaunchParams) {
                .cgroup = &m->mcg,
                .hostname = cfg->hostname ?: a->name,
                .hostname_configured = cfg->hostname != NULL,
                .init = cfg->init,
                .mount = { .rootfs = m->rootfs, .console = m->console.slave_path, .devices = &m->devices, .rootfs_tree_fd = -1,
                           .own_netns = own_netns, .notify_dir = m->notify.dir, .notify_dir_fd = -1,
                           .notify_tree_fd = -1,
                           .ephemeral = m->ephemeral, .userns = m->uid_base > 0, .stage = m->stage.path,
                           .stage_fd = -1, .machine_dir = m->layers ? m->machine_dir : NULL, .layers = m->layers,
                           .n_layers = strv_length(m->layers), .binds = m->binds, .n_binds = m->n_binds,
                           .tmpfs = m->tmpfs, .n_tmpfs = m->n_tmpfs },
                .stub_init = a->stub || !cfg->boot,
                .program = program ? &m->program : NULL,
                .own_netns = own_netns,
                .caps_keep = caps_default_bounding(own_netns),
                .uid_base = m->uid_base,
                .rootless = m->rootless,
                .ownership = cfg->ownership,
                .rootfs_shared = m->base != NULL,
                .setup_network = m->use_pasta ? attach_pasta : attach_network,
                .network_userdata = m->use_pasta ? (void *) m : (void *) &m->net,
                .resolv_conf = m->resolv_conf,
                .stage = m->stage.path ? &m->stage : NULL,
                .machine_uuid = uuid,
        };
}

/* Everything a boot needs that outlives it: cgroups, network, console,
 * notify socket, IDs and signals.  From here on a failure is torn down. */
static int machine_setup(Machine *m) {
        const SupervisorArgs *a = m->args;
        m->owns_runtime = true;
        int r;
        /* Without root only a user's systemd delegates a cgroup to us (unit
         * mode); in direct mode (berth start says so) the machine runs in
         * ours, without limits. */
        if (m->group) {
                r = cgroup_supervisor_enter(&m->mcg);
                if (r < 0)
                        return r;
                CgroupLimits limits = cgroup_limits_from_config(&m->cfg);
                r = cgroup_machine_create(&m->mcg, &limits, &m->devices);
                if (r < 0)
                        return r;
        }

        r = network_prepare(&m->net, &m->store, a->name, &m->cfg, a->unit);
        if (r < 0)
                return r;
        /* The sync just read every machine's entry and built the whole
         * fleet's nftables ruleset: the heap grew with the fleet, and glibc
         * would keep those freed pages for the machine's lifetime, so each
         * supervisor would cost more the more machines run. */
        (void) malloc_trim(0);
        m->resolv_conf = network_resolv_conf(&m->net);
        if (m->net.mode == NETWORK_MODE_BRIDGE && !m->net.external)
                portproxy_open(&m->proxy, m->net.ports, m->net.n_ports, &m->net.addr6);
        _cleanup_free_ char *addresses = network_addresses(&m->net);
        if (addresses) {
                snprintf(m->st.addresses, sizeof m->st.addresses, "%s", addresses);
                (void) runtime_state_write(m->run_fd, &m->st);
        }

        r = console_open(&m->console, m->run_fd);
        if (r < 0)
                return r;
        /* In unit mode the console goes to the journal too: journalctl -u shows the boot. */
        m->console.to_stdout = a->unit;

        m->run_path = xasprintf("%s/%s", m->store.run, a->name);
        r = notify_open(&m->notify, m->run_fd, m->run_path);
        if (r < 0)
                return r;
        host_dir_populate(m->run_fd);
        Id128 uuid;
        r = machine_uuid_load(m->store.machines_fd, a->name, &uuid);
        if (r < 0)
                return r;
        r = machine_setup_users(m);
        if (r < 0)
                return r;
        m->sfd = signals_open();
        if (m->sfd < 0)
                return m->sfd;
        launch_params_init(m, uuid);
        /* systemd says READY=1 when it has booted; other inits are "up" at exec. */
        m->guest_notifies = init_is_systemd(m->init_name);
        return 0;
}

/* Each boot's network namespace gets its own pasta. */
static int attach_pasta(void *userdata, int netns_fd, char **ret_resolv_conf) {
        Machine *m = userdata;
        return pasta_start(&m->pasta, m->run_fd, netns_fd, m->pasta_ports, m->n_pasta_ports, ret_resolv_conf);
}

/* A stop was asked for: say so in the runtime state. */
static void mark_stopping(Machine *m) {
        m->stop_requested = true;
        m->st.state = MACHINE_STOPPING;
        (void) runtime_state_write(m->run_fd, &m->st);
}

/* Obey the signals berth and systemd sent us about the init PID (PIDFD). */
static void handle_signals(Machine *m, pid_t pid, int pidfd, uint64_t *last_poweroff) {
        struct signalfd_siginfo ssi;
        while (read(m->sfd, &ssi, sizeof ssi) == (ssize_t) sizeof ssi) {
                if (ssi.ssi_signo == SIGCHLD || ssi.ssi_signo == SIGHUP)
                        continue;
                char sig[16], how[64];
                if (ssi.ssi_signo == SIGUSR2) {
                        /* berth reboot, for an init only we can ask (initctl).
                         * A pending stop wins. */
                        if (!m->stop_requested)
                                log_info("Received SIGUSR2, rebooting the machine with %s.",
                                         ask_init(m->st.reboot_initctl, '6', m->st.reboot_signal, pid, pidfd, how));
                        continue;
                }
                if (!m->stop_requested) {
                        if (m->args->unit)
                                (void) sd_notify(0, "STOPPING=1");
                        mark_stopping(m);
                }
                if (ssi.ssi_signo == SIGUSR1) {
                        /* berth kill: no shutdown, but still a requested stop. */
                        log_info("Received SIGUSR1, killing the machine.");
                        (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                        continue;
                }
                /* SIGTERM/SIGINT: a clean poweroff of the guest. */
                log_info("Received %s, powering off the machine with %s.", signal_to_string((int) ssi.ssi_signo, sig),
                         ask_poweroff(&m->st, pid, pidfd, how));
                *last_poweroff = now_usec(CLOCK_MONOTONIC);
        }
}

/* Serve the running init PID (PIDFD) until it ends, which RET_SI says how:
 * its console, port forwards, readiness, our signals and the lifeline. */
static int serve(Machine *m, pid_t pid, int pidfd, siginfo_t *ret_si) {
        const char *name = m->args->name;
        uint64_t last_poweroff = 0;
        for (;;) {
                struct pollfd p[4 + CONSOLE_POLLFDS_MAX + PORTPROXY_POLLFDS_MAX] = {
                        { .fd = pidfd, .events = POLLIN },
                        { .fd = m->sfd, .events = POLLIN },
                        { .fd = m->notify.fd, .events = POLLIN },
                        { .fd = m->stop_requested ? -1 : m->lifeline, .events = POLLIN },
                };
                size_t n_console = console_fill_pollfds(&m->console, p + 4);
                size_t n_proxy = portproxy_fill_pollfds(&m->proxy, p + 4 + n_console);
                /* An init ignores signals until it has installed its handlers (and
                 * sysvinit has no FIFO until it made one), so a poweroff sent right
                 * after boot can be lost: repeat it, the same way, while a stop is
                 * pending (inits treat a repeat as the same request). */
                int timeout = m->stop_requested ? POWEROFF_REPEAT_MS : -1;
                if (m->booted_after > 0) {
                        uint64_t now = now_usec(CLOCK_MONOTONIC);
                        int left = now >= m->booted_after ? 0 : (int) ((m->booted_after - now + 999) / 1000);
                        timeout = timeout < 0 || left < timeout ? left : timeout;
                }
                if (poll(p, 4 + n_console + n_proxy, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "poll failed: %m");
                }
                console_dispatch(&m->console, p + 4, n_console);
                portproxy_dispatch(&m->proxy, p + 4 + n_console, n_proxy);
                if (p[3].revents && !m->stop_requested) {
                        /* Whoever started us for one job is gone: power off. */
                        mark_stopping(m);
                        char how[64];
                        log_info("The process that ran machine %s went away, powering it off with %s.", name,
                                 ask_poweroff(&m->st, pid, pidfd, how));
                        last_poweroff = now_usec(CLOCK_MONOTONIC);
                }
                if ((p[2].revents & POLLIN) && notify_read_ready(&m->notify, pid)) {
                        log_info("Machine %s has booted.", name);
                        machine_booted(&m->st, m->run_fd, &m->ready_fd);
                }
                if (m->booted_after > 0 && !(p[0].revents & POLLIN) &&
                    now_usec(CLOCK_MONOTONIC) >= m->booted_after) {
                        m->booted_after = 0;
                        log_info("Machine %s has booted (its init still runs after %d ms).", name,
                                 WAIT_NO_NOTIFY_MS);
                        machine_booted(&m->st, m->run_fd, &m->ready_fd);
                }
                if (p[1].revents & POLLIN)
                        handle_signals(m, pid, pidfd, &last_poweroff);
                if (m->stop_requested && last_poweroff > 0 &&
                    now_usec(CLOCK_MONOTONIC) - last_poweroff >= POWEROFF_REPEAT_MS * 1000) {
                        char how[64];
                        (void) ask_poweroff(&m->st, pid, pidfd, how);
                        last_poweroff = now_usec(CLOCK_MONOTONIC);
                }
                if (p[0].revents & POLLIN) {
                        if (waitid(P_PIDFD, (id_t) pidfd, ret_si, WEXITED | WNOHANG) < 0)
                                return log_error_errno(errno, "waitid failed: %m");
                        if (ret_si->si_pid != 0)
                                return 0;
                }
        }
}

/* Why this boot ended, in the machine's dir for berth status (last-exit.h);
 * a machine without a dir of its own (gone meanwhile) has nowhere to keep it. */
static void record_last_exit(Machine *m, const LastExit *e) {
        _cleanup_close_ int dfd = open_dir_nofollow(m->store.machines_fd, m->args->name);
        int r = dfd < 0 ? dfd : last_exit_write(dfd, e);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to record why machine %s stopped, ignoring: %m", m->args->name);
}

/* Best effort: the machine runs whether machined knows it or not. */
static void register_with_machined(Machine *m, pid_t leader) {
        const char *name = m->args->name;
        _cleanup_free_ char *error = NULL;
        int r = machine_register(name, m->alt_name, "berth", leader, m->rootfs, true, &m->net.host_ifindex,
                                 m->net.host_ifindex > 0, &m->registered, &error);
        if (r == -ENOTCONN)
                log_warning("Cannot reach the system bus to register with machined.");
        else if (r == -EEXIST)
                log_warning("machined already knows other machines named %s and %s; not registering this one.", name,
                            m->alt_name);
        else if (r < 0)
                log_warning_errno(r, "Failed to register machine %s with machined: %s", name, error);
        else if (!streq(m->registered, name))
                log_notice("machined already knows a machine %s of another state root; registered this one as %s.",
                           name, m->registered);
}

/* Start the init once and serve it until it ends; RET says what next. */
static int boot_once(Machine *m, Outcome *ret) {
        const SupervisorArgs *a = m->args;
        pid_t pid;
        _cleanup_close_ int pidfd = -EBADF;
        int r;
        if (m->ephemeral && m->cfg.scratch_directory) {
                r = scratch_prepare(m->cfg.scratch_directory, m->cgname, m->uid_base, &m->scratch);
                if (r < 0)
                        return r;
                m->lp.mount.scratch = m->scratch;
        }
        r = launch_machine(&m->lp, &pid, &pidfd);
        if (r < 0)
                return r;
        if (m->net.mode == NETWORK_MODE_CNI) {
                /* What the plugins assigned to this boot, for status and list. */
                _cleanup_free_ char *addresses = network_addresses(&m->net);
                snprintf(m->st.addresses, sizeof m->st.addresses, "%s", addresses ?: "");
        }

        m->st.state = m->stop_requested ? MACHINE_STOPPING : MACHINE_RUNNING;
        m->st.init_pid = pid;
        (void) proc_starttime(pid, &m->st.init_starttime);
        m->st.started_usec = now_usec(CLOCK_REALTIME);
        m->st.boots++;
        m->st.booted = false;
        r = runtime_state_write(m->run_fd, &m->st);
        if (r < 0)
                log_warning_errno(r, "Failed to write runtime state, ignoring: %m");
        log_info("Machine %s started (init %s, pid %d, boot %u).", a->name, m->lp.program ? "berth-stub" : m->cfg.init,
                 (int) pid, m->st.boots);
        /* The system's machined registers root's machines only. */
        if (a->unit && !m->rootless)
                register_with_machined(m, pid);
        if (!a->wait)
                notify_ready(&m->ready_fd);
        /* start --wait of an init that never says READY=1: booted once it
         * has not died at once (a missing library, a bad command line). */
        if (!m->guest_notifies && a->wait && !m->st.booted)
                m->booted_after = now_usec(CLOCK_MONOTONIC) + WAIT_NO_NOTIFY_MS * 1000;
        else if (!m->guest_notifies)
                machine_booted(&m->st, m->run_fd, &m->ready_fd);

        siginfo_t si = {};
        r = serve(m, pid, pidfd, &si);
        if (r < 0)
                return r;
        (void) console_drain(&m->console);

        char how[64];
        *ret = classify_exit(&si, m->stop_requested, how);
        log_info("Machine %s init %s.", a->name, how);
        LastExit e;
        last_exit_from_siginfo(&si, m->stop_requested, &e);
        record_last_exit(m, &e);
        return 0;
}

/* The guest rebooted: a fresh cgroup payload and, if it may have changed,
 * its init checked again, before the next boot. */
static int prepare_reboot(Machine *m) {
        const SupervisorArgs *a = m->args;
        log_info("Machine %s is rebooting.", a->name);
        if (a->unit) {
                if (m->registered)
                        machine_unregister(m->registered);
                free(TAKE_PTR(m->registered));
                (void) sd_notify(0, "STATUS=Rebooting.");
        }
        /* A fresh payload per boot: the last boot's subtree goes with it; the
         * machine's group keeps its limits (berth set may have changed them). */
        int r = m->group ? cgroup_machine_renew_payload(&m->mcg) : 0;
        if (r < 0)
                return r;
        /* The guest may have replaced its init while it ran: check it
         * again, as at start (the child checks the live view too). */
        if (!m->lp.stub_init) {
                free(TAKE_PTR(m->init_name));
                r = layers_rootfs_check(&m->store, m->machine_dir, m->cfg.init, &m->init_name);
                if (r < 0)
                        return r;
                r = check_init_cgroup(m);
                if (r < 0)
                        return r;
                pick_shutdown(&m->cfg, m->init_name, &m->st);
                m->guest_notifies = init_is_systemd(m->init_name);
        }
        return 0;
}

/* Prepare, boot (again after each reboot of the guest), serve, tear down.
 * 0 when the machine powered off, -EIO when its init failed, -errno. */
static int run(const SupervisorArgs *a) {
        _cleanup_(machine_done) Machine m = {
                .args = a,
                .machine_lock = a->lock_fd,
                .store = STORE_INIT,
                .console = CONSOLE_INIT,
                .sfd = -EBADF,
                .notify = NOTIFY_INIT,
                .net = NETWORK_INIT,
                .proxy = PORTPROXY_INIT,
                .stage = MOUNT_STAGE_INIT,
                .lifeline_pidfd = -EBADF,
                .pasta = PASTA_INIT,
                .base_lock = -EBADF,
                .run_fd = -EBADF,
                .lock_fd = -EBADF,
                .logfd = -EBADF,
                .ready_fd = a->ready_fd,
        };
        int r = machine_load(&m);
        if (r >= 0)
                r = machine_claim(&m);
        if (r >= 0)
                r = machine_setup(&m);
        Outcome outcome = OUTCOME_FAILED;
        while (r >= 0) {
                r = boot_once(&m, &outcome);
                if (r < 0 || outcome != OUTCOME_REBOOT)
                        break;
                r = prepare_reboot(&m);
        }
        /* A start that failed: said in status, if this supervisor was the
         * machine's (it held the machine's locks; a second start of a running
         * machine must not overwrite the running one's record). */
        if (r < 0 && (m.owns_runtime || m.base_lock >= 0)) {
                LastExit e = { .reason = LAST_EXIT_START_FAILED, .status = -1, .usec = now_usec(CLOCK_REALTIME) };
                snprintf(e.detail, sizeof e.detail, "%s%s (berth logs NAME shows why)",
                         m.st.boots > 0 ? "reboot failed: " : "", strerror(-r));
                record_last_exit(&m, &e);
        }
        if (r < 0)
                return r;
        return outcome == OUTCOME_FAILED ? -EIO : 0;
}

int main(int argc, char **argv) {
        SupervisorArgs a = SUPERVISOR_ARGS_INIT;
        log_parse_environment();
        log_set_prefix("berth-machined");
        if (parse_args(argc, argv, &a) < 0)
                return 2;
        if (a.help) {
                fputs(supervisor_args_usage, stdout);
                return EXIT_SUCCESS;
        }
        if (a.network_gc)
                return network_gc() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        /* Direct mode: stderr is supervisor.log, which has no times of its own. */
        log_set_stamps(!a.unit);
        return run(&a) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
