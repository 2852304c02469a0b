/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Check that a rootfs is fit to boot, before anything is started: a
 * directory; proc, sys, dev, run absent or real directories (never symlinks);
 * INIT resolvable inside the rootfs (never on the host) to an executable
 * regular file.  Logs a precise error with a hint.  On success
 * *ret_init_name gets the basename the init resolves to ("systemd",
 * "busybox", ...), which decides the poweroff and reboot signals.  INIT NULL
 * (berth's stub init runs instead) checks the directories only. */
int rootfs_check(const char *rootfs, const char *init, char **ret_init_name);
