/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Run a helper program (a template, cp) as an argv array, never through a
 * shell, in new PID and mount namespaces: if berth dies, the helper and
 * everything it started die with it (PR_SET_PDEATHSIG on the namespace's
 * init takes the whole namespace down), and mounts it makes (debootstrap
 * mounts /proc in its target) vanish with it instead of pinning a half-made
 * tree on the host.  stdin is /dev/null; stdout and stderr are inherited.
 * Returns the exit status (>= 0), or -errno if it could not be run. */
int spawn_sandboxed(char *const argv[]);

/* The same with FDS[0..N_FDS) open in the helper as fds 3, 4, ...
 * (files the caller opened with its own rights, which the helper may
 * not be able to open itself), every other fd above 2 closed. */
#define SPAWN_FDS_MAX 8
int spawn_sandboxed_fds(char *const argv[], const int *fds, size_t n_fds);

/* The same without the sandbox, for our own helpers that must see the
 * host's processes (berth-machined --network-gc checks and signals them):
 * same namespaces as the caller, stdin /dev/null, waited for. */
int spawn_plain(char *const argv[]);

/* Wait for child PID (retrying on EINTR): its exit status, or 128 + the
 * signal that killed it (as a shell reports it), or -errno. */
int wait_child(pid_t pid);

/* Start ARGV[0] (looked up in $PATH) as a plain child of ours with
 * IN_FD as its stdin and OUT_FD as its stdout (-1: ours), SIGINT and
 * SIGQUIT back at their defaults and no signal blocked, and return at once with its pid in
 * *RET_PID, for the caller to wait_child() it: for pipelines of the
 * system's tools (ssh, tar); it gets SIGTERM if we die.  0 or -errno (logged). */
int spawn_piped(char *const argv[], int in_fd, int out_fd, pid_t *ret_pid);
