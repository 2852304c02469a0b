/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The command line of berth-machined: the one contract between berth (which
 * starts the supervisor directly, or as a systemd unit) and the supervisor.
 * One struct of its options, one builder to argv and one parser from it, so
 * the two sides cannot drift.  Systemd units (berth@.service) and tests call
 * the supervisor with this argv too: options are only ever added. */

#include <stdbool.h>
#include <sys/types.h>

typedef struct SupervisorArgs {
        const char *name;   /* the machine; NULL with network_gc */
        const char *root;   /* --root: the store's root; NULL: the default */
        const char *config; /* --config: berth.conf; NULL: the default */
        int ready_fd;       /* >= 3: write "1" here once started (or booted, with wait) */
        bool wait;          /* signal the ready fd when the guest has booted, not at exec */
        bool unit;          /* started as a systemd unit: delegated cgroup, sd_notify, machined */
        bool ephemeral;     /* changes to the rootfs go to a tmpfs overlay and vanish */
        bool stub;          /* PID 1 is berth's stub init, not the machine's own */
        int lifeline_fd;    /* >= 3: power the machine off when this pipe closes (berth run) */
        pid_t lifeline_pid; /* > 0: ... when this process ends (berth run in unit mode: no pipe) */
        unsigned long long lifeline_starttime; /* its start time, against pid reuse */
        int lock_fd;        /* >= 3: berth's lock on the machine, held until the runtime state exists */
        bool network_gc;    /* no machine: clean up after dead supervisors' networks */
        const char *ports;  /* --port: forwards added to the configured ones for this run */
        const char *binds;    /* --bind: Bind= values added for this run, one per line */
        const char *binds_ro; /* --bind-ro: BindReadOnly= values, one per line */
        const char *tmpfs;    /* --tmpfs: TemporaryFileSystem= values, one per line */
        const char *devices; /* --device: [Devices] Allow= added for this run, ","-separated
                              * "PATH|CLASS[:ACCESS][:privileged]" */
        const char *network; /* --network: this run's network, MODE or cni:NAME (as berth create's
                              * --network), over the configured one */
        bool help;          /* --help: print the usage, nothing else */
} SupervisorArgs;

#define SUPERVISOR_ARGS_INIT { .ready_fd = -1, .lifeline_fd = -1, .lock_fd = -1 }

/* Room for every option with its value, the program, "--", the name and NULL. */
#define SUPERVISOR_ARGV_MAX 32

/* An argv built without allocating (berth builds it in a forked child):
 * the numbers it holds as text live here too. */
typedef struct SupervisorArgv {
        char *argv[SUPERVISOR_ARGV_MAX];
        char ready_fd[16], lifeline_fd[16], lock_fd[16], lifeline_pid[48];
} SupervisorArgv;

/* Fill RET with PATH and the options A sets, then "--" and A's name (or
 * --network-gc).  RET->argv points into A's strings, which must outlive it. */
void supervisor_args_to_argv(const SupervisorArgs *a, const char *path, SupervisorArgv *ret);

/* Parse the supervisor's ARGC/ARGV into A (initialized with
 * SUPERVISOR_ARGS_INIT).  Logs what is wrong and returns -EINVAL; with
 * --help returns 0 at once with A->help set. */
int supervisor_args_parse(int argc, char **argv, SupervisorArgs *a);

/* The usage text of --help. */
extern const char supervisor_args_usage[];
