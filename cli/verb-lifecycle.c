/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* start, stop, kill, reboot. */

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "berth.h"
#include "binds.h"
#include "netaddr.h"
#include "build-config.h"
#include "cgroup.h"
#include "cni.h"
#include "fs.h"
#include "last-exit.h"
#include "log.h"
#include "layers.h"
#include "runtime.h"
#include "supervisor-args.h"
#include "util.h"

static int wait_pidfd(int pidfd, int timeout_ms) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        for (;;) {
                int r = poll(&p, 1, timeout_ms);
                if (r < 0 && errno == EINTR)
                        continue;
                return r < 0 ? -errno : r; /* 1: exited, 0: timeout */
        }
}

static void print_supervisor_log(Context *ctx, const char *name) {
        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.run_fd, name);
        _cleanup_free_ char *text = NULL;
        if (dfd < 0 || read_file_at(dfd, "supervisor.log", 1 << 16, &text, NULL) < 0 || isempty(text)) {
                log_error("The supervisor of '%s' failed without a message.", name);
                return;
        }
        /* Its lines without their times (berth logs -o short-iso shows them). */
        for (char *line = text, *e; *line; line = e) {
                e = strchrnul(line, '\n');
                if (*e)
                        e++;
                uint64_t usec;
                const char *start = (size_t) (e - line) > LOG_STAMP_LEN && log_stamp_parse(line, &usec) >= 0
                                            ? line + LOG_STAMP_LEN
                                            : line;
                fwrite(start, 1, (size_t) (e - start), stderr);
        }
}

static void warn_privileged(const char *name) {
        log_warning("Machine '%s' runs without a user namespace (PrivateUsers=no): root inside is root on the "
                    "host. This is not a security boundary.",
                    name);
}

/* A user's systemd delegates only the controllers the unified hierarchy
 * has: where memory, pids or cpu are bound to cgroup v1 (a hybrid or
 * legacy host) the unit has the limits as properties but nothing enforces
 * those of the missing controllers.  Said once, here, as direct mode says
 * it, naming exactly what is not enforced. */
static void warn_user_limits(Context *ctx, const char *name, const char *unit) {
        RuntimeState st;
        if (runtime_state_read(ctx->store.run_fd, name, &st) < 0 || !st.delegated || isempty(st.cgroup))
                return;
        MachineCgroup mcg = { .group = st.cgroup, .delegated = true };
        static const struct {
                const char *controller, *keys;
        } limits[] = {
                { "memory", "MemoryMax=, MemoryHigh=" },
                { "pids", "TasksMax=" },
                { "cpu", "CPUQuota=, CPUWeight=" },
        };
        _cleanup_free_ char *controllers = NULL, *keys = NULL;
        for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
                if (cgroup_machine_has_controller(&mcg, limits[i].controller) != 0)
                        continue;
                char *c = xasprintf("%s%s%s", controllers ?: "", controllers ? ", " : "", limits[i].controller);
                char *k = xasprintf("%s%s%s", keys ?: "", keys ? ", " : "", limits[i].keys);
                free(controllers);
                free(keys);
                controllers = c;
                keys = k;
        }
        if (controllers)
                log_notice("Machine '%s' runs as %s of your systemd, but this host delegates no %s controller to "
                           "you (bound to cgroup v1), so these limits are not enforced: %s.",
                           name, unit, controllers, keys);
}

/* A user's writable bind gives the machine's root the user's rights over
 * the tree, setuid bits included (nosuid holds inside the machine only): a
 * host user who reaches a file it leaves there runs it as the user.  Said
 * at start of each bind of this start (RUNTIME_FILES) that others reach. */
static void warn_user_binds(Context *ctx, const char *name) {
        _cleanup_(machine_config_done) MachineConfig files;
        machine_config_init(&files);
        if (runtime_files_read(ctx->store.run_fd, name, &files) < 0)
                return;
        for (char **b = files.binds; b && *b; b++) {
                BindSpec spec = {};
                const char *reason;
                if (bind_spec_parse(*b, false, &spec, &reason) < 0)
                        continue;
                if (!spec.read_only && path_reachable_by_others(spec.source))
                        log_notice("Machine '%s' writes to %s (a bind), which other users of this host can reach: "
                                   "its root can leave files of yours there, setuid ones too. Bind it with "
                                   "--bind-ro, or from below a directory of mode 0700.",
                                   name, spec.source);
                bind_spec_done(&spec);
        }
}

/* Unit mode: the supervisor runs as berth-NAME.service; systemd waits for its
 * READY=1, which it sends when the guest has booted. */
static int start_unit(Context *ctx, const char *name, bool privileged, const StartOptions *o) {
        MachineConfig cfg;
        _cleanup_free_ char *err = NULL;
        if (store_load_config(&ctx->store, name, NULL, &cfg, &err) < 0) {
                log_error("%s", err ?: "Invalid configuration.");
                return ERR_USAGE;
        }
        /* systemd enforces the --device ones too (DeviceAllow=). */
        if (o->devices && machine_config_add_devices(&cfg, o->devices, &err) < 0) {
                log_error("%s", err);
                machine_config_done(&cfg);
                return ERR_USAGE;
        }
        _cleanup_free_ char *cgname = store_cgroup_name(&ctx->store, name);
        _cleanup_free_ char *unit = unit_name_for(cgname);
        _cleanup_free_ char *description = xasprintf("berth machine %s", name);
        SupervisorArgs sa = SUPERVISOR_ARGS_INIT;
        sa.unit = true;
        sa.root = ctx->store.root;
        sa.config = ctx->store.config_path;
        sa.ephemeral = o->ephemeral;
        sa.wait = o->wait; /* the job waits for READY=1 anyway; this adds the grace for inits without it */
        sa.network = o->network;
        sa.stub = o->stub_init;
        sa.ports = o->ports;
        sa.binds = o->files.binds;
        sa.binds_ro = o->files.binds_ro;
        sa.tmpfs = o->files.tmpfs;
        sa.devices = o->devices;
        if (o->lifeline_pid > 0) {
                if (proc_starttime(o->lifeline_pid, &sa.lifeline_starttime) < 0) {
                        log_error("Cannot read the start time of process %d.", (int) o->lifeline_pid);
                        machine_config_done(&cfg);
                        return ERR_FAILED;
                }
                sa.lifeline_pid = o->lifeline_pid;
        }
        sa.name = name;
        SupervisorArgv args;
        supervisor_args_to_argv(&sa, machined_path(), &args);
        /* A unit a crash left failed must not block this start. */
        unit_reset_failed(ctx->bus, unit);
        _cleanup_free_ char *result = NULL;
        int r = unit_start_machine(ctx->bus, unit, description, args.argv, &cfg, &result);
        machine_config_done(&cfg);
        if (r < 0) {
                if (result) {
                        print_supervisor_log(ctx, name);
                        log_error("Failed to start machine '%s': job for %s ended '%s'. See 'journalctl -u %s'.",
                                  name, unit, result, unit);
                }
                return ERR_FAILED;
        }
        if (privileged)
                warn_privileged(name);
        if (geteuid() != 0 && !ctx->quiet) {
                warn_user_limits(ctx, name, unit);
                warn_user_binds(ctx, name);
        }
        return 0;
}

/* Direct mode: the supervisor runs detached from us, its output in LOGFD;
 * it says on a pipe when the init runs (with --wait: when the guest has
 * booted), or exits. */
static int start_direct(Context *ctx, const char *name, const StartOptions *o, int logfd, bool privileged) {
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0)
                return log_error_errno(errno, "pipe2 failed: %m");
        _cleanup_close_ int ready_r = ready[0], ready_w = ready[1];

        pid_t pid = fork();
        if (pid < 0) {
                log_error_errno(errno, "fork failed: %m");
                return ERR_FAILED;
        }
        if (pid == 0) {
                /* Detach: own session, no terminal, output to the log. */
                (void) setsid();
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
                        _exit(127);
                int fd = fcntl(ready_w, F_DUPFD, 3); /* without CLOEXEC: the supervisor keeps it */
                int life = o->lifeline_fd >= 0 ? fcntl(o->lifeline_fd, F_DUPFD, 3) : -1;
                int lock = o->lock_fd >= 0 ? fcntl(o->lock_fd, F_DUPFD, 3) : -1;
                if (fd < 0 || (o->lifeline_fd >= 0 && life < 0) || (o->lock_fd >= 0 && lock < 0))
                        _exit(127);
                int keep[3] = { fd };
                size_t n_keep = 1;
                if (life >= 0)
                        keep[n_keep++] = life;
                if (lock >= 0)
                        keep[n_keep++] = lock;
                (void) close_all_fds_except(keep, n_keep);
                SupervisorArgs sa = SUPERVISOR_ARGS_INIT;
                sa.root = ctx->store.root;
                sa.config = ctx->store.config_path;
                sa.ready_fd = fd;
                sa.wait = o->wait;
                sa.ephemeral = o->ephemeral;
                sa.stub = o->stub_init;
                sa.lifeline_fd = life;
                sa.lock_fd = lock;
                sa.ports = o->ports;
                sa.binds = o->files.binds;
                sa.binds_ro = o->files.binds_ro;
                sa.tmpfs = o->files.tmpfs;
                sa.devices = o->devices;
                sa.network = o->network;
                sa.name = name;
                const char *path = machined_path();
                SupervisorArgv args;
                supervisor_args_to_argv(&sa, path, &args);
                execv(path, args.argv);
                fprintf(stderr, "berth: failed to execute %s: %m\n", path);
                _exit(127);
        }
        closep(&ready_w);
        uint64_t start_usec = now_usec(CLOCK_REALTIME);

        /* The supervisor says "1" once the init is running (with --wait: once
         * the guest has booted), or exits. */
        char ok = 0;
        ssize_t n;
        struct pollfd pf = { .fd = ready_r, .events = POLLIN };
        int pr;
        do
                pr = poll(&pf, 1, o->wait ? (int) o->timeout * 1000 : -1);
        while (pr < 0 && errno == EINTR);
        if (pr == 0) {
                log_error("Machine '%s' started but did not report having booted within %us; it keeps running "
                          "(see 'berth console %s').",
                          name, o->timeout, name);
                return ERR_FAILED;
        }
        do
                n = read(ready_r, &ok, 1);
        while (n < 0 && errno == EINTR);
        if (n == 1 && ok == '1') {
                if (privileged)
                        warn_privileged(name);
                return 0; /* the supervisor lives on without us */
        }

        int status;
        (void) waitpid(pid, &status, 0);
        print_supervisor_log(ctx, name);
        LastExit e;
        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.machines_fd, name);
        if (dfd >= 0 && last_exit_read(dfd, &e) >= 0 && e.reason != LAST_EXIT_START_FAILED &&
            e.usec >= start_usec)
                log_error("Failed to start machine '%s': its %s before it booted.", name, e.detail);
        else
                log_error("Failed to start machine '%s'.", name);
        return ERR_FAILED;
}


static void start_options_done(StartOptions *o) {
        files_options_done(&o->files);
}

static const OptionSpec start_options[] = {
        { "wait", 0, 'w', NULL, "return when the guest has booted (its init says so), not when it runs" },
        { "timeout", 0, 't', "SECONDS", "with --wait: give up after SECONDS (90)" },
        { "ephemeral", 0, 'e', NULL, "run on a throwaway copy: changes vanish at stop" },
        { "port", 0, 'p', "[PROTO:]HOST[:GUEST]", "forward a host port for this run (repeatable)" },
        FILES_OPTIONS,
        DEVICE_OPTION("for this run"),
        NETWORK_OPTION,
        {},
};

const VerbSpec start_verb = {
        .name = "start",
        .func = verb_start,
        .args = "NAME",
        .summary = "Boot a machine",
        .example = "start --wait --port 8080:80 web",
        .options = start_options,
        .complete = COMPLETE_STOPPED,
        .rootless = true,
};

int verb_start(Context *ctx, int argc, char **argv) {
        _cleanup_(start_options_done) StartOptions o = { .timeout = 90, .lifeline_fd = -1, .lock_fd = -1 };
        _cleanup_free_ char *ports = NULL, *devices = NULL;
        OptionParser p;
        option_parser_init(&p, &start_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'w':
                        o.wait = true;
                        break;
                case 'e':
                        o.ephemeral = true;
                        break;
                case 'p': {
                        PortForward pf;
                        const char *reason;
                        if (port_forward_parse(p.arg, &pf, &reason) < 0) {
                                log_error("Invalid --port '%s': %s.", p.arg, reason);
                                return ERR_USAGE;
                        }
                        strextendf(&ports, "%s%s", ports ? " " : "", p.arg);
                        o.ports = ports;
                        break;
                }
                case 'D':
                        if (device_option_add(&devices, p.arg) < 0)
                                return ERR_USAGE;
                        o.devices = devices;
                        break;
                case 'N':
                        if (network_option_check(p.arg) != 0)
                                return ERR_USAGE;
                        o.network = p.arg;
                        break;
                case 't':
                        if (safe_atou(p.arg, &o.timeout) < 0 || o.timeout == 0 || o.timeout > 86400) {
                                log_error("Invalid --timeout '%s': give seconds, 1-86400.", p.arg);
                                return ERR_USAGE;
                        }
                        break;
                case FILES_OPT_BIND:
                case FILES_OPT_BIND_RO:
                case FILES_OPT_TMPFS:
                        if (files_option(c, p.arg, &o.files) != 0)
                                return ERR_USAGE;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        const char *name;
        int r = one_name(&p, &name);
        if (r != 0)
                return r;

        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        o.lock_fd = lock;
        return machine_start(ctx, name, &o);
}

int machine_start(Context *ctx, const char *name, const StartOptions *o) {
        int r;
        r = runtime_is_active(ctx->store.run_fd, name);
        if (r > 0) {
                /* Already running: like systemctl start, unless an option asks
                 * for something only a start can give, which this one would not. */
                RuntimeState st;
                bool ephemeral_differs = o->ephemeral && (runtime_state_read(ctx->store.run_fd, name, &st) < 0 ||
                                                          !st.ephemeral);
                bool files = o->files.binds || o->files.binds_ro || o->files.tmpfs;
                if (o->ports || o->devices || ephemeral_differs || files || o->network) {
                        log_error("Machine '%s' is already running; %s applies when it starts. Stop it first "
                                  "('berth stop %s'), then start it with the option.",
                                  name, o->ports ? "--port" : o->devices ? "--device" : files ? "--bind, --bind-ro or --tmpfs"
                                        : o->network ? "--network" : "--ephemeral",
                                  name);
                        return ERR_FAILED;
                }
                return 0;
        }

        /* Everything the supervisor would refuse, refuse here first, with no
         * process started and nothing changed. */
        MachineConfig cfg;
        _cleanup_free_ char *err = NULL;
        if (store_load_config(&ctx->store, name, NULL, &cfg, &err) < 0) {
                log_error("%s", err ?: "Invalid configuration.");
                return ERR_USAGE;
        }
        if (o->network) {
                /* This run's network over the configured one, checked as the supervisor will. */
                _cleanup_strv_free_ char **set = NULL;
                r = machine_config_network_option(o->network, &set, &err);
                for (char **s = set; r >= 0 && s && *s; s++) {
                        free(TAKE_PTR(err));
                        r = machine_config_set_from_cli(&cfg, *s, &err);
                }
                if (r < 0) {
                        log_error("%s", err ?: "Invalid --network.");
                        machine_config_done(&cfg);
                        return ERR_USAGE;
                }
        }
        _cleanup_free_ char *base = NULL;
        r = store_machine_base(&ctx->store, name, &base);
        if (r < 0) {
                log_error_errno(r, "Failed to read the base of '%s': %m", name);
                machine_config_done(&cfg);
                return ERR_FAILED;
        }
        _cleanup_free_ char *mpath = store_base_path(&ctx->store, base ?: name);
        _cleanup_free_ char *init_name = NULL;
        /* Boot=no: berth's minimal init runs [Exec] Command=; no init needed. */
        r = layers_rootfs_check(&ctx->store, mpath, o->stub_init || !cfg.boot ? NULL : cfg.init, &init_name);
        bool privileged = !cfg.private_users;
        if (r >= 0 && cfg.private_users && cfg.network_mode == NETWORK_MODE_HOST) {
                /* The kernel gives sysfs only to a user namespace that owns the
                 * network namespace; the host's belongs to the host. */
                log_error("[Network] Mode=host needs PrivateUsers=no (a privileged machine): a machine in its own "
                          "user namespace cannot share the host's network namespace.");
                machine_config_done(&cfg);
                return ERR_USAGE;
        }
        if (r >= 0 && o->devices && machine_config_add_devices(&cfg, o->devices, &err) < 0) {
                log_error("%s", err);
                machine_config_done(&cfg);
                return ERR_USAGE;
        }
        if (r >= 0) {
                /* A configured device the host lacks, or one that is not what
                 * its safe name stands for: refused before anything starts. */
                DeviceList devices;
                _cleanup_free_ char *derr = NULL;
                if (device_list_build(cfg.devices, cfg.n_devices, &devices, &derr) < 0) {
                        log_error("Machine '%s': %s.", name, derr);
                        machine_config_done(&cfg);
                        return ERR_USAGE;
                }
                device_list_done(&devices);
        }
        if (r >= 0 && cfg.network_mode == NETWORK_MODE_CNI) {
                /* A missing network or plugin is the configuration's fault. */
                _cleanup_free_ char *cerr = NULL;
                if (cni_network_for_machine(&cfg, name, cfg.n_ports > 0 || o->ports, NULL, NULL, &cerr) < 0) {
                        log_error("Machine '%s': %s.", name, cerr);
                        machine_config_done(&cfg);
                        return ERR_USAGE;
                }
        }
        machine_config_done(&cfg);
        if (r < 0)
                return ERR_FAILED;

        /* Stale state of a supervisor that was killed: nobody holds its lock. */
        r = runtime_clean_stale(ctx->store.run_fd, name);
        if (r < 0) {
                log_error_errno(r, "Failed to clean up stale runtime state of '%s': %m", name);
                return ERR_FAILED;
        }
        if (mkdirat(ctx->store.run_fd, name, 0700) < 0 && errno != EEXIST) {
                log_error_errno(errno, "Failed to create %s/%s: %m", ctx->store.run, name);
                return ERR_FAILED;
        }
        _cleanup_close_ int run_fd = open_dir_nofollow(ctx->store.run_fd, name);
        if (run_fd < 0) {
                log_error_errno(run_fd, "Failed to open %s/%s: %m", ctx->store.run, name);
                return ERR_FAILED;
        }
        _cleanup_close_ int logfd = openat(run_fd, "supervisor.log",
                                           O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (logfd < 0) {
                log_error_errno(errno, "Failed to create the supervisor log: %m");
                return ERR_FAILED;
        }

        RunMode mode;
        if (context_run_mode(ctx, &mode) < 0)
                return ERR_FAILED;
        if (mode == RUN_MODE_UNIT)
                return start_unit(ctx, name, privileged, o);
        r = start_direct(ctx, name, o, logfd, privileged);
        /* Said once, here, once it runs: the supervisor cannot make cgroups
         * for a user. */
        if (r == 0 && geteuid() != 0 && !ctx->quiet) {
                log_notice("Without root and a delegated cgroup, machine '%s' runs without resource limits "
                           "([Resources] is not applied).", name);
                warn_user_binds(ctx, name);
        }
        return r;
}

int machine_stop(Context *ctx, const char *name, unsigned timeout_sec, bool force_kill) {
        if (runtime_is_active(ctx->store.run_fd, name) <= 0)
                return 0;
        RuntimeState st;
        int r = runtime_state_read(ctx->store.run_fd, name, &st);
        if (r < 0)
                return log_error_errno(r, "Failed to read the runtime state of '%s': %m", name);
        _cleanup_close_ int sup = runtime_open_supervisor_pidfd(&st);
        if (sup < 0) {
                if (runtime_is_active(ctx->store.run_fd, name) <= 0)
                        return 0; /* it just went away */
                return log_error_errno(sup, "Cannot find the supervisor of '%s': %m", name);
        }
        _cleanup_close_ int init = runtime_open_init_pidfd(&st);

        RunMode mode;
        if (st.delegated && context_run_mode(ctx, &mode) >= 0 && mode == RUN_MODE_UNIT) {
                /* Through systemd: the unit's stop sends the supervisor SIGTERM
                 * (KillMode=mixed), which powers the guest off. */
                if (!force_kill)
                        return unit_stop(ctx->bus, st.unit, timeout_sec);
                r = unit_kill(ctx->bus, st.unit, "main", SIGUSR1);
                if (r >= 0 && wait_pidfd(sup, 10000) > 0)
                        return 0;
                return unit_stop(ctx->bus, st.unit, 0);
        }

        if (!force_kill) {
                /* The supervisor turns SIGTERM into the init's own poweroff signal
                 * and remembers that this was a stop, not a crash. */
                if (syscall(SYS_pidfd_send_signal, sup, SIGTERM, NULL, 0) < 0 && errno != ESRCH)
                        return log_error_errno(errno, "Failed to signal the supervisor of '%s': %m", name);
                r = wait_pidfd(sup, (int) (timeout_sec * 1000));
                if (r > 0)
                        return 0;
                log_warning("Machine '%s' did not power off within %us, killing it.", name, timeout_sec);
        }
        /* SIGUSR1 asks the supervisor to kill the machine (a stop, not a crash);
         * if it does not manage within a moment, kill the init ourselves. */
        (void) syscall(SYS_pidfd_send_signal, sup, SIGUSR1, NULL, 0);
        r = wait_pidfd(sup, 2000);
        if (r > 0)
                return 0;
        if (init >= 0)
                (void) syscall(SYS_pidfd_send_signal, init, SIGKILL, NULL, 0);
        r = wait_pidfd(sup, 10000);
        if (r > 0)
                return 0;
        /* A supervisor that does not react to its init's death is broken: end it
         * and clean what it would have. */
        (void) syscall(SYS_pidfd_send_signal, sup, SIGKILL, NULL, 0);
        (void) wait_pidfd(sup, 5000);
        MachineCgroup mcg = { .group = st.cgroup, .delegated = st.delegated };
        if (!isempty(mcg.group))
                (void) cgroup_machine_destroy(&mcg);
        (void) runtime_clean_stale(ctx->store.run_fd, name);
        return 0;
}

static const OptionSpec stop_options[] = {
        { "timeout", 't', 't', "SECONDS", "kill the machine if it has not powered off after SECONDS (30)" },
        {},
};

const VerbSpec stop_verb = {
        .name = "stop",
        .func = verb_stop,
        .args = "NAME",
        .summary = "Power a machine off: its init's own poweroff, SIGKILL after a timeout",
        .example = "stop --timeout 10 web",
        .options = stop_options,
        .complete = COMPLETE_RUNNING,
        .rootless = true,
};

int verb_stop(Context *ctx, int argc, char **argv) {
        unsigned timeout = 30;
        OptionParser p;
        option_parser_init(&p, &stop_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 't':
                        if (safe_atou(p.arg, &timeout) < 0 || timeout > 86400) {
                                log_error("Invalid --timeout '%s': give seconds, 0-86400.", p.arg);
                                return ERR_USAGE;
                        }
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        const char *name;
        int r = one_name(&p, &name);
        if (r != 0)
                return r;
        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        return machine_stop(ctx, name, timeout, false);
}

/* Send SIG to PIDFD (or report why there is none): WHO of machine NAME. */
static int signal_pidfd(int pidfd, int sig, const char *who, const char *name) {
        if (pidfd < 0) {
                log_error_errno(pidfd, "Cannot find %s of '%s': %m", who, name);
                return ERR_FAILED;
        }
        if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0) {
                log_error_errno(errno, "Failed to signal %s of '%s': %m", who, name);
                return ERR_FAILED;
        }
        return 0;
}

/* Send SIG to the running machine's init. */
static int signal_init(Context *ctx, const char *name, int sig) {
        if (runtime_is_active(ctx->store.run_fd, name) <= 0) {
                log_error("Machine '%s' is not running.", name);
                return ERR_NOT_RUNNING;
        }
        RuntimeState st;
        int r = runtime_state_read(ctx->store.run_fd, name, &st);
        _cleanup_close_ int init = r < 0 ? r : runtime_open_init_pidfd(&st);
        return signal_pidfd(init, sig, "the init process", name);
}

static const OptionSpec kill_options[] = {
        { "signal", 's', 's', "SIGNAL", "send the init SIGNAL (TERM, RTMIN+4, a number) instead of killing the machine" },
        {},
};

const VerbSpec kill_verb = {
        .name = "kill",
        .func = verb_kill,
        .args = "NAME",
        .summary = "Kill a machine now, or send its init a signal",
        .example = "kill --signal RTMIN+4 web",
        .options = kill_options,
        .complete = COMPLETE_RUNNING,
        .rootless = true,
};

int verb_kill(Context *ctx, int argc, char **argv) {
        int sig = SIGKILL;
        OptionParser p;
        option_parser_init(&p, &kill_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 's':
                        sig = signal_from_string(p.arg);
                        if (sig < 0) {
                                log_error("Unknown signal '%s'. Use a name like TERM or RTMIN+4, or a number.", p.arg);
                                return ERR_USAGE;
                        }
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        const char *name;
        int r = one_name(&p, &name);
        if (r != 0)
                return r;
        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        if (sig == SIGKILL) {
                if (runtime_is_active(ctx->store.run_fd, name) <= 0) {
                        log_error("Machine '%s' is not running.", name);
                        return ERR_NOT_RUNNING;
                }
                return machine_stop(ctx, name, 0, true);
        }
        return signal_init(ctx, name, sig);
}

const VerbSpec reboot_verb = {
        .name = "reboot",
        .func = verb_reboot,
        .args = "NAME",
        .summary = "Reboot a machine through its init's own reboot; it comes back",
        .example = "reboot web",
        .options = no_options,
        .complete = COMPLETE_RUNNING,
        .rootless = true,
};

int verb_reboot(Context *ctx, int argc, char **argv) {
        const char *name;
        int r = only_name(&reboot_verb, argc, argv, &name);
        if (r != 0)
                return r;
        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        RuntimeState st;
        if (runtime_is_active(ctx->store.run_fd, name) <= 0 ||
            runtime_state_read(ctx->store.run_fd, name, &st) < 0) {
                log_error("Machine '%s' is not running.", name);
                return ERR_NOT_RUNNING;
        }
        if (!st.reboot_initctl)
                return signal_init(ctx, name, st.reboot_signal);
        /* Only the supervisor writes to the guest's /run/initctl: ask it. */
        _cleanup_close_ int sup = runtime_open_supervisor_pidfd(&st);
        return signal_pidfd(sup, SIGUSR2, "the supervisor", name);
}
