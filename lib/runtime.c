/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>

#include "cni.h"
#include "config.h"
#include "fs.h"
#include "kv.h"
#include "log.h"
#include "pasta-leftover.h"
#include "runtime.h"
#include "util.h"

static const char *const state_table[_MACHINE_STATE_MAX] = {
        [MACHINE_STOPPED] = "stopped",
        [MACHINE_STARTING] = "starting",
        [MACHINE_RUNNING] = "running",
        [MACHINE_STOPPING] = "stopping",
};

const char *machine_state_to_string(MachineState s) {
        return s >= 0 && s < _MACHINE_STATE_MAX ? state_table[s] : NULL;
}

MachineState machine_state_from_string(const char *s) {
        for (int i = 0; i < _MACHINE_STATE_MAX; i++)
                if (streq_ptr(state_table[i], s))
                        return (MachineState) i;
        return _MACHINE_STATE_INVALID;
}

uint64_t now_usec(int clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int runtime_is_active(int run_fd, const char *name) {
        _cleanup_close_ int dfd = open_dir_nofollow(run_fd, name);
        if (dfd < 0)
                return dfd == -ENOENT ? 0 : dfd;
        _cleanup_close_ int lfd = openat(dfd, "supervisor.lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (lfd < 0)
                return errno == ENOENT ? 0 : -errno;
        /* A shared lock succeeds only if the supervisor's exclusive one is gone. */
        if (flock(lfd, LOCK_SH | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? 1 : -errno;
        return 0;
}

int runtime_state_read(int run_fd, const char *name, RuntimeState *ret) {
        _cleanup_close_ int dfd = open_dir_nofollow(run_fd, name);
        if (dfd < 0)
                return dfd;
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(dfd, "state", 16384, &kv);
        if (r < 0)
                return r;

        RuntimeState s = { .state = MACHINE_STOPPED };
        for (size_t j = 0; j < kv.n; j++) {
                const char *k = kv.keys[j], *v = kv.values[j];
                uint64_t u = 0;
                int i = 0;
                if (streq(k, "STATE"))
                        s.state = machine_state_from_string(v);
                else if (streq(k, "SUPERVISOR_PID") && safe_atoi(v, &i) >= 0)
                        s.supervisor_pid = i;
                else if (streq(k, "SUPERVISOR_STARTTIME") && safe_atou64(v, &u) >= 0)
                        s.supervisor_starttime = u;
                else if (streq(k, "INIT_PID") && safe_atoi(v, &i) >= 0)
                        s.init_pid = i;
                else if (streq(k, "INIT_STARTTIME") && safe_atou64(v, &u) >= 0)
                        s.init_starttime = u;
                else if (streq(k, "STARTED_USEC") && safe_atou64(v, &u) >= 0)
                        s.started_usec = u;
                else if (streq(k, "BOOTS") && safe_atou64(v, &u) >= 0)
                        s.boots = (unsigned) u;
                else if (streq(k, "CGROUP") && strlen(v) < sizeof s.cgroup)
                        strcpy(s.cgroup, v);
                else if (streq(k, "UNIT") && strlen(v) < sizeof s.unit)
                        strcpy(s.unit, v);
                else if (streq(k, "ADDRESSES") && strlen(v) < sizeof s.addresses)
                        strcpy(s.addresses, v);
                else if (streq(k, "DEVICES") && strlen(v) < sizeof s.devices) {
                        strcpy(s.devices, v);
                        s.devices_known = true;
                }
                else if (streq(k, "NETWORK_MODE") && strlen(v) < sizeof s.network_mode) {
                        strcpy(s.network_mode, v);
                        s.network_known = true;
                } else if (streq(k, "NETWORK_NAME") && strlen(v) < sizeof s.network_name)
                        strcpy(s.network_name, v);
                else if (streq(k, "PORTS") && strlen(v) < sizeof s.ports) {
                        strcpy(s.ports, v);
                        s.ports_known = true;
                } else if (streq(k, "DELEGATED"))
                        s.delegated = streq(v, "1");
                else if (streq(k, "EPHEMERAL"))
                        s.ephemeral = streq(v, "1");
                else if (streq(k, "BOOTED"))
                        s.booted = streq(v, "1");
                else if (streq(k, "POWEROFF_SIGNAL") && safe_atoi(v, &i) >= 0)
                        s.poweroff_signal = i;
                else if (streq(k, "REBOOT_SIGNAL") && safe_atoi(v, &i) >= 0)
                        s.reboot_signal = i;
                else if (streq(k, "POWEROFF_INITCTL"))
                        s.poweroff_initctl = streq(v, "1");
                else if (streq(k, "REBOOT_INITCTL"))
                        s.reboot_initctl = streq(v, "1");
        }
        if (s.state < 0)
                return -EBADMSG;
        *ret = s;
        return 0;
}

int runtime_state_write(int machine_run_fd, const RuntimeState *s) {
        _cleanup_free_ char *text = xasprintf("STATE=%s\n"
                                              "SUPERVISOR_PID=%d\n"
                                              "SUPERVISOR_STARTTIME=%llu\n"
                                              "INIT_PID=%d\n"
                                              "INIT_STARTTIME=%llu\n"
                                              "STARTED_USEC=%llu\n"
                                              "BOOTS=%u\n"
                                              "BOOTED=%d\n"
                                              "EPHEMERAL=%d\n"
                                              "POWEROFF_SIGNAL=%d\n"
                                              "REBOOT_SIGNAL=%d\n"
                                              "POWEROFF_INITCTL=%d\n"
                                              "REBOOT_INITCTL=%d\n"
                                              "CGROUP=%s\n"
                                              "DELEGATED=%d\n"
                                              "UNIT=%s\n"
                                              "ADDRESSES=%s\n"
                                              "DEVICES=%s\n"
                                              "PORTS=%s\n"
                                              "NETWORK_MODE=%s\n"
                                              "NETWORK_NAME=%s\n",
                                              machine_state_to_string(s->state), (int) s->supervisor_pid,
                                              s->supervisor_starttime, (int) s->init_pid, s->init_starttime,
                                              (unsigned long long) s->started_usec, s->boots, s->booted, s->ephemeral,
                                              s->poweroff_signal, s->reboot_signal, s->poweroff_initctl,
                                              s->reboot_initctl, s->cgroup, s->delegated,
                                              s->unit, s->addresses, s->devices, s->ports,
                                              s->network_mode, s->network_name);
        return write_file_atomic_at(machine_run_fd, "state", text, strlen(text), 0644);
}

int runtime_open_init_pidfd(const RuntimeState *s) {
        return pidfd_open_checked(s->init_pid, s->init_starttime);
}

int runtime_open_supervisor_pidfd(const RuntimeState *s) {
        return pidfd_open_checked(s->supervisor_pid, s->supervisor_starttime);
}

int runtime_clean_stale(int run_fd, const char *name) {
        int r = runtime_is_active(run_fd, name);
        if (r != 0)
                return r < 0 ? r : -EBUSY;
        /* A killed supervisor's CNI attachment: its cache is the only record
         * of what the plugins must DEL (an address lease, port rules). */
        _cleanup_close_ int dfd = open_dir_nofollow(run_fd, name);
        if (dfd >= 0)
                (void) cni_cache_cleanup(dfd, name);
        /* ...and a user's machine's pasta, which its pid file names. */
        if (dfd >= 0)
                (void) pasta_leftover_kill(dfd);
        return rm_rf_at(run_fd, name);
}

int runtime_files_read(int run_fd, const char *name, MachineConfig *ret) {
        _cleanup_close_ int dfd = open_dir_nofollow(run_fd, name);
        if (dfd < 0)
                return dfd;
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_file_at(dfd, RUNTIME_FILES, 65536, &text, &len);
        if (r < 0)
                return r;
        /* The supervisor wrote it: what parses is what it mounted. */
        (void) machine_config_parse_text(ret, text, len, RUNTIME_FILES, CONFIG_SOURCE_MACHINE, false, NULL);
        return 0;
}
