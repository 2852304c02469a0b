/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth set NAME Key=Value...: change a machine's configuration; resource
 * limits apply at once to a running machine (through systemd in unit mode,
 * in its cgroup in direct mode), and everything is kept in machine.conf
 * unless --runtime. */


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

static int apply_live(Context *ctx, const char *name, const MachineConfig *cfg) {
        RuntimeState st;
        int r = runtime_state_read(ctx->store.run_fd, name, &st);
        if (r < 0)
                return log_error_errno(r, "Failed to read the runtime state of '%s': %m", name);
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

/* machine.conf with the assignments applied on top, rewritten atomically. */
static int persist(Context *ctx, const char *name, char **assignments) {
        MachineConfig c;
        machine_config_init(&c);
        _cleanup_free_ char *path = xasprintf("%s/machines/%s/machine.conf", ctx->store.root, name);
        _cleanup_free_ char *err = NULL;
        int r = machine_config_parse_file(&c, path, CONFIG_SOURCE_MACHINE, true, true, &err);
        if (r < 0) {
                log_error("%s", err ?: "Invalid machine.conf.");
                machine_config_done(&c);
                return r;
        }
        /* A command-line assignment always applies, over what the file said. */
        for (char **a = assignments; *a; a++) {
                free(err);
                err = NULL;
                r = machine_config_set_from_cli(&c, *a, &err);
                if (r < 0) {
                        log_error("%s", err ?: "Invalid assignment.");
                        machine_config_done(&c);
                        return r;
                }
        }
        _cleanup_free_ char *body = machine_config_format(&c, c.set_mask);
        machine_config_done(&c);
        _cleanup_free_ char *text = xasprintf("# berth machine configuration; see berth.machine(5).\n%s", body);
        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.machines_fd, name);
        r = dfd < 0 ? dfd : write_file_atomic_at(dfd, "machine.conf", text, strlen(text), 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        return 0;
}

static const OptionSpec set_options[] = {
        { "runtime", 0, 'r', NULL, "change the running machine only ([Resources] keys), not machine.conf" },
        {},
};

const VerbSpec set_verb = {
        .name = "set",
        .func = verb_set,
        .args = "NAME KEY=VALUE...",
        .summary = "Change machine.conf; the [Resources] limits also live on a running machine",
        .example = "set web MemoryMax=1G CPUWeight=50\nset web --runtime MemoryMax=300M",
        .options = set_options,
        .complete = COMPLETE_MACHINE,
};

int verb_set(Context *ctx, int argc, char **argv) {
        bool runtime = false;
        OptionParser p;
        option_parser_init(&p, &set_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'r':
                        runtime = true;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        int r = expect_args(&p, 2, -1);
        if (r != 0)
                return r;
        const char *name = p.args[0];
        r = check_name(name);
        if (r != 0)
                return r;
        char **assignments = p.args + 1;

        /* Validate all first: a bad one changes nothing. */
        MachineConfig probe;
        machine_config_init(&probe);
        for (char **a = assignments; *a; a++) {
                _cleanup_free_ char *err = NULL;
                if (machine_config_set_from_cli(&probe, *a, &err) < 0) {
                        log_error("%s", err ?: "Invalid assignment.");
                        machine_config_done(&probe);
                        return ERR_USAGE;
                }
        }
        uint64_t mask = probe.set_mask;
        machine_config_done(&probe);
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

        if (running && (mask & live_keys)) {
                /* The live values: the command line over the machine's files. */
                MachineConfig cfg;
                _cleanup_free_ char *err = NULL;
                if (store_load_config(&ctx->store, name, assignments, &cfg, &err) < 0) {
                        log_error("%s", err ?: "Invalid configuration.");
                        return ERR_USAGE;
                }
                r = apply_live(ctx, name, &cfg);
                machine_config_done(&cfg);
                if (r < 0)
                        return ERR_FAILED;
        }
        if (!runtime && persist(ctx, name, assignments) < 0)
                return ERR_FAILED;
        if (running && (mask & ~live_keys) && !ctx->quiet)
                log_notice("Some of these take effect at the machine's next start.");
        return 0;
}
