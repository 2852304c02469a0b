/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* The capability bounding set a machine keeps by default: what a full init
 * system needs to run services, minus what touches the host as a whole
 * (modules, raw I/O, clock, audit config, BPF, perf, syslog, ...).  This is
 * the same set systemd-nspawn keeps, plus CAP_NET_ADMIN when the machine has
 * its own network namespace. */
uint64_t caps_default_bounding(int own_netns);

/* In the child, before exec: drop every capability outside KEEP from the
 * bounding set, and clear the ambient and inheritable sets.  Returns -errno. */
int caps_apply_bounding(uint64_t keep);

/* The bounding set of process PID (CapBnd in /proc/PID/status). */
int caps_read_bounding(pid_t pid, uint64_t *ret);

/* Keep only the capabilities in KEEP, in every set (bounding, permitted,
 * effective; inheritable and ambient cleared): for helpers that run as root
 * but need only a few privileges.  Returns -errno. */
int caps_limit(uint64_t keep);
