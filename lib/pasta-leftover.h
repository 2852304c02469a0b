/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A pasta (machined/pasta.h) that outlived the supervisor of a user's
 * machine.  Supervisors since this file run pasta as their own child with
 * PR_SET_PDEATHSIG, so a SIGKILLed supervisor takes it along; this is for
 * what a supervisor that daemonized pasta left, and for the moment between
 * fork and PR_SET_PDEATHSIG.  The next start of the machine and `berth gc`
 * call it. */

/* The machine's runtime dir MACHINE_RUN_FD names its pasta in pasta.pid:
 * if that process still runs, is pasta (its name) and was started with that
 * very pid file (its command line), kill it; remove pasta.pid.  1 if one was
 * killed, 0 if there was none, -errno. */
int pasta_leftover_kill(int machine_run_fd);

#define PASTA_PID_FILE "pasta.pid"
