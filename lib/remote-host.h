/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What `berth -H [USER@]HOST[:PORT]` needs to run a verb on another host
 * over ssh: the host argument checked so that it can never become an ssh
 * option, and a command line for the remote shell that gives the remote
 * berth every argument byte for byte.
 *
 * ssh(1) joins its command words with spaces and hands the string to the
 * remote user's login shell (`$SHELL -c`), so every word must be quoted for
 * a POSIX shell there: single quotes keep everything (newlines, $, `, \, ;)
 * literally, and a single quote is written as '\''. */

#include <stdint.h>

typedef struct RemoteHost {
        char *destination; /* "[USER@]HOST" as ssh takes it, brackets of an IPv6 address removed */
        uint16_t port;     /* 0: ssh's own choice (its config, or 22) */
} RemoteHost;

void remote_host_done(RemoteHost *h);

/* Parse "[USER@]HOST[:PORT]" (an IPv6 address as "[USER@][ADDR]:PORT" or,
 * without a port, bare).  Refuses an empty host or user, a leading '-',
 * in the user or host anything but letters, digits, '-', '_', '.' (and ':'
 * in an IPv6 address), and a port that is not 1-65535: 0, or -EINVAL with
 * *RET_REASON. */
int remote_host_parse(const char *s, RemoteHost *ret, const char **ret_reason);

/* S quoted for a POSIX shell and zsh (malloc'ed); words of only safe
 * characters (letters, digits, and %+,-./:=@_), not starting with '=', are
 * left as they are. */
char *shell_quote(const char *s);
/* The words of ARGV quoted and joined by spaces (malloc'ed). */
char *shell_join(char *const *argv);
