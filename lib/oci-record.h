/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What berth-oci leaves for `berth list` about each machine-profile
 * container it runs: a small KEY=VALUE file per container in one host-wide
 * directory (OCI_RECORD_DIR, or $BERTH_OCI_RECORDS), named by the
 * container's ID, removed on delete.  A record whose init is gone (the
 * engine died, the host's /run survived) is stale: list skips it, gc
 * removes it. */

#include <stdbool.h>
#include <sys/types.h>

/* A name no machine can have (none starts with '.'), so no machine's
 * runtime dir /run/berth/NAME is ever mistaken for it. */
#define OCI_RECORD_DIR "/run/berth/.oci"

typedef struct OciRecord {
        char *id;        /* the engine's container ID (the file's name) */
        char *name;      /* the machine name (org.berth.name, or from the ID) */
        char *state_dir; /* berth-oci's --root: the engine's state dir */
        char *engine;    /* "podman", "containerd", or the caller's program name */
        char *rootfs;
        char *registered; /* the name machined knows it by, or NULL */
        pid_t pid;       /* the container's init */
        unsigned long long starttime;
} OciRecord;

void oci_record_done(OciRecord *r);

/* $BERTH_OCI_RECORDS if set, else OCI_RECORD_DIR; *RET_EXPLICIT says which. */
const char *oci_record_dir(bool *ret_explicit);

/* Write R as DIR/R->id (atomically, 0644), making DIR. */
int oci_record_write(const char *dir, const OciRecord *r);
/* Remove DIR/ID; missing is fine. */
int oci_record_remove(const char *dir, const char *id);
/* Read DIR/ID: -ENOENT, -EBADMSG, or 0. */
int oci_record_read(const char *dir, const char *id, OciRecord *ret);
/* Whether R's init is still the process that was started. */
bool oci_record_alive(const OciRecord *r);

/* All of DIR's well-formed records (stale ones too), sorted by name; no
 * DIR is no records. */
int oci_record_list(const char *dir, OciRecord **ret, size_t *ret_n);
void oci_record_list_free(OciRecord *r, size_t n);
/* The record named NAME in DIR (-ENOENT if none). */
int oci_record_find(const char *dir, const char *name, OciRecord *ret);

/* A valid machine name from an engine's container ID, malloc'ed: letters,
 * digits and '-' kept, other characters made '-', at most MACHINE_NAME_MAX. */
char *oci_record_name_from_id(const char *id);
/* What manages the process PARENT, for the record's engine: "podman"
 * (conmon), "containerd" (its shim), else PARENT's program name. */
char *oci_record_engine_of(pid_t parent);
/* The tool to tell users about for ENGINE: "podman", "ctr", ... */
const char *oci_record_engine_tool(const char *engine);
