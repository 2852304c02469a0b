/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The minimal PID 1 of a machine that runs a command rather than booting
 * ("berth run" without --boot): it reaps orphans and ends the machine on a
 * poweroff signal (SIGTERM, SIGINT, SIGUSR2, SIGRTMIN+3, SIGRTMIN+4).  It
 * runs in the child berth-machined made, without exec: nothing of the guest
 * is loaded into it, and it is not dumpable, so nothing in the machine can
 * reach it through /proc/1. */

_Noreturn void stub_init_run(void);
