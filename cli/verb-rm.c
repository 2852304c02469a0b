/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>

#include "berth.h"
#include "fs.h"
#include "gc.h"
#include "log.h"
#include "runtime.h"
#include "util.h"

int verb_rm(Context *ctx, int argc, char **argv) {
        static const struct option opts[] = { { "force", no_argument, NULL, 'f' }, {} };
        bool force = false;
        int c;
        while ((c = getopt_long(argc, argv, "f", opts, NULL)) >= 0)
                switch (c) {
                case 'f':
                        force = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        const char *name;
        int r = one_name(argc, argv, "rm NAME [--force]", &name);
        if (r != 0)
                return r;
        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;

        if (runtime_is_active(ctx->store.run_fd, name) > 0) {
                if (!force) {
                        log_error("Machine '%s' is running. Stop it first ('berth stop %s') or use --force.", name,
                                  name);
                        return EXIT_FAIL;
                }
                if (machine_stop(ctx, name, 0, true) < 0)
                        return EXIT_FAIL;
        }

        /* A base in use by running "berth run" machines stays (its own persistent
         * run, which holds this lock too, is over by now). */
        _cleanup_close_ int base_lock = store_lock_base(&ctx->store, name, false);
        if (base_lock == -EBUSY) {
                log_error("Machine '%s' is the base of running 'berth run' machines; they must end first.", name);
                return EXIT_FAIL;
        }

        /* ScratchDirectory= layers a killed supervisor left: while the
         * configuration still says where they are. */
        if (gc_machine_scratch(&ctx->store, name, stdout) < 0)
                return EXIT_FAIL;

        if (machine_remove(&ctx->store, name) < 0)
                return EXIT_FAIL;
        /* The last machine or snapshot on a layer takes it along. */
        prune_layers(ctx);
        return EXIT_OK;
}
