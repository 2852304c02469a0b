/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What "berth gc" removes, and every "berth run" quietly first: what killed
 * commands and supervisors left behind.  REPORT is where to say what went
 * (berth gc: stdout); NULL: quietly, failures logged at debug level only. */

#include <stdio.h>

#include "store.h"

/* Remove the [Machine] ScratchDirectory= layers a killed supervisor of NAME
 * left (the caller holds NAME's lock; it does not run).  0, or -errno (logged,
 * as an error only with REPORT): then keep the machine, whose configuration
 * says where they are. */
int gc_machine_scratch(Store *store, const char *name, FILE *report);

/* Remove run instances marked for removal that no longer run, and the
 * scratch layers of killed supervisors.  Returns how many instances went,
 * or -EIO if the machines cannot be listed. */
int gc_run_instances(Store *store, FILE *report);

/* DEL the CNI attachments (lib/cni.h) of machines whose supervisor was
 * killed.  Returns how many, or -EIO if the machines cannot be listed. */
int gc_cni(Store *store, FILE *report);

/* Stop the pasta (lib/pasta-leftover.h) of user's machines whose supervisor
 * was killed.  Returns how many, or -EIO if the machines cannot be listed. */
int gc_pasta(Store *store, FILE *report);

/* The cgroups of machine NAME, which does not run (the caller holds its
 * lock), as a killed direct-mode supervisor left them: whatever still runs
 * there (the machine's init goes on without its supervisor) is killed and
 * the groups removed.  1 if there were any, 0 if not, -errno (logged, as an
 * error only with REPORT). */
int gc_machine_cgroup(Store *store, const char *name, FILE *report);

/* The same for every machine that does not run.  Returns how many, or -EIO
 * if the machines cannot be listed. */
int gc_machine_cgroups(Store *store, FILE *report);

/* Leftovers of killed snapshots in the snapshots dir SDIR of the machine
 * dir MFD (the machine's lock held; a user's through its range).  Returns
 * how many went. */
int gc_snapshot_staging(int mfd, int sdir);

/* Remove what killed snapshots left in machines' snapshot dirs and the
 * layers nothing lists.  Returns how many went, or -errno. */
int gc_snapshots_and_layers(Store *store, FILE *report);

/* Remove berth-oci's records (lib/oci-record.h) in DIR whose container's
 * init is gone.  Returns how many went, or -errno. */
int gc_oci_records(const char *dir, FILE *report);

/* Remove the template caches (ROOT/images/templates: a template's
 * bootstrapped tree, kept to make the next machine fast) that no template
 * run is using: each cache KEY is taken under KEY.lock, the flock the
 * template holds while it builds or copies it (templates/debian).  The
 * lock files stay (removing a held lock's path would let a second builder
 * lock a new file).  Returns how many caches went, or -errno (logged). */
int gc_template_caches(Store *store, FILE *report);
