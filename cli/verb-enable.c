/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth enable|disable NAME: start the machine at boot, through the
 * installed berth@.service template (machines.target).  Unit mode and the
 * default state root only: the template knows no other root. */

#include <getopt.h>

#include "berth.h"
#include "build-config.h"
#include "log.h"
#include "unit.h"
#include "util.h"

static int enable_disable(Context *ctx, int argc, char **argv, bool enable) {
        static const struct option opts[] = { {} };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                return EXIT_USAGE;
        const char *name;
        int r = one_name(argc, argv, enable ? "enable NAME" : "disable NAME", &name);
        if (r != 0)
                return r;
        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        if (!streq(ctx->store.root, BERTH_STATE_DIR)) {
                log_error("Autostart works only for machines in the default state root %s.", BERTH_STATE_DIR);
                return EXIT_USAGE;
        }
        RunMode mode;
        if (context_run_mode(ctx, &mode) < 0)
                return EXIT_FAIL;
        if (mode != RUN_MODE_UNIT) {
                log_error("Autostart needs systemd as the host's init.");
                return EXIT_FAIL;
        }
        return unit_enable(ctx->bus, name, enable) < 0 ? EXIT_FAIL : EXIT_OK;
}

int verb_enable(Context *ctx, int argc, char **argv) {
        return enable_disable(ctx, argc, argv, true);
}

int verb_disable(Context *ctx, int argc, char **argv) {
        return enable_disable(ctx, argc, argv, false);
}
