/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pause, resume, update: what an engine changes on a running container,
 * all of it in the container's cgroup (lib/cgroup.c). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include "config.h"
#include "fs.h"
#include "log.h"
#include "oci.h"
#include "util.h"

#define CPU_PERIOD_DEFAULT_USEC UINT64_C(100000)
#define USEC_PER_SEC UINT64_C(1000000)

/* v1 shares (2..262144, 1024 the default) as a weight (1..10000, 100 the
 * default), linearly as systemd maps CPUShares= to CPUWeight=: lib/cgroup.c
 * maps it back the same way on v1, so "shares 512" reads back as 512. */
static uint64_t shares_to_weight(uint64_t shares) {
        uint64_t w = shares * CONFIG_WEIGHT_DEFAULT / 1024;
        return w < CONFIG_WEIGHT_MIN ? CONFIG_WEIGHT_MIN : w > CONFIG_WEIGHT_MAX ? CONFIG_WEIGHT_MAX : w;
}

CgroupLimits oci_resources_limits(const OciResources *r) {
        CgroupLimits l = { .memory_max = r->has_memory ? r->memory_limit : UINT64_MAX,
                           .tasks_max = r->has_pids ? r->pids_limit : UINT64_MAX,
                           .memory_high = UINT64_MAX, .cpu_weight = UINT64_MAX,
                           .cpu_quota_per_sec_usec = UINT64_MAX, .io_weight = UINT64_MAX };
        if (r->has_cpu_shares)
                l.cpu_weight = shares_to_weight(r->cpu_shares);
        if (r->has_cpu_quota && r->cpu_quota > 0) {
                uint64_t period = r->has_cpu_period ? r->cpu_period : CPU_PERIOD_DEFAULT_USEC;
                l.cpu_quota_per_sec_usec = (uint64_t) r->cpu_quota * USEC_PER_SEC / period;
        }
        return l;
}

/* What "update" reads back next time, in the form it takes. */
static char *resources_json(const OciResources *r) {
        return xasprintf("{\"memory\":{\"limit\":%" PRId64 "},\"pids\":{\"limit\":%" PRId64 "},"
                         "\"cpu\":{\"shares\":%" PRIu64 ",\"quota\":%" PRId64 ",\"period\":%" PRIu64 "}}\n",
                         !r->has_memory ? 0 : r->memory_limit == UINT64_MAX ? -1 : (int64_t) r->memory_limit,
                         !r->has_pids ? 0 : r->pids_limit == UINT64_MAX ? -1 : (int64_t) r->pids_limit,
                         r->has_cpu_shares ? r->cpu_shares : 0, r->has_cpu_quota ? r->cpu_quota : 0,
                         r->has_cpu_period ? r->cpu_period : 0);
}

/* The limits in force: the last update's, else the config's. */
static int resources_current(int dfd, const char *id, OciResources *ret) {
        _cleanup_free_ char *buf = NULL, *err = NULL;
        size_t len;
        int r = read_file_at(dfd, "resources.json", OCI_SPEC_MAX_SIZE, &buf, &len);
        if (r >= 0) {
                r = oci_resources_parse(buf, len, ret, &err);
                return r < 0 ? log_error_errno(r, "The saved resources of %s do not parse: %s", id, err) : 0;
        }
        if (r != -ENOENT)
                return log_error_errno(r, "Cannot read the saved resources of %s: %m", id);
        _cleanup_(oci_spec_done) OciSpec spec = {};
        if ((r = oci_load_spec(dfd, id, &spec)) < 0)
                return r;
        *ret = spec.resources;
        return 0;
}

static void resources_merge(OciResources *into, const OciResources *u) {
        if (u->has_memory) {
                into->has_memory = true;
                into->memory_limit = u->memory_limit;
        }
        if (u->has_pids) {
                into->has_pids = true;
                into->pids_limit = u->pids_limit;
        }
        if (u->has_cpu_shares) {
                into->has_cpu_shares = true;
                into->cpu_shares = u->cpu_shares;
        }
        if (u->has_cpu_quota) {
                into->has_cpu_quota = true;
                into->cpu_quota = u->cpu_quota;
        }
        if (u->has_cpu_period) {
                into->has_cpu_period = true;
                into->cpu_period = u->cpu_period;
        }
}

/* Pause or resume: only a running (or paused) container has a cgroup to freeze. */
static int set_frozen(const OciOptions *o, const char *id, bool freeze) {
        _cleanup_(oci_state_done) OciState st = {};
        _cleanup_close_ int dfd = -EBADF;
        int r = oci_load(o, id, &dfd, &st);
        if (r < 0)
                return r;
        OciStatus status = oci_state_status(dfd, &st);
        if (status != (freeze ? OCI_STATUS_RUNNING : OCI_STATUS_PAUSED))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "container %s is %s, not %s", id,
                                       oci_status_name(status), freeze ? "running" : "paused");
        MachineCgroup cg = oci_state_cgroup(&st);
        r = cgroup_machine_freeze(&cg, freeze);
        if (r == -EOPNOTSUPP)
                return log_error_errno(r, "Cannot %s %s: this host has no cgroup freezer (cgroup v2 or the v1 "
                                       "freezer controller).", freeze ? "pause" : "resume", id);
        if (r < 0)
                return log_error_errno(r, "Cannot %s %s (cgroup %s): %m", freeze ? "pause" : "resume", id, st.cgroup);
        return 0;
}

int verb_pause(const OciOptions *o, const char *id) {
        return set_frozen(o, id, true);
}

int verb_resume(const OciOptions *o, const char *id) {
        return set_frozen(o, id, false);
}

int verb_update(const OciOptions *o, const char *id) {
        if (!o->resources)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "update needs --resources FILE (or - for standard input), a LinuxResources "
                                       "JSON object.");
        _cleanup_(oci_state_done) OciState st = {};
        _cleanup_close_ int dfd = -EBADF;
        int r = oci_load(o, id, &dfd, &st);
        if (r < 0)
                return r;
        OciStatus status = oci_state_status(dfd, &st);
        if (status == OCI_STATUS_STOPPED)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "container %s is stopped: nothing to update", id);
        _cleanup_free_ char *buf = NULL, *err = NULL;
        size_t len;
        bool in = streq(o->resources, "-");
        r = in ? read_stream_fd(STDIN_FILENO, OCI_SPEC_MAX_SIZE, &buf, &len)
               : read_file_at(AT_FDCWD, o->resources, OCI_SPEC_MAX_SIZE, &buf, &len);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", in ? "the resources from standard input" : o->resources);
        OciResources u = {}, cur = {};
        r = oci_resources_parse(buf, len, &u, &err);
        if (r < 0)
                return log_error_errno(r, "%s: %s", in ? "standard input" : o->resources, err);
        if ((r = resources_current(dfd, id, &cur)) < 0)
                return r;
        resources_merge(&cur, &u);
        CgroupLimits limits = oci_resources_limits(&cur);
        MachineCgroup cg = oci_state_cgroup(&st);
        /* A scope's limits are its properties, which systemd applies. */
        r = st.scope ? oci_scope_set_limits(st.scope, &limits) : cgroup_machine_set_limits(&cg, &limits);
        if (r < 0)
                return log_error_errno(r, "Cannot apply the new limits to %s (cgroup %s): %m", id, st.cgroup);
        _cleanup_free_ char *json = resources_json(&cur);
        r = write_file_atomic_at(dfd, "resources.json", json, strlen(json), 0600);
        if (r < 0)
                return log_error_errno(r, "Cannot save the new limits of %s: %m", id);
        return 0;
}
