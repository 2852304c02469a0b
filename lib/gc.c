/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "cni.h"
#include "fs.h"
#include "gc.h"
#include "oci-record.h"
#include "pasta-leftover.h"
#include "layers.h"
#include "kv.h"
#include "log.h"
#include "runtime.h"
#include "scratch.h"
#include "store.h"
#include "util.h"

int gc_machine_scratch(Store *store, const char *name, FILE *report) {
        int r = scratch_remove_stale(store, name);
        if (r < 0 && report)
                return log_error_errno(r, "Cannot remove the scratch layers of machine '%s'%s: %m", name,
                                       r == -EPERM ? " (not a directory berth made; remove it yourself)" : "");
        if (r < 0)
                return log_debug_errno(r, "Cannot remove the scratch layers of machine '%s': %m", name);
        if (r > 0 && report)
                fprintf(report, "Removed the leftover scratch layers of machine %s.\n", name);
        return 0;
}

/* Call FN for each machine that does not run, under its lock, taken without
 * waiting: a machine a command is still working on is skipped.  Running
 * machines are skipped before their lock is tried, so that a run taking its
 * instance's lock back never waits for us.  Returns the sum of FN's
 * results, or -EIO if the machines cannot be listed. */
static int for_each_stopped(Store *store, FILE *report, int (*fn)(Store *store, const char *name, FILE *report)) {
        _cleanup_strv_free_ char **names = NULL;
        if (store_list_machines(store, &names) < 0)
                return -EIO;
        int n = 0;
        for (char **name = names; name && *name; name++) {
                if (runtime_is_active(store->run_fd, *name) != 0)
                        continue;
                _cleanup_close_ int lock = store_lock_machine(store, *name, true);
                if (lock < 0 || runtime_is_active(store->run_fd, *name) != 0)
                        continue;
                n += fn(store, *name, report);
        }
        return n;
}

/* A run instance marked for removal: its scratch layers, CNI attachment,
 * machine and runtime dir.  1 if it went. */
static int run_instance_gc(Store *store, const char *name, FILE *report) {
        if (gc_machine_scratch(store, name, report) < 0)
                return 0;
        _cleanup_close_ int dfd = open_dir_nofollow(store->machines_fd, name);
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        if (dfd < 0 || key_values_read_at(dfd, "base", 256, &kv) < 0 ||
            !streq_ptr(key_values_get(&kv, "REMOVE"), "1"))
                return 0;
        _cleanup_free_ char *tmp = xasprintf(".removing-%s.gc", name);
        if (store_remove_machine(store, name, tmp) < 0)
                return 0;
        _cleanup_close_ int rfd = open_dir_nofollow(store->run_fd, name);
        if (rfd >= 0)
                (void) cni_cache_cleanup(rfd, name);
        (void) rm_rf_at(store->run_fd, name);
        if (report)
                fprintf(report, "Removed the leftover run machine %s.\n", name);
        return 1;
}

int gc_run_instances(Store *store, FILE *report) {
        return for_each_stopped(store, report, run_instance_gc);
}

/* The CNI attachment a killed supervisor of NAME left: DEL'd.  1 if there was one. */
static int cni_gc(Store *store, const char *name, FILE *report) {
        _cleanup_close_ int dfd = open_dir_nofollow(store->run_fd, name);
        if (dfd < 0)
                return 0;
        int r = cni_cache_cleanup(dfd, name);
        if (r != 0 && report)
                fprintf(report, "Removed the CNI attachment of machine %s%s.\n", name,
                        r < 0 ? " (a plugin's DEL failed, see above)" : "");
        return r != 0;
}

int gc_cni(Store *store, FILE *report) {
        return for_each_stopped(store, report, cni_gc);
}

static int pasta_gc(Store *store, const char *name, FILE *report) {
        _cleanup_close_ int dfd = open_dir_nofollow(store->run_fd, name);
        int r = dfd < 0 ? 0 : pasta_leftover_kill(dfd);
        if (r < 0)
                log_full_errno(report ? LOG_ERR : LOG_DEBUG, r, "Failed to stop the pasta of machine %s: %m", name);
        else if (r > 0 && report)
                fprintf(report, "Stopped the pasta a killed supervisor of %s left running.\n", name);
        return r > 0;
}

int gc_pasta(Store *store, FILE *report) {
        return for_each_stopped(store, report, pasta_gc);
}

int gc_machine_cgroup(Store *store, const char *name, FILE *report) {
        /* A user's machine has no cgroup of berth's own: its unit's, or none. */
        if (geteuid() != 0)
                return 0;
        _cleanup_free_ char *cgname = store_cgroup_name(store, name);
        _cleanup_free_ char *group = xasprintf(CGROUP_TOP "/%s", cgname);
        /* Only what this root's killed supervisor recorded as its machine's
         * (the runtime state outlives it): a cgroup name alone could be
         * another root's (NAME@HASH-OF-THE-ROOT, a 32-bit hash). */
        RuntimeState st;
        if (runtime_state_read(store->run_fd, name, &st) < 0 || st.delegated || !streq(st.cgroup, group))
                return 0;
        MachineCgroup m = { .group = group };
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (cgroup_machine_pids(&m, &pids, &n) < 0)
                return 0; /* none left (or never made: unit mode) */
        int r = cgroup_machine_destroy(&m);
        if (r < 0)
                return log_full_errno(report ? LOG_ERR : LOG_DEBUG, r,
                                      "Failed to remove the cgroup %s that machine %s left: %m", group, name);
        if (report && n > 0)
                fprintf(report, "Ended the %zu process%s machine %s left running without its supervisor.\n", n,
                        n == 1 ? "" : "es", name);
        else if (report)
                fprintf(report, "Removed the cgroups machine %s left.\n", name);
        return 1;
}

static int cgroup_gc(Store *store, const char *name, FILE *report) {
        return gc_machine_cgroup(store, name, report) > 0;
}

int gc_machine_cgroups(Store *store, FILE *report) {
        return for_each_stopped(store, report, cgroup_gc);
}

int gc_snapshot_staging(int mfd, int sdir) {
        _cleanup_closedir_ DIR *d = NULL;
        if (opendir_dup(sdir, &d) < 0)
                return 0;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (startswith(de->d_name, ".staging-") &&
                    store_rm_tree_in_range(mfd, sdir, NULL, de->d_name) >= 0)
                        n++;
        return n;
}

int gc_snapshots_and_layers(Store *store, FILE *report) {
        _cleanup_strv_free_ char **names = NULL;
        if (store_list_machines(store, &names) < 0)
                return -EIO;
        int removed = 0;
        for (char **n = names; n && *n; n++) {
                /* A snapshot being made holds the machine's lock. */
                _cleanup_close_ int lock = store_lock_machine(store, *n, true);
                _cleanup_close_ int mfd = lock < 0 ? -EBADF : open_dir_nofollow(store->machines_fd, *n);
                _cleanup_close_ int sdir = mfd < 0 ? -EBADF : open_dir_nofollow(mfd, "snapshots");
                int k = sdir < 0 ? 0 : gc_snapshot_staging(mfd, sdir);
                if (k > 0 && report)
                        fprintf(report, "Removed %d unfinished snapshot%s of %s.\n", k, k == 1 ? "" : "s", *n);
                removed += k;
        }
        _cleanup_close_ int lock = layers_lock(store);
        int r = lock < 0 ? lock : layers_prune(store);
        if (r < 0)
                return r;
        if (r > 0 && report)
                fprintf(report, "Removed %d unused layer%s.\n", r, r == 1 ? "" : "s");
        return removed + r;
}

int gc_oci_records(const char *dir, FILE *report) {
        OciRecord *v;
        size_t n;
        int r = oci_record_list(dir, &v, &n), removed = 0;
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (oci_record_alive(&v[i]))
                        continue;
                /* Re-read: berth-oci may have just written a new one for a new container of that ID. */
                _cleanup_(oci_record_done) OciRecord now = {};
                if (oci_record_read(dir, v[i].id, &now) < 0 || oci_record_alive(&now))
                        continue;
                r = oci_record_remove(dir, v[i].id);
                if (r < 0) {
                        log_debug_errno(r, "Cannot remove %s/%s: %m", dir, v[i].id);
                        continue;
                }
                removed++;
                if (report)
                        fprintf(report, "Removed the record of OCI container %s (%s), whose init is gone.\n",
                                v[i].id, v[i].name);
        }
        oci_record_list_free(v, n);
        return removed;
}

/* Remove cache KEY and what goes with it, under its lock (held). */
static int remove_template_cache(int cdir, const char *key) {
        _cleanup_free_ char *tarball = xasprintf("%s.tar", key);
        bool had = faccessat(cdir, key, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
                   faccessat(cdir, tarball, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        int r = rm_rf_at(cdir, key);
        if (r < 0 && r != -ENOENT)
                return r;
        /* (a user's cache is a tarball, templates/debian --bootstrap-only) */
        static const char *const suffixes[] = { ".fixes", ".log", ".tar" };
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *f = xasprintf("%s%s", key, suffixes[i]);
                if (unlinkat(cdir, f, 0) < 0 && errno != ENOENT)
                        return -errno;
        }
        /* Killed builds' partial trees, which the next build would remove. */
        _cleanup_free_ char *partial = xasprintf(".partial-%s.", key);
        _cleanup_closedir_ DIR *d = NULL;
        r = opendir_dup(cdir, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d)))
                if (startswith(de->d_name, partial) && (r = rm_rf_at(cdir, de->d_name)) < 0)
                        return r;
        return had;
}

int gc_template_caches(Store *store, FILE *report) {
        struct stat st;
        if (fstatat(store->images_fd, "templates", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
                /* A cache shared with other state roots (linked by hand, as
                 * the tests do): theirs too, not this root's to remove. */
                if (report)
                        fprintf(report, "Kept the template caches: %s/images/templates is a link to a shared "
                                        "directory.\n", store->root);
                return 0;
        }
        _cleanup_close_ int cdir = open_dir_nofollow(store->images_fd, "templates");
        if (cdir == -ENOENT)
                return 0;
        if (cdir < 0)
                return log_error_errno(cdir, "Cannot open %s/images/templates: %m", store->root);
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(cdir, &d);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s/images/templates: %m", store->root);
        int removed = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                const char *dot = strrchr(de->d_name, '.');
                if (de->d_name[0] == '.' || !dot || !streq(dot, ".lock"))
                        continue;
                _cleanup_free_ char *key = xasprintf("%.*s", (int) (dot - de->d_name), de->d_name);
                _cleanup_close_ int lock = openat(cdir, de->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
                if (lock < 0)
                        continue;
                if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
                        if (report)
                                fprintf(report, "Kept template cache %s: a template run is using it.\n", key);
                        continue;
                }
                r = remove_template_cache(cdir, key);
                if (r < 0)
                        return log_error_errno(r, "Failed to remove the template cache %s/images/templates/%s: %m",
                                               store->root, key);
                if (r > 0) {
                        removed++;
                        if (report)
                                fprintf(report, "Removed template cache %s\n", key);
                }
        }
        return removed;
}
