/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth run SOURCE -- CMD...: a throwaway machine for one job.  The run
 * instance is a machine entry without a rootfs of its own: its "base" file
 * names its base (machine SOURCE, or the image a template was built into,
 * see run-source.c), whose rootfs it boots on an overlay (nothing it does
 * reaches the base), and a random ID that tells it from later instances of
 * the same name.  Without --boot, PID 1 is berth's stub init and CMD runs
 * at once; with --boot the machine's init boots first.  CMD runs like
 * "berth exec" (stdio, pty, signals); its exit status is berth's.  Then the
 * machine is stopped and, unless --keep, removed.  If berth dies, the
 * supervisor sees its lifeline end (a pipe in direct mode, our pidfd in
 * unit mode) and powers the machine off; what is
 * left is removed by the next run or by "berth gc". */

#include <sys/random.h>
#include <sys/stat.h>

#include "berth.h"
#include "cp-stream.h"
#include "config.h"
#include "fs.h"
#include "gc.h"
#include "log.h"
#include "name.h"
#include "runtime.h"
#include "spawn.h"
#include "util.h"

/* Without CMD: the machine's own program ([Exec] Command=, an application
 * image), with its environment, directory and user, loaded into CFG; what
 * the command line says (EO, SETENV) still wins.  *ENV and *USER hold what
 * EO then points to besides CFG.  0, or a verb error (logged). */
static int command_from_config(Context *ctx, const char *source, const char *base, char **setenv,
                               MachineConfig *cfg, ExecOptions *eo, char ***env, char **user) {
        if (startswith(base, STORE_IMAGE_PREFIX)) {
                log_error("No command given; an image built from a template has no [Exec] Command= to run. "
                          "Give one: 'berth run %s -- CMD...'.", source);
                return ERR_USAGE;
        }
        _cleanup_free_ char *err = NULL;
        if (store_load_config(&ctx->store, source, NULL, cfg, &err) < 0) {
                log_error("%s", err ?: "Invalid configuration.");
                return ERR_USAGE;
        }
        if (!cfg->command) {
                log_error("No command given, and machine '%s' has no [Exec] Command= to run.", source);
                return ERR_USAGE;
        }
        eo->cmd = cfg->command;
        if (!eo->cwd)
                eo->cwd = cfg->working_directory;
        if (!eo->user && cfg->user) {
                /* exec takes a user; its primary group comes from the machine's passwd. */
                *user = strndup(cfg->user, strcspn(cfg->user, ":"));
                eo->user = *user;
        }
        for (char **e = cfg->environment; e && *e; e++)
                *env = strv_append(*env, *e);
        for (char **e = setenv; e && *e; e++)
                *env = strv_append(*env, *e);
        eo->setenv = *env;
        return 0;
}

static const OptionSpec run_options[] = {
        { "boot", 'b', 'b', NULL, "boot the machine's init first (until it has booted), then run COMMAND" },
        { "keep", 0, 'k', NULL, "keep the instance as a machine afterwards" },
        { "rm", 0, 'R', NULL, "remove the instance afterwards (the default)" },
        { "name", 'n', 'n', "NAME", "name the instance (default: SOURCE-run-RANDOM)" },
        EXEC_OPTION_TTY,
        EXEC_OPTIONS_USER,
        FILES_OPTIONS,
        DEVICE_OPTION("for this run"),
        NETWORK_OPTION,
        {},
};

const VerbSpec run_verb = {
        .name = "run",
        .func = verb_run,
        .args = "SOURCE [--] [COMMAND...]",
        .summary = "COMMAND (or an app image's entrypoint) in a throwaway copy of a machine or template; "
                   "its exit status is berth's",
        .example = "run debian -- cat /etc/os-release\nrun --boot --keep --name test1 web",
        .options = run_options,
        .runs_command = true,
        .n_before_command = 1,
        .complete = COMPLETE_SOURCE,
        .rootless = true,
};

int verb_run(Context *ctx, int argc, char **argv) {
        _cleanup_(files_options_done) FilesOptions files = {};
        _cleanup_free_ char *devices = NULL;
        bool boot = false, keep = false;
        const char *name = NULL, *network = NULL;
        _cleanup_strv_free_ char **setenv = NULL;
        ExecOptions eo = { .interactive = true };
        int r;
        OptionParser p;
        option_parser_init(&p, &run_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'b':
                        boot = true;
                        break;
                case 'k':
                        keep = true;
                        break;
                case 'R':
                        keep = false; /* the default, accepted for clarity */
                        break;
                case 'n':
                        name = p.arg;
                        break;
                case FILES_OPT_BIND:
                case FILES_OPT_BIND_RO:
                case FILES_OPT_TMPFS:
                        if (files_option(c, p.arg, &files) != 0)
                                return ERR_USAGE;
                        break;
                case 'D':
                        if (device_option_add(&devices, p.arg) < 0)
                                return ERR_USAGE;
                        break;
                case 'N':
                        if (network_option_check(p.arg) != 0)
                                return ERR_USAGE;
                        network = p.arg;
                        break;
                default:
                        /* -t, --user, --cwd, --setenv: as for exec. */
                        r = exec_option(c, p.arg, &eo, &setenv);
                        if (r != 0)
                                return r;
                }
        if (c < 0)
                return c;
        const char *source;
        r = name_and_command(&p, false, &source, &eo.cmd);
        if (r != 0)
                return r;
        /* With a terminal on both ends, like an interactive exec. */
        if (!eo.tty)
                eo.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);

        _cleanup_free_ char *generated = NULL;
        if (!name) {
                uint32_t rnd = 0;
                (void) getrandom(&rnd, sizeof rnd, 0);
                generated = xasprintf("%.48s-run-%08x", source, rnd);
                name = generated;
        }
        if ((r = check_name(name)) != 0)
                return r;

        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        (void) gc_run_instances(&ctx->store, NULL);

        _cleanup_free_ char *base = NULL;
        _cleanup_close_ int src_fd = -EBADF, base_lock = -EBADF;
        r = run_source_open(ctx, source, &base, &src_fd, &base_lock);
        if (r != 0)
                return r;

        /* Without CMD: the machine's own program. */
        _cleanup_(machine_config_done) MachineConfig cfg = {};
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *user = NULL;
        if (!eo.cmd[0]) {
                r = command_from_config(ctx, source, base, setenv, &cfg, &eo, &env, &user);
                if (r != 0)
                        return r;
        }

        _cleanup_close_ int lock = store_lock_machine(&ctx->store, name, false);
        if (lock < 0)
                return ERR_FAILED;
        if (store_machine_exists(&ctx->store, name) > 0) {
                log_error("Machine '%s' already exists; choose another --name.", name);
                return ERR_FAILED;
        }
        uint64_t id_bits[2] = {};
        (void) getrandom(id_bits, sizeof id_bits, 0);
        char id[33];
        snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long) id_bits[0], (unsigned long long) id_bits[1]);
        if (run_instance_make(&ctx->store, src_fd, base, name, !keep, id) < 0)
                return ERR_FAILED;
        /* The instance names its base now: prune sees it. */
        closep(&base_lock);

        /* The supervisor powers the machine off when this pipe closes: when we
         * are done, or killed. */
        int life[2];
        if (pipe2(life, O_CLOEXEC) < 0) {
                log_error_errno(errno, "pipe2 failed: %m");
                run_instance_remove(&ctx->store, name);
                return ERR_FAILED;
        }
        _cleanup_close_ int life_r = life[0], life_w = life[1];
        StartOptions so = { .wait = boot, .timeout = 120, .ephemeral = true, .stub_init = !boot, .lifeline_fd = life_r,
                           .lifeline_pid = getpid(), .lock_fd = lock, .files = files, .devices = devices,
                           .network = network };
        r = machine_start(ctx, name, &so);
        closep(&life_r);
        /* While the command runs the instance is an ordinary running machine:
         * berth stop or kill of it must not wait for us (gc leaves running
         * machines alone).  Taken again to stop and remove it. */
        closep(&lock);
        int status = ERR_FAILED;
        if (r == 0)
                status = machine_exec(ctx, name, &eo);

        lock = store_lock_machine(&ctx->store, name, false);
        if (lock < 0 || !run_instance_is_ours(&ctx->store, name, id)) {
                /* Not ours any more: collected, perhaps replaced by another run; leave it be. */
                closep(&life_w);
                return status;
        }
        (void) machine_stop(ctx, name, 30, false);
        closep(&life_w);
        if (!keep)
                run_instance_remove(&ctx->store, name);
        else if (!ctx->quiet)
                fprintf(stderr, "Kept machine %s (a run of %s); remove it with 'berth rm %s'.\n", name, source, name);
        return status;
}

const VerbSpec gc_verb = {
        .name = "gc",
        .func = verb_gc,
        .args = "",
        .summary = "Remove what killed runs, creates, snapshots and supervisors left behind",
        .example = "gc",
        .options = no_options,
        .complete = COMPLETE_NONE,
        .rootless = true,
};

int verb_gc(Context *ctx, int argc, char **argv) {
        OptionParser p;
        option_parser_init(&p, &gc_verb, argc, argv);
        int r = option_next(&p);
        if (r == 0)
                r = expect_args(&p, 0, 0);
        if (r != 0)
                return r < 0 ? r : ERR_USAGE;
        if (context_open_store(ctx) < 0)
                return ERR_FAILED;
        FILE *report = ctx->quiet ? NULL : stdout;
        /* A user's machines have no CNI attachments, bridges or veths (their
         * network is pasta's, which ends with them, or with gc_pasta() if an
         * older supervisor was killed): only their own files and pasta. */
        bool user = geteuid() != 0;
        /* First, while the run instances' runtime dirs still say what to DEL. */
        int n = user ? 0 : gc_cni(&ctx->store, report);
        if (n < 0) {
                log_error("Failed to list machines.");
                return ERR_FAILED;
        }
        /* The processes of killed supervisors' machines first: their
         * instances and network can go only after them. */
        n = gc_machine_cgroups(&ctx->store, report);
        if (n >= 0)
                n = gc_run_instances(&ctx->store, report);
        if (n >= 0)
                n = gc_pasta(&ctx->store, report);
        if (n < 0) {
                log_error("Failed to list machines.");
                return ERR_FAILED;
        }
        const char *oci = context_oci_records(ctx);
        if (oci && (n = gc_oci_records(oci, report)) < 0) {
                log_error_errno(n, "Failed to remove stale records of OCI containers in %s: %m", oci);
                return ERR_FAILED;
        }
        n = staging_gc(&ctx->store, !ctx->quiet);
        if (n < 0) {
                log_error_errno(n, "Failed to remove what interrupted creates left: %m");
                return ERR_FAILED;
        }
        n = stream_dir_gc(!ctx->quiet);
        if (n < 0) {
                log_error_errno(n, "Failed to remove what interrupted copies left: %m");
                return ERR_FAILED;
        }
        n = template_builds_gc(ctx, report);
        if (n < 0)
                return ERR_FAILED;
        n = gc_snapshots_and_layers(&ctx->store, report);
        if (n < 0) {
                log_error_errno(n, "Failed to remove unused layers and snapshot leftovers: %m");
                return ERR_FAILED;
        }
        if (user)
                return 0;
        /* Veths, bridges, rules and DHCP entries of machines whose supervisor
         * died; the supervisor binary owns that code (and its libraries). */
        char *argv_gc[] = { (char *) machined_path(), (char *) "--network-gc", NULL };
        r = spawn_plain(argv_gc);
        if (r != 0) {
                log_error("Failed to clean up the network of dead machines%s.", r < 0 ? "" : " (see above)");
                return ERR_FAILED;
        }
        return 0;
}
