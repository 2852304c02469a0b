/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The systemd cgroup manager, as runc's (--systemd-cgroup) and nspawn's:
 * where the host runs systemd, a container that is to be a machine (the
 * machine profile) or whose engine asks for it (--systemd-cgroup) lives in
 * a transient scope made for it over D-Bus and delegated to berth-oci.
 * machined finds a machine's unit from its leader's cgroup, so only a
 * container inside a unit can be registered: the default cgroupsPath
 * (berth-oci/ID) and containerd's (/default/ID) are in none.  The scope's
 * cgroup is the container's cgroup; cgroupsPath then only names the scope
 * (its slice:prefix:name form) or is ignored (any other form). */
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "oci.h"
#include "unit.h"
#include "util.h"

/* S as a unit name part: what systemd does not allow in one ('+', say) as
 * \xNN, as systemd-escape does. */
static char *unit_escape(const char *s) {
        char *e = xstrdup("");
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    strchr(":_.-", *p))
                        strextendf(&e, "%c", *p);
                else
                        strextendf(&e, "\\x%02x", *p);
        }
        return e;
}

int oci_scope_name(const char *cgroups_path, const char *id, char **ret_slice, char **ret_unit) {
        const char *c1 = cgroups_path ? strchr(cgroups_path, ':') : NULL;
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) {
                _cleanup_free_ char *e = unit_escape(id);
                *ret_slice = xstrdup(UNIT_SLICE);
                *ret_unit = xasprintf("berth-oci-%s.scope", e);
                return 0;
        }
        _cleanup_free_ char *slice = xasprintf("%.*s", (int) (c1 - cgroups_path), cgroups_path);
        _cleanup_free_ char *prefix = xasprintf("%.*s", (int) (c2 - c1 - 1), c1 + 1);
        const char *name = c2 + 1;
        size_t n = strlen(slice);
        if (n > 0 && (n <= strlen(".slice") || !streq(slice + n - strlen(".slice"), ".slice") ||
                      strpbrk(slice, "/\\") || slice[0] == '-'))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "linux.cgroupsPath \"%s\": \"%s\" is no slice; the systemd form is "
                                       "SLICE:PREFIX:NAME with a slice such as machine.slice.",
                                       cgroups_path, slice);
        if (isempty(name) || strchr(name, '/'))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "linux.cgroupsPath \"%s\": the systemd form SLICE:PREFIX:NAME needs a NAME "
                                       "without '/'.", cgroups_path);
        _cleanup_free_ char *ep = unit_escape(prefix), *en = unit_escape(name);
        *ret_slice = n > 0 ? TAKE_PTR(slice) : xstrdup(UNIT_SLICE);
        *ret_unit = xasprintf("%s%s%s.scope", ep, isempty(ep) ? "" : "-", en);
        return 0;
}

int oci_scope_bus(bool wanted, sd_bus **ret) {
        /* The system manager makes units for root only (no user manager's
         * scopes yet). */
        if (!wanted || geteuid() != 0)
                return 0;
        /* sd_booted() looks at the file system only: no library is loaded on a
         * host without systemd. */
        if (sd_booted() <= 0) {
                log_debug("systemd is not this host's init: the container's cgroup is its cgroupsPath.");
                return 0;
        }
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_warning_errno(r, "systemd runs but its bus does not answer (%m): the container's cgroup is "
                                  "its cgroupsPath, in no unit.");
                return 0;
        }
        *ret = TAKE_PTR(bus);
        return 1;
}

int oci_scope_start(sd_bus *bus, const char *unit, const char *slice, const char *id, const CgroupLimits *limits,
                    char **ret_group) {
        _cleanup_free_ char *desc = xasprintf("berth-oci container %s", id);
        _cleanup_free_ char *group = NULL;
        /* The scope needs a process to hold: this one, until its children are
         * in the payload; it goes when the runtime exits. */
        int r = unit_start_scope(bus, unit, slice, desc, getpid(), limits, &group);
        if (r < 0)
                return r;
        /* Out of the scope's own cgroup, as berth-machined in its unit: a
         * delegated group with a process in it passes no controllers down. */
        MachineCgroup cg = { .group = group, .delegated = true };
        r = cgroup_supervisor_enter(&cg);
        if (r < 0)
                return r;
        *ret_group = TAKE_PTR(group);
        return 0;
}

void oci_scope_stop(const char *unit) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = unit_stop(bus, unit, 10);
        if (r < 0)
                log_warning_errno(r, "Cannot stop %s, ignoring: %m", unit);
}

int oci_scope_set_limits(const char *unit, const CgroupLimits *limits) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Cannot reach systemd for the limits of %s: %m", unit);
        return unit_set_cgroup_limits(bus, unit, limits);
}
