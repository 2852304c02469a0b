/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth rename OLD NEW: a stopped machine under another name.  Everything
 * that belongs to a machine lives in its dir (rootfs, layer list, snapshots,
 * idmap, address reservation, machine.conf), so the commit is one
 * renameat2(RENAME_NOREPLACE) of machines/OLD to machines/NEW: a kill before
 * it leaves OLD as it was, a kill after it leaves NEW complete.  What follows
 * the rename only points host-side records at the new name and heals itself
 * when skipped: the UID range registry names the machine dir (a sibling dir
 * holding the range counts as its owner, see uid-registry.h), the runtime dir
 * holds logs only, and etc/hostname is rewritten at the next rename or by
 * hand.  A user's machine is renamed the same way in the user's own state
 * root, registry and runtime dir; its etc/hostname is written as root of
 * the machine's namespace (the tree is its range's), and its autostart is
 * the user's systemd's. */

#include "berth.h"
#include "fs.h"
#include "gc.h"
#include "layers.h"
#include "log.h"
#include "paths.h"
#include "rootfs.h"
#include "runtime.h"
#include "unit.h"
#include "userns.h"
#include "util.h"

/* Machines (kept "berth run" instances) that boot OLD's rootfs: their
 * "base" file names OLD, and would name nothing after the rename. */
static int find_base_users(Context *ctx, const char *old, char **ret_user) {
        _cleanup_strv_free_ char **names = NULL;
        int r = store_list_machines(&ctx->store, &names);
        if (r < 0)
                return r;
        for (char **n = names; n && *n; n++) {
                _cleanup_free_ char *base = NULL;
                if (store_machine_base(&ctx->store, *n, &base) >= 0 && streq_ptr(base, old)) {
                        *ret_user = xstrdup(*n);
                        return 1;
                }
        }
        return 0;
}

/* Autostart (unit mode, default state root; a user's: the user's systemd
 * and default state root, as enable says): 1 if berth@OLD.service is
 * enabled, 0 if not or if autostart does not apply here, or -errno. */
static int autostart_enabled(Context *ctx, const char *name) {
        _cleanup_(state_paths_done) StatePaths def = {};
        if (state_paths_default(&def) < 0 || !streq(ctx->store.root, def.state))
                return 0;
        RunMode mode;
        if (context_run_mode(ctx, &mode) < 0 || mode != RUN_MODE_UNIT)
                return 0;
        return unit_is_enabled(ctx->bus, name);
}

/* The registry entry of the machine's UID range (the host's, or the
 * user's own) names the machine dir: point it at the new one. */
static void registry_follow(Context *ctx, const char *name) {
        _cleanup_close_ int mfd = open_dir_nofollow(ctx->store.machines_fd, name);
        int r = mfd < 0 ? mfd : userns_range_follow(&ctx->store, mfd);
        if (r < 0)
                log_warning_errno(r, "Failed to point the registry entry of the UID range of '%s' at it, "
                                  "ignoring (the next start does): %m", name);
}

/* etc/hostname says the machine's name unless machine.conf sets Hostname=
 * (create, import and clone write it so): now NEW's.  Written as the
 * machine's root (a user's tree is its range's; rootfs_write_hostname()
 * never follows a guest's symlink), through a layered machine's merged
 * view, which copies the file up from its layer. */
static void hostname_follow(Context *ctx, const char *name) {
        _cleanup_(machine_config_done) MachineConfig cfg = {};
        _cleanup_free_ char *err = NULL;
        if (store_load_config(&ctx->store, name, NULL, &cfg, &err) < 0 || cfg.hostname)
                return;
        _cleanup_free_ char *mpath = store_machine_path(&ctx->store, name);
        _cleanup_free_ char *rootfs = store_rootfs_path(&ctx->store, name);
        int r = layers_call_merged(&ctx->store, mpath, rootfs_write_hostname_call,
                                   &(HostnameArgs) { rootfs, name });
        if (r < 0)
                log_warning_errno(r, "Failed to write '%s' to the machine's etc/hostname, ignoring: %m", name);
}

const VerbSpec rename_verb = {
        .name = "rename",
        .func = verb_rename,
        .args = "OLD NEW",
        .summary = "Rename a stopped machine (its unit, address, UID range and snapshots follow)",
        .example = "rename web web-old",
        .options = no_options,
        .complete = COMPLETE_STOPPED,
        .rootless = true,
};

int verb_rename(Context *ctx, int argc, char **argv) {
        OptionParser p;
        int r = only_args(&rename_verb, argc, argv, 2, 2, &p);
        if (r != 0)
                return r;
        const char *old = p.args[0], *new = p.args[1];
        r = check_name(old);
        if (r == 0)
                r = check_name(new);
        if (r != 0)
                return r;
        if (streq(old, new)) {
                log_error("'%s' is the machine's name already.", old);
                return ERR_USAGE;
        }

        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, old, &lock);
        if (r != 0)
                return r;
        /* NEW's lock keeps a create, clone or rename to NEW out until we are
         * done; not waiting for it also rules out two renames that wait for
         * each other. */
        _cleanup_close_ int new_lock = store_lock_machine(&ctx->store, new, true);
        if (new_lock < 0) {
                log_error("Another berth command holds the name '%s'; try again.", new);
                return ERR_FAILED;
        }
        r = store_machine_exists(&ctx->store, new);
        if (r != 0) {
                if (r < 0)
                        log_error_errno(r, "Failed to look up machine '%s': %m", new);
                else
                        log_error("There is a machine '%s' already; pick another name or remove it first "
                                  "('berth rm %s').",
                                  new, new);
                return r < 0 ? ERR_FAILED : ERR_USAGE;
        }
        if (runtime_is_active(ctx->store.run_fd, old) > 0) {
                log_error("Machine '%s' is running; stop it first to rename it ('berth stop %s').", old, old);
                return ERR_FAILED;
        }
        _cleanup_close_ int base_lock = store_lock_base(&ctx->store, old, false);
        if (base_lock < 0) {
                log_error("Machine '%s' is the base of running 'berth run' machines; they must end first.", old);
                return ERR_FAILED;
        }
        _cleanup_free_ char *user = NULL;
        r = find_base_users(ctx, old, &user);
        if (r < 0) {
                log_error_errno(r, "Cannot list the machines: %m");
                return ERR_FAILED;
        }
        if (r > 0) {
                log_error("Machine '%s' is the base of the kept run machine '%s', which would lose it; remove that "
                          "first ('berth rm %s').",
                          old, user, user);
                return ERR_FAILED;
        }
        int enabled = autostart_enabled(ctx, old);
        if (enabled < 0) {
                log_error_errno(enabled, "Cannot tell whether berth@%s.service is enabled: %m", old);
                return ERR_FAILED;
        }
        /* ScratchDirectory= layers a killed supervisor left are found by the
         * machine's name: taken now, as rm does. */
        if (gc_machine_scratch(&ctx->store, old, stdout) < 0)
                return ERR_FAILED;
        /* Killed after this, the machine starts at boot no more: said in berth(1). */
        if (enabled > 0 && unit_enable(ctx->bus, old, false) < 0)
                return ERR_FAILED;

        if (renameat2(ctx->store.machines_fd, old, ctx->store.machines_fd, new, RENAME_NOREPLACE) < 0) {
                r = -errno;
                log_error_errno(r, "Failed to rename %s/machines/%s to %s: %m", ctx->store.root, old, new);
                if (enabled > 0)
                        (void) unit_enable(ctx->bus, old, true);
                return ERR_FAILED;
        }
        if (fsync(ctx->store.machines_fd) < 0)
                log_warning_errno(errno, "Failed to sync %s/machines, ignoring: %m", ctx->store.root);

        /* The runtime dir (logs of direct mode) follows; a stale one of NEW
         * (a machine NEW removed while its dir was busy) goes first. */
        (void) rm_rf_at(ctx->store.run_fd, new);
        if (renameat(ctx->store.run_fd, old, ctx->store.run_fd, new) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to move the runtime dir %s/%s, ignoring: %m", ctx->store.run, old);
        registry_follow(ctx, new);
        hostname_follow(ctx, new);
        int status = 0;
        if (enabled > 0 && unit_enable(ctx->bus, new, true) < 0) {
                log_error("Renamed, but it does not start at boot any more; run 'berth enable %s'.", new);
                status = ERR_FAILED;
        }
        if (!ctx->quiet && isatty(STDOUT_FILENO))
                printf("Renamed %s to %s.\n", old, new);
        return status;
}
