/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth set NAME Key=Value...: change a machine's configuration; resource
 * limits apply at once to a running machine (through systemd in unit mode,
 * in its cgroup in direct mode), and everything is kept in machine.conf
 * unless --runtime.  Key= and --unset Key take a key out of machine.conf. */


#include "berth.h"
#include "cgroup.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "runtime.h"
#include "unit.h"
#include "util.h"

/* Keys whose change a running machine feels at once: all of [Resources]. */
static const uint64_t live_keys = CONFIG_KEY_BIT(CONFIG_RESOURCES_MEMORY_MAX) | CONFIG_KEY_BIT(CONFIG_RESOURCES_TASKS_MAX) |
                                  CONFIG_KEY_BIT(CONFIG_RESOURCES_MEMORY_HIGH) | CONFIG_KEY_BIT(CONFIG_RESOURCES_CPU_WEIGHT) |
                                  CONFIG_KEY_BIT(CONFIG_RESOURCES_CPU_QUOTA) | CONFIG_KEY_BIT(CONFIG_RESOURCES_IO_WEIGHT);

static int apply_live(Context *ctx, const char *name, const MachineConfig *cfg, bool runtime) {
        RuntimeState st;
        int r = runtime_state_read(ctx->store.run_fd, name, &st);
        if (r < 0)
                return log_error_errno(r, "Failed to read the runtime state of '%s': %m", name);
        /* A user's machine started without systemd --user runs in its
         * supervisor's cgroup: nothing of its own to limit until a start
         * where that manager runs. */
        if (!st.delegated && isempty(st.cgroup)) {
                if (runtime)
                        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                               "Machine '%s' runs without a cgroup of its own (started without "
                                               "your systemd, systemd --user), so its limits cannot change while "
                                               "it runs. Leave out --runtime to keep them in machine.conf.",
                                               name);
                if (!ctx->quiet)
                        log_notice("Machine '%s' runs without a cgroup of its own: the limits are kept in "
                                   "machine.conf and apply at a start where your systemd --user runs.", name);
                return 0;
        }
        if (st.delegated) {
                RunMode mode;
                if (context_run_mode(ctx, &mode) < 0 || mode != RUN_MODE_UNIT)
                        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                               "Machine '%s' runs as a unit, but systemd cannot be reached.", name);
                return unit_set_limits(ctx->bus, st.unit, cfg);
        }
        MachineCgroup mcg = { .group = st.cgroup };
        CgroupLimits l = cgroup_limits_from_config(cfg);
        r = cgroup_machine_set_limits(&mcg, &l);
        if (r < 0)
                return log_error_errno(r, "Failed to change the limits of '%s': %m", name);
        return 0;
}

/* What berth set changes: ASSIGNMENTS (Key=Value) set keys, UNSET (bits)
 * takes keys out of machine.conf, back to berth.conf's or the built-in
 * default. */
typedef struct SetChange {
        char **assignments;
        uint64_t unset;
} SetChange;

/* The new machine.conf: the file with CH applied on top, as text (*RET). */
static int new_machine_conf(Context *ctx, const char *name, const SetChange *ch, char **ret) {
        _cleanup_(machine_config_done) MachineConfig c = {};
        machine_config_init(&c);
        _cleanup_free_ char *path = xasprintf("%s/machines/%s/machine.conf", ctx->store.root, name);
        _cleanup_free_ char *err = NULL;
        int r = machine_config_parse_file(&c, path, CONFIG_SOURCE_MACHINE, true, true, &err);
        if (r < 0) {
                log_error("%s; fix it first with 'berth edit %s'.", err ?: "Invalid machine.conf", name);
                return r;
        }
        /* A command-line assignment always applies, over what the file said. */
        for (char **a = ch->assignments; *a; a++) {
                free(TAKE_PTR(err));
                r = machine_config_assign(&c, *a, "", &err);
                if (r < 0) {
                        log_error("%s", err ?: "Invalid assignment.");
                        return r;
                }
        }
        /* Only the keys in the mask are written: an unset key is left out. */
        c.set_mask &= ~ch->unset;
        _cleanup_free_ char *body = machine_config_format(&c, c.set_mask);
        *ret = xasprintf("# berth machine configuration; see berth.machine(5).\n%s", body);
        return 0;
}

/* The configuration a start with machine.conf TEXT would get: it over berth.conf. */
static int effective_config(Context *ctx, const char *text, MachineConfig *ret) {
        MachineConfig c;
        machine_config_init(&c);
        _cleanup_free_ char *err = NULL;
        int r = machine_config_parse_text(&c, text, strlen(text), "machine.conf", CONFIG_SOURCE_MACHINE, true, &err);
        if (r >= 0)
                r = machine_config_parse_file(&c, ctx->store.config_path, CONFIG_SOURCE_GLOBAL, false, true, &err);
        if (r < 0) {
                log_error("%s", err ?: "Invalid configuration.");
                machine_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

/* A user's machine always has a user namespace and a network of its own
 * (README "Without root"): a setting its every start would refuse is
 * refused now, and machine.conf stays as it is. */
static int user_config_check(Context *ctx, const char *text) {
        MachineConfig cfg;
        if (effective_config(ctx, text, &cfg) < 0)
                return ERR_USAGE;
        const char *bad = !cfg.private_users                        ? "PrivateUsers=no"
                          : cfg.network_mode == NETWORK_MODE_HOST ? "[Network] Mode=host"
                                                                  : NULL;
        machine_config_done(&cfg);
        if (bad) {
                log_error("%s needs root: without root a machine always runs in a user namespace with a network "
                          "of its own. Nothing was changed.", bad);
                return ERR_USAGE;
        }
        return 0;
}

/* Keys whose change a running machine feels at once are those of live_keys;
 * the help says which. */
static const OptionSpec set_options[] = {
        { "runtime", 0, 'r', NULL,
          "change the running machine only ([Resources] keys: MemoryMax, MemoryHigh, TasksMax, CPUWeight, "
          "CPUQuota, IOWeight), not machine.conf" },
        { "unset", 0, 'U', "KEY", "remove KEY from machine.conf: back to berth.conf's or the default (repeatable); "
          "KEY= does the same" },
        {},
};

const VerbSpec set_verb = {
        .name = "set",
        .func = verb_set,
        .args = "NAME [KEY=VALUE...]",
        .summary = "Change machine.conf; [Resources] keys (MemoryMax, MemoryHigh, TasksMax, CPUWeight, CPUQuota, "
                   "IOWeight) also apply live to a running machine, the others at its next start",
        .example = "set web MemoryMax=1G CPUWeight=50\nset web --runtime MemoryMax=300M\nset web --unset MemoryMax "
                   "Hostname=",
        .options = set_options,
        .complete = COMPLETE_MACHINE,
        .rootless = true,
};

/* KEY (of --unset, or of a KEY= assignment: WHERE says which) into
 * CH->unset; ERR_USAGE (logged) if it is no key. */
static int add_unset(SetChange *ch, const char *key, const char *where) {
        ConfigKey k;
        _cleanup_free_ char *err = NULL;
        if (machine_config_key_from_name(key, where, &k, &err) < 0) {
                log_error("%s", err);
                return ERR_USAGE;
        }
        ch->unset |= CONFIG_KEY_BIT(k);
        return 0;
}

int verb_set(Context *ctx, int argc, char **argv) {
        bool runtime = false;
        SetChange ch = {};
        _cleanup_strv_free_ char **unset = NULL;
        OptionParser p;
        option_parser_init(&p, &set_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'r':
                        runtime = true;
                        break;
                case 'U':
                        unset = strv_append(unset, p.arg);
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        int r = expect_args(&p, 1, -1);
        if (r != 0)
                return r;
        const char *name = p.args[0];
        r = check_name(name);
        if (r != 0)
                return r;
        if (p.n_args < 2 && !unset)
                return usage_error(&set_verb, "nothing to change: give KEY=VALUE or --unset KEY");

        /* Validate all first: a bad one changes nothing.  KEY= (empty) is
         * an unset, like --unset KEY. */
        _cleanup_strv_free_ char **assignments = NULL;
        for (char **k = unset; k && *k; k++)
                if ((r = add_unset(&ch, *k, "--unset")) != 0)
                        return r;
        MachineConfig probe;
        machine_config_init(&probe);
        for (char **a = p.args + 1; *a; a++) {
                const char *eq = strchr(*a, '=');
                if (eq && eq[1] == 0) {
                        _cleanup_free_ char *key = strndup(*a, (size_t) (eq - *a));
                        if (!key)
                                abort();
                        r = add_unset(&ch, key, "");
                        if (r != 0) {
                                machine_config_done(&probe);
                                return r;
                        }
                        continue;
                }
                _cleanup_free_ char *err = NULL;
                if (machine_config_assign(&probe, *a, "", &err) < 0) {
                        log_error("%s", err ?: "Invalid assignment.");
                        machine_config_done(&probe);
                        return ERR_USAGE;
                }
                assignments = strv_append(assignments, *a);
        }
        uint64_t mask = probe.set_mask | ch.unset;
        bool both = probe.set_mask & ch.unset;
        machine_config_done(&probe);
        if (both)
                return usage_error(&set_verb, "a key is both set and unset");
        char *no_assignments[] = { NULL };
        ch.assignments = assignments ?: no_assignments;
        if (runtime && (mask & ~live_keys)) {
                log_error("--runtime can only change the keys of [Resources] (MemoryMax=, MemoryHigh=, TasksMax=, "
                          "CPUWeight=, CPUQuota=, IOWeight=); others take effect at the next start.");
                return ERR_USAGE;
        }

        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        bool running = runtime_is_active(ctx->store.run_fd, name) > 0;
        if (runtime && !running) {
                log_error("Machine '%s' is not running: --runtime has nothing to change.", name);
                return ERR_NOT_RUNNING;
        }

        _cleanup_free_ char *text = NULL;
        if (new_machine_conf(ctx, name, &ch, &text) < 0)
                return ERR_USAGE;
        if (geteuid() != 0) {
                r = user_config_check(ctx, text);
                if (r != 0)
                        return r;
        }
        if (running && (mask & live_keys)) {
                /* The live values: what the next start would get. */
                MachineConfig cfg;
                if (effective_config(ctx, text, &cfg) < 0)
                        return ERR_USAGE;
                r = apply_live(ctx, name, &cfg, runtime);
                machine_config_done(&cfg);
                if (r < 0)
                        return ERR_FAILED;
        }
        if (!runtime) {
                _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.machines_fd, name);
                r = dfd < 0 ? dfd : write_file_atomic_at(dfd, "machine.conf", text, strlen(text), 0644);
                if (r < 0) {
                        log_error_errno(r, "Failed to write %s/machines/%s/machine.conf: %m", ctx->store.root, name);
                        return ERR_FAILED;
                }
        }
        if (running && (mask & ~live_keys) && !ctx->quiet)
                log_notice("Some of these take effect at the machine's next start.");
        return 0;
}
