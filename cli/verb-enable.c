/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth enable|disable NAME: start the machine at boot, through the
 * installed berth@.service template (machines.target).  Unit mode and the
 * default state root only: the template knows no other root. */


#include "berth.h"
#include "build-config.h"
#include "log.h"
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

static int enable_disable(Context *ctx, int argc, char **argv, bool enable) {
        const char *name;
        int r = only_name(enable ? &enable_verb : &disable_verb, argc, argv, &name);
        if (r != 0)
                return r;
        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        /* berth@.service is a system unit: it runs the supervisor as root,
         * on root's state.  No user template is installed for systemd --user
         * yet, so there is nothing of the user's to enable. */
        if (geteuid() != 0) {
                log_error("Autostart of your own machines is not there yet: berth@.service is a system unit and "
                          "no template for your systemd (systemd --user) is installed. Start '%s' from your "
                          "session instead, e.g. 'berth start %s' in a login script.", name, name);
                return ERR_FAILED;
        }
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
