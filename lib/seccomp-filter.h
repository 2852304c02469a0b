/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The default system call filter of a machine (libseccomp), installed in
 * the init just before exec and in every "berth exec" command, for the
 * native architecture and its 32-bit companions.  It is a deny-list on top
 * of what the user namespace and the capability bounding set already stop:
 * calls that act on the whole host (modules, kexec, swap, clocks, kernel
 * keyrings, accounting), that have a history of container escapes
 * (open_by_handle_at, io_uring) or that inject terminal input
 * (ioctl TIOCSTI/TIOCLINUX). Denied calls fail with EPERM. */

#include <stddef.h>

/* Names of the denied calls, for documentation and tests. */
extern const char *const syscall_filter_denied[];
extern const size_t syscall_filter_denied_count;

/* Install the filter in the calling process. No no_new_privs: setuid
 * programs inside the machine must keep working; installing without it
 * needs CAP_SYS_ADMIN in the current user namespace, which a machine's
 * init and exec'd commands have. Returns 0 or -errno. */
int syscall_filter_install(void);
