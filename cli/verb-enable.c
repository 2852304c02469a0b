/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth enable|disable NAME: start the machine at boot, through the
 * installed berth@.service template (machines.target).  Unit mode and the
 * default state root only: the template knows no other root.  A user's
 * machine: the user template berth@.service of systemd --user
 * (default.target), started with the user's manager. */


#include "berth.h"
#include "build-config.h"
#include "log.h"
#include "paths.h"
#include "unit.h"
#include "util.h"

const VerbSpec enable_verb = {
        .name = "enable",
        .func = verb_enable,
        .args = "NAME",
        .summary = "Start the machine at boot through berth@NAME.service (unit mode, default state root)",
        .example = "enable web",
        .options = no_options,
        .complete = COMPLETE_MACHINE,
        .rootless = true,
};

const VerbSpec disable_verb = {
        .name = "disable",
        .func = verb_disable,
        .args = "NAME",
        .summary = "Do not start the machine at boot any more",
        .example = "disable web",
        .options = no_options,
        .complete = COMPLETE_MACHINE,
        .rootless = true,
};

static int enable_disable_user(Context *ctx, const char *name, bool enable) {
        _cleanup_(state_paths_done) StatePaths def = {};
        if (state_paths_default(&def) < 0)
                return ERR_FAILED;
        if (!streq(ctx->store.root, def.state)) {
                log_error("Autostart works only for machines in your default state root %s.", def.state);
                return ERR_USAGE;
        }
        RunMode mode;
        if (context_run_mode(ctx, &mode) < 0)
                return ERR_FAILED;
        if (mode != RUN_MODE_UNIT) {
                log_error("Autostart of your machines needs your systemd (systemd --user) and its bus, which do not "
                          "run: log in with a session, or ask for 'loginctl enable-linger %s' to have it at boot.",
                          getenv("USER") ?: "$USER");
                return ERR_FAILED;
        }
        if (unit_enable(ctx->bus, name, enable) < 0) {
                log_error("berth installs berth@.service for your systemd in its user unit directory; "
                          "'systemctl --user cat berth@%s.service' shows whether your systemd finds it.", name);
                return ERR_FAILED;
        }
        return 0;
}

static int enable_disable(Context *ctx, int argc, char **argv, bool enable) {
        const char *name;
        int r = only_name(enable ? &enable_verb : &disable_verb, argc, argv, &name);
        if (r != 0)
                return r;
        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        /* A user's machine: berth@.service of the user's own systemd (the
         * user template), which finds the user's default state root. */
        if (geteuid() != 0)
                return enable_disable_user(ctx, name, enable);
        if (!streq(ctx->store.root, BERTH_STATE_DIR)) {
                log_error("Autostart works only for machines in the default state root %s.", BERTH_STATE_DIR);
                return ERR_USAGE;
        }
        RunMode mode;
        if (context_run_mode(ctx, &mode) < 0)
                return ERR_FAILED;
        if (mode != RUN_MODE_UNIT) {
                log_error("Autostart needs systemd as the host's init.");
                return ERR_FAILED;
        }
        return unit_enable(ctx->bus, name, enable) < 0 ? ERR_FAILED : 0;
}

int verb_enable(Context *ctx, int argc, char **argv) {
        return enable_disable(ctx, argc, argv, true);
}

int verb_disable(Context *ctx, int argc, char **argv) {
        return enable_disable(ctx, argc, argv, false);
}
