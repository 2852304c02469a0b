/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "kv.h"
#include "last-exit.h"
#include "runtime.h"
#include "util.h"

static const char *const reason_names[_LAST_EXIT_REASON_MAX] = {
        [LAST_EXIT_POWEROFF] = "poweroff",
        [LAST_EXIT_REBOOT] = "reboot",
        [LAST_EXIT_FAILED] = "failed",
        [LAST_EXIT_KILLED] = "killed",
        [LAST_EXIT_START_FAILED] = "start-failed",
};

const char *last_exit_reason_to_string(LastExitReason r) {
        return r >= 0 && r < _LAST_EXIT_REASON_MAX ? reason_names[r] : NULL;
}

LastExitReason last_exit_reason_from_string(const char *s) {
        for (size_t i = 0; s && i < _LAST_EXIT_REASON_MAX; i++)
                if (streq(reason_names[i], s))
                        return (LastExitReason) i;
        return _LAST_EXIT_REASON_INVALID;
}

/* The same judgement as the supervisor's (what happens next), with one more
 * distinction for people: a signal that is no shutdown request is "killed". */
void last_exit_from_siginfo(const siginfo_t *si, bool stop_requested, LastExit *ret) {
        char sig[16];
        *ret = (LastExit) { .status = -1, .usec = now_usec(CLOCK_REALTIME) };
        if (si->si_code == CLD_EXITED) {
                ret->status = si->si_status;
                ret->reason = si->si_status == 0 || stop_requested ? LAST_EXIT_POWEROFF : LAST_EXIT_FAILED;
                snprintf(ret->detail, sizeof ret->detail, "init exited with status %d%s", si->si_status,
                         stop_requested && si->si_status != 0 ? " after a stop was asked" : "");
                return;
        }
        ret->signal = si->si_status;
        /* The kernel kills a PID namespace's init with SIGHUP when it calls
         * reboot(RESTART), and with SIGINT for POWER_OFF/HALT. */
        if (si->si_status == SIGHUP && !stop_requested)
                ret->reason = LAST_EXIT_REBOOT;
        else if (si->si_status == SIGINT || (stop_requested && si->si_status != SIGKILL))
                ret->reason = LAST_EXIT_POWEROFF;
        else
                ret->reason = LAST_EXIT_KILLED;
        snprintf(ret->detail, sizeof ret->detail, "init killed by %s%s", signal_to_string(si->si_status, sig),
                 stop_requested && si->si_status == SIGKILL ? " (stop timed out or --force)" : "");
}

int last_exit_write(int dir_fd, const LastExit *e) {
        char sig[16];
        _cleanup_free_ char *status = e->status >= 0 ? xasprintf("STATUS=%d\n", e->status) : xstrdup("");
        _cleanup_free_ char *signal = e->signal > 0 ? xasprintf("SIGNAL=%s\n", signal_to_string(e->signal, sig))
                                                   : xstrdup("");
        /* DETAIL is one line: a newline in it would break the file's shape. */
        char detail[sizeof e->detail];
        snprintf(detail, sizeof detail, "%s", e->detail);
        for (char *p = detail; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        _cleanup_free_ char *text = xasprintf("REASON=%s\n%s%sUSEC=%llu\nDETAIL=%s\n",
                                              last_exit_reason_to_string(e->reason), status, signal,
                                              (unsigned long long) e->usec, detail);
        return write_file_atomic_at(dir_fd, LAST_EXIT_FILE, text, strlen(text), 0644);
}

int last_exit_read(int dir_fd, LastExit *ret) {
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(dir_fd, LAST_EXIT_FILE, 4096, &kv);
        if (r < 0)
                return r;
        LastExit e = { .status = -1 };
        e.reason = last_exit_reason_from_string(key_values_get(&kv, "REASON"));
        if (e.reason < 0)
                return -EBADMSG;
        const char *v;
        unsigned st;
        if ((v = key_values_get(&kv, "STATUS")) && safe_atou(v, &st) >= 0 && st <= 255)
                e.status = (int) st;
        if ((v = key_values_get(&kv, "SIGNAL")))
                e.signal = signal_from_string(v) > 0 ? signal_from_string(v) : 0;
        if ((v = key_values_get(&kv, "USEC")))
                (void) safe_atou64(v, &e.usec);
        snprintf(e.detail, sizeof e.detail, "%s", key_values_get(&kv, "DETAIL") ?: "");
        *ret = e;
        return 0;
}
