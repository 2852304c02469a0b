/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A machine-profile container is a machine to the host: machined knows it
 * (machinectl, systemctl -M, journalctl -M where the host runs systemd) and
 * `berth list` shows it, from the record berth-oci keeps for it
 * (lib/oci-record.h).  Both are best effort: the container runs without. */
#include <errno.h>
#include <unistd.h>

#include "log.h"
#include "machine-register.h"
#include "name.h"
#include "oci-record.h"
#include "oci.h"
#include "util.h"

int oci_machine_name(const OciSpec *s, const char *id, char **ret) {
        const char *a = oci_spec_annotation(s, OCI_NAME_ANNOTATION);
        if (!a) {
                *ret = oci_record_name_from_id(id);
                return 0;
        }
        const char *reason;
        if (machine_name_validate(a, &reason) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "annotation %s=\"%s\": the name %s.",
                                       OCI_NAME_ANNOTATION, a, reason);
        *ret = xstrdup(a);
        return 0;
}

void oci_machine_announce(const OciOptions *o, OciState *st) {
        _cleanup_free_ char *error = NULL;
        int r = machine_register(st->machine_name, NULL, "berth-oci", st->pid, st->rootfs, false, NULL, 0,
                                 &st->registered, &error);
        if (r == -EEXIST)
                log_warning("machined already knows a machine named %s: container %s runs unregistered.",
                            st->machine_name, st->id);
        else if (r < 0 && r != -ENOTCONN)
                log_warning_errno(r, "Cannot register container %s with machined as %s, ignoring: %s", st->id,
                                  st->machine_name, error);

        const char *dir = oci_record_dir(NULL);
        _cleanup_free_ char *engine = oci_record_engine_of(getppid());
        OciRecord rec = { .id = st->id, .name = st->machine_name, .state_dir = (char *) o->root, .engine = engine,
                          .rootfs = st->rootfs, .registered = st->registered, .pid = st->pid,
                          .starttime = st->starttime };
        _cleanup_(oci_record_done) OciRecord old = {};
        /* The same ID of another engine's state dir, still running, keeps its record. */
        if (oci_record_read(dir, st->id, &old) >= 0 && !streq(old.state_dir, o->root) && oci_record_alive(&old)) {
                log_warning("%s/%s is the record of a running container of %s: berth list does not show %s.", dir,
                            st->id, old.state_dir, st->id);
                return;
        }
        r = oci_record_write(dir, &rec);
        if (r < 0)
                log_warning_errno(r, "Cannot write %s/%s for berth list, ignoring: %m", dir, st->id);
}

void oci_machine_withdraw(const OciOptions *o, const OciState *st) {
        if (st->registered)
                machine_unregister(st->registered);
        const char *dir = oci_record_dir(NULL);
        _cleanup_(oci_record_done) OciRecord rec = {};
        if (oci_record_read(dir, st->id, &rec) < 0 || !streq(rec.state_dir, o->root))
                return;
        int r = oci_record_remove(dir, st->id);
        if (r < 0)
                log_warning_errno(r, "Cannot remove %s/%s, ignoring: %m", dir, st->id);
}
