/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-machined: boots and supervises one machine.  It is the machine's
 * only host-side process: it prepares the cgroup and console, starts the
 * init as PID 1 of new namespaces, drains the console, turns SIGTERM into a
 * clean poweroff, restarts the init when the guest reboots, and cleans up
 * when the guest is gone. */

#include <fcntl.h>
#include <poll.h>
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
#include "launch.h"
#include "mount-lock.h"
#include "log.h"
#include "name.h"
#include "register.h"
#include "unit.h"
#include "network.h"
#include "ownership.h"
#include "notify.h"
#include "portproxy.h"
#include "layers.h"
#include "rootfs.h"
#include "runtime.h"
#include "scratch.h"
#include "store.h"
#include "supervisor-args.h"
#include "userns.h"
#include "util.h"

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
        } else if (strstr(init_name, "systemd")) {
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

static int attach_network(void *userdata, int netns_fd) {
        return network_attach(userdata, netns_fd);
}

static int run(const SupervisorArgs *a) {
        /* Released once our runtime state exists (or when we fail before). */
        _cleanup_close_ int machine_lock = a->lock_fd;
        const char *reason;
        if (machine_name_validate(a->name, &reason) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid machine name: %s.", reason);

        _cleanup_(store_close) Store store = STORE_INIT;
        int r = store_open(&store, a->root, a->config);
        if (r < 0)
                return r;

        if (store_machine_exists(&store, a->name) <= 0)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "No machine '%s'.", a->name);

        /* Declared before the first "goto finish", so cleanup never sees garbage. */
        _cleanup_(machine_config_done) MachineConfig cfg = {};
        _cleanup_(console_close) Console console = CONSOLE_INIT;
        _cleanup_close_ int sfd = -EBADF;
        _cleanup_(notify_close) Notify notify = NOTIFY_INIT;
        _cleanup_free_ char *run_path = NULL;
        _cleanup_free_ char *cfg_err = NULL;
        _cleanup_(network_done) Network net = NETWORK_INIT;
        _cleanup_(portproxy_close) PortProxy proxy = PORTPROXY_INIT;
        _cleanup_(mount_stage_close) MountStage stage = MOUNT_STAGE_INIT;
        _cleanup_free_ char *resolv_conf = NULL;
        _cleanup_free_ char *scratch = NULL;
        uid_t uid_base = 0; /* the machine's root on the host; 0 without a user namespace */
        _cleanup_free_ char *cgname = store_cgroup_name(&store, a->name);
        /* The name machined knows this machine by, while registered. */
        _cleanup_free_ char *alt_name = store_qualified_name(&store, a->name), *registered = NULL;
        r = store_load_config(&store, a->name, NULL, &cfg, &cfg_err);
        if (r < 0)
                return log_error_errno(r, "%s", cfg_err ?: "Failed to load the configuration.");

        /* A run instance boots its base's rootfs, always ephemeral, and keeps the
         * base from changing underneath it; a persistent boot keeps instances away. */
        _cleanup_free_ char *base = NULL;
        r = store_machine_base(&store, a->name, &base);
        if (r < 0)
                return log_error_errno(r, "Failed to read the base of '%s': %m", a->name);
        bool ephemeral = a->ephemeral || base;
        if (base) {
                /* Instances copy their base's config, but a host port can have
                 * only one owner: they get only the forwards of their --port. */
                free(cfg.ports);
                cfg.ports = NULL;
                cfg.n_ports = 0;
        }
        if (a->ports) {
                /* The configured forwards and --port's, checked as one Port= line. */
                _cleanup_free_ char *set = xstrdup("Network.Port=");
                for (size_t i = 0; i < cfg.n_ports; i++) {
                        char buf[16];
                        strextendf(&set, "%s ", port_forward_format(&cfg.ports[i], buf));
                }
                strextendf(&set, "%s", a->ports);
                r = machine_config_set_from_cli(&cfg, set, &cfg_err);
                if (r < 0)
                        return log_error_errno(r, "%s", cfg_err);
        }
        /* berth run in unit mode: we are systemd's child, not its, so no pipe
         * tells us when it is gone; its pidfd does. */
        _cleanup_close_ int lifeline_pidfd = -EBADF;
        if (a->lifeline_pid > 0) {
                lifeline_pidfd = pidfd_open_checked(a->lifeline_pid, a->lifeline_starttime);
                if (lifeline_pidfd < 0)
                        return log_error_errno(lifeline_pidfd, "The process that runs machine %s (pid %d) is gone: %m",
                                               a->name, (int) a->lifeline_pid);
        }
        int lifeline = a->lifeline_fd >= 0 ? a->lifeline_fd : lifeline_pidfd;
        _cleanup_close_ int base_lock = -EBADF;
        if (base || !ephemeral) {
                base_lock = store_lock_base(&store, base ?: a->name, base != NULL);
                if (base_lock == -EBUSY)
                        return log_error_errno(base_lock,
                                               base ? "Machine '%s' runs with changes to its rootfs; it cannot be a base now."
                                                    : "Machine '%s' is the base of running 'berth run' machines; stop "
                                                      "them first (or start it with --ephemeral).",
                                               base ?: a->name);
                if (base_lock < 0)
                        return log_error_errno(base_lock, "Failed to lock the base: %m");
        }
        /* A machine's dir, or an image's (images/bases/NAME) for a run instance. */
        _cleanup_free_ char *machine_dir = store_base_path(&store, base ?: a->name);
        _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", machine_dir);
        _cleanup_strv_free_ char **layers = NULL;
        r = layers_prepare_start(&store, machine_dir, &layers);
        if (r < 0)
                return log_error_errno(r, "Failed to read the layers of '%s': %m", base ?: a->name);
        _cleanup_free_ char *init_name = NULL;
        /* Boot=no: berth's minimal init runs [Exec] Command=; no init needed. */
        r = layers_rootfs_check(&store, machine_dir, a->stub || !cfg.boot ? NULL : cfg.init, &init_name);
        if (r < 0)
                return r;

        if (cfg.private_users && cfg.network_mode == NETWORK_MODE_HOST)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "[Network] Mode=host needs PrivateUsers=no.");

        if (mkdirat(store.run_fd, a->name, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s/%s: %m", store.run, a->name);
        _cleanup_close_ int run_fd = open_dir_nofollow(store.run_fd, a->name);
        if (run_fd < 0)
                return log_error_errno(run_fd, "Failed to open %s/%s: %m", store.run, a->name);
        _cleanup_close_ int lock_fd = lock_file_at(run_fd, "supervisor.lock", true, false);
        if (lock_fd == -EWOULDBLOCK)
                return log_error_errno(lock_fd, "Machine '%s' is already running.", a->name);
        if (lock_fd < 0)
                return log_error_errno(lock_fd, "Failed to lock %s/%s/supervisor.lock: %m", store.run, a->name);

        _cleanup_close_ int logfd = -EBADF;
        if (a->unit) {
                /* stderr goes to the journal; berth start reads this file on failure. */
                logfd = openat(run_fd, "supervisor.log", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (logfd >= 0)
                        log_set_file(logfd);
        }

        /* Where the machine's cgroups go: ours under berth/, or the unit's own. */
        MachineCgroup mcg = { .delegated = a->unit };
        _cleanup_free_ char *group = NULL;
        if (a->unit) {
                r = cgroup_self_unified(&group);
                if (r < 0)
                        return log_error_errno(r, "Cannot find the unit's cgroup (is it delegated?): %m");
        } else
                group = xasprintf(CGROUP_TOP "/%s", cgname);
        mcg.group = group;

        RuntimeState st = { .state = MACHINE_STARTING, .supervisor_pid = getpid(), .delegated = a->unit,
                            .ephemeral = ephemeral };
        snprintf(st.cgroup, sizeof st.cgroup, "%s", group);
        if (a->unit) {
                const char *u = strrchr(group, '/');
                snprintf(st.unit, sizeof st.unit, "%s", u ? u + 1 : group);
        }
        (void) proc_starttime(st.supervisor_pid, &st.supervisor_starttime);
        pick_shutdown(&cfg, init_name, &st);
        r = runtime_state_write(run_fd, &st);
        if (r < 0)
                return log_error_errno(r, "Failed to write runtime state: %m");
        /* From here on our supervisor.lock and state tell berth the machine
         * runs: its lock on the machine is no longer needed. */
        if (machine_lock >= 0)
                (void) flock(machine_lock, LOCK_UN); /* for every copy of the fd, berth's included */
        closep(&machine_lock);

        _cleanup_free_ char *transient_unit = unit_name_for(cgname);
        if (a->unit && !streq(st.unit, transient_unit)) {
                /* A unit started from the berth@.service template knows nothing of
                 * machine.conf: give it the machine's limits.  Not berth start's
                 * transient unit, which has them: setting them again would only
                 * write drop-ins. */
                _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
                if (sd_bus_open_system(&bus) >= 0)
                        (void) unit_set_limits(bus, st.unit, &cfg);
        }

        r = cgroup_supervisor_enter(&mcg);
        if (r < 0)
                goto finish;
        CgroupLimits limits = cgroup_limits_from_config(&cfg);
        r = cgroup_machine_create(&mcg, &limits);
        if (r < 0)
                goto finish;

        r = network_prepare(&net, &store, a->name, &cfg, a->unit);
        if (r < 0)
                goto finish;
        resolv_conf = network_resolv_conf(&net);
        if (net.mode == NETWORK_MODE_BRIDGE && !net.external)
                portproxy_open(&proxy, net.ports, net.n_ports, &net.addr6);
        {
                _cleanup_free_ char *addresses = network_addresses(&net);
                if (addresses) {
                        snprintf(st.addresses, sizeof st.addresses, "%s", addresses);
                        (void) runtime_state_write(run_fd, &st);
                }
        }

        r = console_open(&console, run_fd);
        if (r < 0)
                goto finish;
        /* In unit mode the console goes to the journal too: journalctl -u shows the boot. */
        console.to_stdout = a->unit;

        run_path = xasprintf("%s/%s", store.run, a->name);
        r = notify_open(&notify, run_fd, run_path);
        if (r < 0)
                goto finish;
        host_dir_populate(run_fd);
        Id128 uuid;
        r = machine_uuid_load(store.machines_fd, a->name, &uuid);
        if (r < 0)
                goto finish;

        if (cfg.private_users) {
                _cleanup_close_ int mfd = open_dir_nofollow(store.machines_fd, a->name);
                r = mfd < 0 ? mfd : userns_ensure_range(&store, mfd, &uid_base);
                if (r < 0) {
                        log_error_errno(r, "Failed to get the machine's UID range: %m");
                        goto finish;
                }
                /* The console belongs to the machine's root and tty group (GID 5). */
                if (fchown(console.slave_keep, uid_base, uid_base + 5) < 0) {
                        r = log_error_errno(errno, "Failed to hand the console to the machine: %m");
                        goto finish;
                }
                /* Its root must not undo its mounts: they come back locked. */
                r = mount_stage_open(&stage, run_fd, run_path);
                if (r < 0)
                        goto finish;
        } else {
                log_warning("Machine %s runs without a user namespace (PrivateUsers=no): its root is the host's "
                            "root, this is not a security boundary.",
                            a->name);
                /* Host IDs are the guest's: a tree chowned for an earlier start goes back. */
                r = ownership_ensure(rootfs, 0);
                if (r < 0)
                        goto finish;
        }

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
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                r = log_error_errno(errno, "signalfd failed: %m");
                goto finish;
        }

        bool own_netns = cfg.network_mode != NETWORK_MODE_HOST;
        LaunchParams lp = {
                .cgroup = &mcg,
                .hostname = cfg.hostname ?: a->name,
                .init = cfg.init,
                .mount = { .rootfs = rootfs, .console = console.slave_path, .rootfs_tree_fd = -1,
                           .own_netns = own_netns, .notify_dir = notify.dir, .notify_dir_fd = -1,
                           .ephemeral = ephemeral, .userns = uid_base > 0, .stage = stage.path, .stage_fd = -1,
                           .machine_dir = layers ? machine_dir : NULL, .layers = layers,
                           .n_layers = strv_length(layers) },
                /* "berth run" runs its command itself (--stub-init); Boot=no runs Command=. */
                .stub_init = a->stub || !cfg.boot,
                .program = a->stub || cfg.boot ? NULL : &(StubProgram) {
                        .argv = cfg.command, .env = cfg.environment, .cwd = cfg.working_directory,
                        .user = cfg.user,
                },
                .own_netns = own_netns,
                .caps_keep = caps_default_bounding(own_netns),
                .uid_base = uid_base,
                .ownership = cfg.ownership,
                .rootfs_shared = base != NULL,
                .setup_network = attach_network,
                .network_userdata = &net,
                .resolv_conf = resolv_conf,
                .stage = stage.path ? &stage : NULL,
                .machine_uuid = uuid,
        };
        bool use_scratch = ephemeral && cfg.scratch_directory;

        int ready_fd = a->ready_fd;
        bool stop_requested = false;
        /* systemd says READY=1 when it has booted; other inits are "up" at exec. */
        bool guest_notifies = strstr(init_name, "systemd");
        Outcome outcome = OUTCOME_FAILED;
        for (;;) {
                pid_t pid;
                _cleanup_close_ int pidfd = -EBADF;
                if (use_scratch) {
                        r = scratch_prepare(cfg.scratch_directory, cgname, uid_base, &scratch);
                        if (r < 0)
                                goto finish;
                        lp.mount.scratch = scratch;
                }
                r = launch_machine(&lp, &pid, &pidfd);
                if (r < 0)
                        goto finish;

                st.state = stop_requested ? MACHINE_STOPPING : MACHINE_RUNNING;
                st.init_pid = pid;
                (void) proc_starttime(pid, &st.init_starttime);
                st.started_usec = now_usec(CLOCK_REALTIME);
                st.boots++;
                st.booted = false;
                r = runtime_state_write(run_fd, &st);
                if (r < 0)
                        log_warning_errno(r, "Failed to write runtime state, ignoring: %m");
                log_info("Machine %s started (init %s, pid %d, boot %u).", a->name,
                         lp.program ? "berth-stub" : cfg.init, (int) pid, st.boots);
                if (a->unit)
                        (void) register_machine(a->name, alt_name, pid, rootfs, &net.host_ifindex,
                                                net.host_ifindex > 0, &registered);
                if (!a->wait)
                        notify_ready(&ready_fd);
                if (!guest_notifies)
                        machine_booted(&st, run_fd, &ready_fd);

                siginfo_t si = {};
                uint64_t last_poweroff = 0;
                for (;;) {
                        struct pollfd p[4 + CONSOLE_POLLFDS_MAX + PORTPROXY_POLLFDS_MAX] = {
                                { .fd = pidfd, .events = POLLIN },
                                { .fd = sfd, .events = POLLIN },
                                { .fd = notify.fd, .events = POLLIN },
                                { .fd = stop_requested ? -1 : lifeline, .events = POLLIN },
                        };
                        size_t n_console = console_fill_pollfds(&console, p + 4);
                        size_t n_proxy = portproxy_fill_pollfds(&proxy, p + 4 + n_console);
                        /* An init ignores signals until it has installed its handlers (and
                         * sysvinit has no FIFO until it made one), so a poweroff sent right
                         * after boot can be lost: repeat it, the same way, while a stop is
                         * pending (inits treat a repeat as the same request). */
                        if (poll(p, 4 + n_console + n_proxy, stop_requested ? POWEROFF_REPEAT_MS : -1) < 0) {
                                if (errno == EINTR)
                                        continue;
                                r = log_error_errno(errno, "poll failed: %m");
                                goto finish;
                        }
                        console_dispatch(&console, p + 4, n_console);
                        portproxy_dispatch(&proxy, p + 4 + n_console, n_proxy);
                        if (p[3].revents && !stop_requested) {
                                /* Whoever started us for one job is gone: power off. */
                                stop_requested = true;
                                st.state = MACHINE_STOPPING;
                                (void) runtime_state_write(run_fd, &st);
                                char how[64];
                                log_info("The process that ran machine %s went away, powering it off with %s.", a->name,
                                         ask_poweroff(&st, pid, pidfd, how));
                                last_poweroff = now_usec(CLOCK_MONOTONIC);
                        }
                        if ((p[2].revents & POLLIN) && notify_read_ready(&notify, pid)) {
                                log_info("Machine %s has booted.", a->name);
                                machine_booted(&st, run_fd, &ready_fd);
                        }
                        if (p[1].revents & POLLIN) {
                                struct signalfd_siginfo ssi;
                                while (read(sfd, &ssi, sizeof ssi) == (ssize_t) sizeof ssi) {
                                        if (ssi.ssi_signo == SIGCHLD || ssi.ssi_signo == SIGHUP)
                                                continue;
                                        char sig[16], how[64];
                                        if (ssi.ssi_signo == SIGUSR2) {
                                                /* berth reboot, for an init only we can ask (initctl).
                                                 * A pending stop wins. */
                                                if (!stop_requested)
                                                        log_info("Received SIGUSR2, rebooting the machine with %s.",
                                                                 ask_init(st.reboot_initctl, '6', st.reboot_signal, pid,
                                                                          pidfd, how));
                                                continue;
                                        }
                                        if (!stop_requested) {
                                                if (a->unit)
                                                        (void) sd_notify(0, "STOPPING=1");
                                                stop_requested = true;
                                                st.state = MACHINE_STOPPING;
                                                (void) runtime_state_write(run_fd, &st);
                                        }
                                        if (ssi.ssi_signo == SIGUSR1) {
                                                /* berth kill: no shutdown, but still a requested stop. */
                                                log_info("Received SIGUSR1, killing the machine.");
                                                (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                                                continue;
                                        }
                                        /* SIGTERM/SIGINT: a clean poweroff of the guest. */
                                        log_info("Received %s, powering off the machine with %s.",
                                                 signal_to_string((int) ssi.ssi_signo, sig),
                                                 ask_poweroff(&st, pid, pidfd, how));
                                        last_poweroff = now_usec(CLOCK_MONOTONIC);
                                }
                        }
                        if (stop_requested && last_poweroff > 0 &&
                            now_usec(CLOCK_MONOTONIC) - last_poweroff >= POWEROFF_REPEAT_MS * 1000) {
                                char how[64];
                                (void) ask_poweroff(&st, pid, pidfd, how);
                                last_poweroff = now_usec(CLOCK_MONOTONIC);
                        }
                        if (p[0].revents & POLLIN) {
                                if (waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED | WNOHANG) < 0) {
                                        r = log_error_errno(errno, "waitid failed: %m");
                                        goto finish;
                                }
                                if (si.si_pid != 0)
                                        break;
                        }
                }
                (void) console_drain(&console);

                char how[64];
                outcome = classify_exit(&si, stop_requested, how);
                log_info("Machine %s init %s.", a->name, how);
                if (outcome != OUTCOME_REBOOT)
                        break;

                log_info("Machine %s is rebooting.", a->name);
                if (a->unit) {
                        if (registered)
                                unregister_machine(registered);
                        free(TAKE_PTR(registered));
                        (void) sd_notify(0, "STATUS=Rebooting.");
                }
                /* A fresh payload per boot: the last boot's subtree goes with it; the
                 * machine's group keeps its limits (berth set may have changed them). */
                r = cgroup_machine_renew_payload(&mcg);
                if (r < 0)
                        goto finish;
                /* The guest may have replaced its init while it ran: check it
                 * again, as at start (the child checks the live view too). */
                if (!lp.stub_init) {
                        free(TAKE_PTR(init_name));
                        r = layers_rootfs_check(&store, machine_dir, cfg.init, &init_name);
                        if (r < 0)
                                goto finish;
                        pick_shutdown(&cfg, init_name, &st);
                        guest_notifies = strstr(init_name, "systemd");
                }
        }
        r = outcome == OUTCOME_FAILED ? -EIO : 0;

finish:
        if (registered)
                unregister_machine(registered);
        network_release(&net);
        if (scratch)
                (void) scratch_remove_layers(cfg.scratch_directory, cgname, uid_base);
        (void) cgroup_machine_destroy(&mcg);
        /* Without the state file the machine reads as stopped even before the lock goes. */
        (void) unlinkat(run_fd, "state", 0);
        return r;
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
        return run(&a) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
