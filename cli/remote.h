/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* berth -H [USER@]HOST[:PORT] VERB ...: the verb runs on HOST, through the
 * system's ssh (its configuration, keys and agent), as machinectl -H does.
 * The verb and its arguments are checked here first (--help is answered
 * here), then `ssh [-p PORT] [-t] -- [USER@]HOST REMOTE-COMMAND ARGS...`
 * runs with every argument quoted for the remote shell (lib/remote.h), and
 * the remote berth's exit status is ours.  ssh's own failures (status 255)
 * become a berth error.
 *
 * $BERTH_SSH names the ssh program (default "ssh"), $BERTH_REMOTE_COMMAND
 * the command that runs berth on the remote host (default "berth"; taken
 * as shell text, e.g. "env BERTH_ROOT=/srv/b /opt/berth/bin/berth"). */

#include <sys/types.h>

#include "berth.h"
#include "remote-host.h"

typedef struct Remote {
        const Context *ctx; /* the global options to pass on */
        const char *arg;    /* -H's argument, for messages */
        RemoteHost host;
} Remote;

/* Run VERB's ARGV (ARGV[0] the verb) on HOST_ARG.  Returns an exit code. */
int remote_main(const Context *ctx, const char *host_arg, const VerbSpec *verb, int argc, char **argv);

/* IN_FD of remote_spawn(): /dev/null, for the verbs that do not read stdin. */
#define REMOTE_NO_STDIN (-2)

/* Start `berth GLOBAL-OPTIONS WORDS...` on the remote host with stdin IN_FD
 * and stdout OUT_FD (-1: ours; IN_FD REMOTE_NO_STDIN: /dev/null), a pty there
 * if PTY.  0 or -errno (logged). */
int remote_spawn(const Remote *r, bool pty, char *const *words, int in_fd, int out_fd, pid_t *ret_pid);
/* Wait for the ssh of remote_spawn(): the remote exit status, ssh's
 * failure (255) or death reported, as an exit code (RUNS_COMMAND: as
 * exit_code_of() would for a berth failure). */
int remote_wait(const Remote *r, pid_t pid, bool runs_command);

/* A copy of the array ARGV (not of its strings), for an OptionParser to
 * reorder while ARGV stays as it was. */
char **argv_dup(int argc, char **argv);

/* berth -H HOST cp ... (verb-cp.c): the local side of a copy that streams a
 * tar archive through ssh to `berth cp - NAME:PATH` or from
 * `berth cp NAME:PATH -`.  Returns an exit code. */
int remote_cp(const Remote *r, int argc, char **argv);
