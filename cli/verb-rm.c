/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "berth.h"
#include "fs.h"
#include "gc.h"
#include "layers.h"
#include "log.h"
#include "runtime.h"
#include "util.h"

static const OptionSpec rm_options[] = {
        { "force", 'f', 'f', NULL, "also a running machine: kill it first" },
        {},
};

const VerbSpec rm_verb = {
        .name = "rm",
        .func = verb_rm,
        .args = "NAME",
        .summary = "Remove a machine (a running one only with --force)",
        .example = "rm web",
        .options = rm_options,
        .complete = COMPLETE_MACHINE,
        .rootless = true,
};

int verb_rm(Context *ctx, int argc, char **argv) {
        bool force = false;
        OptionParser p;
        option_parser_init(&p, &rm_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'f':
                        force = true;
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

        if (runtime_is_active(ctx->store.run_fd, name) > 0) {
                if (!force) {
                        log_error("Machine '%s' is running. Stop it first ('berth stop %s') or use --force.", name,
                                  name);
                        return ERR_FAILED;
                }
                if (machine_stop(ctx, name, 0, true) < 0)
                        return ERR_FAILED;
        }

        /* A base in use by running "berth run" machines stays (its own persistent
         * run, which holds this lock too, is over by now). */
        _cleanup_close_ int base_lock = store_lock_base(&ctx->store, name, false);
        if (base_lock == -EBUSY) {
                log_error("Machine '%s' is the base of running 'berth run' machines; they must end first.", name);
                return ERR_FAILED;
        }

        /* ScratchDirectory= layers a killed supervisor left: while the
         * configuration still says where they are. */
        if (gc_machine_scratch(&ctx->store, name, stdout) < 0)
                return ERR_FAILED;
        /* And what a killed supervisor left running (the machine's init). */
        if (gc_machine_cgroup(&ctx->store, name, stdout) < 0)
                return ERR_FAILED;

        if (machine_remove(&ctx->store, name) < 0)
                return ERR_FAILED;
        /* The last machine or snapshot on a layer takes it along. */
        layers_prune_or_warn(&ctx->store);
        return 0;
}
