/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Runtime state of a running machine, in RUN/NAME/:
 *   supervisor.lock  held (flock) by the supervisor for as long as it lives;
 *                    if nobody holds it, whatever else is in the dir is stale
 *   state            KEY=VALUE lines, replaced atomically
 *   files            this start's binds and tmpfs mounts, a [Files] section
 *                    as machine.conf has it (--bind and the like included)
 *   console.log      console output (bounded)
 *   supervisor.log   the supervisor's own messages */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

#define RUNTIME_FILES "files"

typedef enum MachineState {
        MACHINE_STOPPED,
        MACHINE_STARTING,
        MACHINE_RUNNING,
        MACHINE_STOPPING,
        _MACHINE_STATE_MAX,
        _MACHINE_STATE_INVALID = -22,
} MachineState;

const char *machine_state_to_string(MachineState s);
MachineState machine_state_from_string(const char *s);

typedef struct RuntimeState {
        MachineState state;
        pid_t supervisor_pid;
        unsigned long long supervisor_starttime;
        pid_t init_pid;               /* host view of the machine's PID 1; 0 before it exists */
        unsigned long long init_starttime;
        uint64_t started_usec;        /* CLOCK_REALTIME when the machine last booted */
        unsigned boots;               /* how often init was started by this supervisor (reboots + 1) */
        bool booted;                  /* the guest said READY=1 (or its init never will) */
        bool ephemeral;               /* its changes vanish when it stops */
        int poweroff_signal;          /* the signals the supervisor chose for this init */
        int reboot_signal;
        bool poweroff_initctl;        /* ... unless the init takes a runlevel request on /run/initctl */
        bool reboot_initctl;          /* (sysvinit): then berth reboot asks the supervisor (SIGUSR2) */
        char cgroup[512];             /* the machine's cgroup group (MachineCgroup.group) */
        bool delegated;               /* ... delegated by systemd: unit mode */
        char unit[256];               /* unit mode: the unit's name */
        char addresses[128];          /* "IPv4 IPv6" berth gave the machine; empty if none */
        char devices[4096];           /* the [Devices] Allow= it runs with (machine.conf's and
                                       * --device's), ","-separated Allow= values */
        bool devices_known;           /* DEVICES= was in the file (a supervisor that writes it) */
        char ports[64 * 16];          /* the port forwards it runs with (Port= and --port's),
                                       * space-separated "tcp:8080:80" (CONFIG_PORTS_MAX of them) */
        bool ports_known;             /* PORTS= was in the file */
        char network_mode[16];        /* the network it runs with ([Network] Mode= or start --network) */
        char network_name[256];       /* ... its bridge, CNI network or host link; empty for none/host */
        bool network_known;           /* NETWORK_MODE= was in the file */
} RuntimeState;

/* Is a supervisor alive for NAME?  1 yes, 0 no (the dir may hold stale state). */
int runtime_is_active(int run_fd, const char *name);

int runtime_state_read(int run_fd, const char *name, RuntimeState *ret);

/* The [Files] of this start of machine NAME (RUNTIME_FILES) into *RET,
 * which the caller has initialised (machine_config_init()) and frees; the
 * supervisor wrote it, and what parses is kept.  0, or -errno when it
 * cannot be read (-ENOENT: the machine is not running). */
int runtime_files_read(int run_fd, const char *name, MachineConfig *ret);
int runtime_state_write(int machine_run_fd, const RuntimeState *s);

/* Open a pidfd for the machine's init, checking it is still the same process. */
int runtime_open_init_pidfd(const RuntimeState *s);
int runtime_open_supervisor_pidfd(const RuntimeState *s);

/* Remove a stale RUN/NAME dir (only when no supervisor holds its lock). */
int runtime_clean_stale(int run_fd, const char *name);

uint64_t now_usec(int clock);
