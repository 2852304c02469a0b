/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth set NAME Key=Value...: change a machine's configuration; resource
 * limits apply at once to a running machine (through systemd in unit mode,
 * in its cgroup in direct mode), and everything is kept in machine.conf
 * unless --runtime. */

#include <getopt.h>

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

int verb_set(Context *ctx, int argc, char **argv) {
        static const struct option opts[] = { { "runtime", no_argument, NULL, 'r' }, {} };
        bool runtime = false;
        int c;
        while ((c = getopt_long(argc, argv, "+", opts, NULL)) >= 0)
                switch (c) {
                case 'r':
                        runtime = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (argc - optind < 2) {
                log_error("Usage: berth set [--runtime] NAME Key=Value...");
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        int r = check_name(name);
        if (r != 0)
                return r;
        char **assignments = argv + optind + 1;

        /* Validate all first: a bad one changes nothing. */
        MachineConfig probe;
        machine_config_init(&probe);
        for (char **a = assignments; *a; a++) {
                _cleanup_free_ char *err = NULL;
                if (machine_config_set_from_cli(&probe, *a, &err) < 0) {
                        log_error("%s", err ?: "Invalid assignment.");
                        machine_config_done(&probe);
                        return EXIT_USAGE;
                }
        }
        uint64_t mask = probe.set_mask;
        machine_config_done(&probe);
        if (runtime && (mask & ~live_keys)) {
                log_error("--runtime can only change the keys of [Resources] (MemoryMax=, MemoryHigh=, TasksMax=, "
                          "CPUWeight=, CPUQuota=, IOWeight=); others take effect at the next start.");
                return EXIT_USAGE;
        }

        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        bool running = runtime_is_active(ctx->store.run_fd, name) > 0;
        if (runtime && !running) {
                log_error("Machine '%s' is not running: --runtime has nothing to change.", name);
                return EXIT_NOT_RUNNING;
        }

        if (running && (mask & live_keys)) {
                /* The live values: the command line over the machine's files. */
                MachineConfig cfg;
                _cleanup_free_ char *err = NULL;
                if (store_load_config(&ctx->store, name, assignments, &cfg, &err) < 0) {
                        log_error("%s", err ?: "Invalid configuration.");
                        return EXIT_USAGE;
                }
                r = apply_live(ctx, name, &cfg);
                machine_config_done(&cfg);
                if (r < 0)
                        return EXIT_FAIL;
        }
        if (!runtime && persist(ctx, name, assignments) < 0)
                return EXIT_FAIL;
        if (running && (mask & ~live_keys) && !ctx->quiet)
                log_notice("Some of these take effect at the machine's next start.");
        return EXIT_OK;
}
