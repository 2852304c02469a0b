/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "supervisor-args.h"
#include "util.h"

const char supervisor_args_usage[] =
        "Usage: berth-machined --network-gc\n"
        "       berth-machined [--root DIR] [--config FILE] [--ready-fd N] [--wait] [--unit] [--ephemeral] [--stub-init]\n"
        "                      [--lifeline-fd N | --lifeline-pid PID:STARTTIME] [--port LIST]\n"
        "                      [--bind LINES] [--bind-ro LINES] [--tmpfs LINES] [--device LIST]\n"
        "                      [--network MODE|cni:NAME] NAME\n"
        "Boots and supervises machine NAME. Normally started by 'berth start'.\n";

void supervisor_args_to_argv(const SupervisorArgs *a, const char *path, SupervisorArgv *ret) {
        size_t k = 0;
        char **v = ret->argv;
        v[k++] = (char *) path;
        if (a->network_gc) {
                v[k++] = (char *) "--network-gc";
                v[k] = NULL;
                return;
        }
        if (a->unit)
                v[k++] = (char *) "--unit";
        if (a->root) {
                v[k++] = (char *) "--root";
                v[k++] = (char *) a->root;
        }
        if (a->config) {
                v[k++] = (char *) "--config";
                v[k++] = (char *) a->config;
        }
        if (a->ready_fd >= 0) {
                snprintf(ret->ready_fd, sizeof ret->ready_fd, "%d", a->ready_fd);
                v[k++] = (char *) "--ready-fd";
                v[k++] = ret->ready_fd;
        }
        if (a->wait)
                v[k++] = (char *) "--wait";
        if (a->ephemeral)
                v[k++] = (char *) "--ephemeral";
        if (a->stub)
                v[k++] = (char *) "--stub-init";
        if (a->lifeline_fd >= 0) {
                snprintf(ret->lifeline_fd, sizeof ret->lifeline_fd, "%d", a->lifeline_fd);
                v[k++] = (char *) "--lifeline-fd";
                v[k++] = ret->lifeline_fd;
        }
        if (a->lifeline_pid > 0) {
                /* PID:STARTTIME, field 22 of /proc/PID/stat. */
                snprintf(ret->lifeline_pid, sizeof ret->lifeline_pid, "%d:%llu", (int) a->lifeline_pid,
                         a->lifeline_starttime);
                v[k++] = (char *) "--lifeline-pid";
                v[k++] = ret->lifeline_pid;
        }
        if (a->lock_fd >= 0) {
                snprintf(ret->lock_fd, sizeof ret->lock_fd, "%d", a->lock_fd);
                v[k++] = (char *) "--lock-fd";
                v[k++] = ret->lock_fd;
        }
        /* The options that carry a value as given, when there is one. */
        const struct {
                const char *option;
                const char *value;
        } strings[] = {
                { "--port", a->ports },     { "--bind", a->binds },     { "--bind-ro", a->binds_ro },
                { "--tmpfs", a->tmpfs },    { "--device", a->devices }, { "--network", a->network },
        };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (strings[i].value) {
                        v[k++] = (char *) strings[i].option;
                        v[k++] = (char *) strings[i].value;
                }
        v[k++] = (char *) "--";
        v[k++] = (char *) a->name;
        v[k] = NULL;
}

/* An fd the supervisor inherits: never stdin, stdout or stderr. */
static int parse_fd(const char *option, const char *s, int *ret) {
        if (safe_atoi(s, ret) < 0 || *ret < 3)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --%s '%s'.", option, s);
        return 0;
}

/* PID:STARTTIME, field 22 of /proc/PID/stat. */
static int parse_lifeline_pid(const char *s, SupervisorArgs *a) {
        const char *colon = strchr(s, ':');
        _cleanup_free_ char *pid = colon ? strndup(s, colon - s) : NULL;
        int v;
        uint64_t start;
        if (!pid || safe_atoi(pid, &v) < 0 || v <= 0 || safe_atou64(colon + 1, &start) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --lifeline-pid '%s': give PID:STARTTIME.", s);
        a->lifeline_pid = v;
        a->lifeline_starttime = start;
        return 0;
}

int supervisor_args_parse(int argc, char **argv, SupervisorArgs *a) {
        static const struct option opts[] = {
                { "root", required_argument, NULL, 'r' },
                { "config", required_argument, NULL, 'c' },
                { "ready-fd", required_argument, NULL, 'R' },
                { "wait", no_argument, NULL, 'w' },
                { "unit", no_argument, NULL, 'u' },
                { "ephemeral", no_argument, NULL, 'e' },
                { "stub-init", no_argument, NULL, 's' },
                { "lifeline-fd", required_argument, NULL, 'L' },
                { "lifeline-pid", required_argument, NULL, 'l' },
                { "lock-fd", required_argument, NULL, 'K' },
                { "network-gc", no_argument, NULL, 'G' },
                { "port", required_argument, NULL, 'P' },
                { "bind", required_argument, NULL, 'B' },
                { "bind-ro", required_argument, NULL, 'b' },
                { "tmpfs", required_argument, NULL, 'T' },
                { "device", required_argument, NULL, 'D' },
                { "network", required_argument, NULL, 'N' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c, r;
        optind = 0; /* a full restart of getopt: the caller may parse more than once */
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (c) {
                case 'r':
                        a->root = optarg;
                        break;
                case 'c':
                        a->config = optarg;
                        break;
                case 'R':
                        r = parse_fd("ready-fd", optarg, &a->ready_fd);
                        if (r < 0)
                                return r;
                        break;
                case 'w':
                        a->wait = true;
                        break;
                case 'u':
                        a->unit = true;
                        break;
                case 'e':
                        a->ephemeral = true;
                        break;
                case 's':
                        a->stub = true;
                        break;
                case 'L':
                        r = parse_fd("lifeline-fd", optarg, &a->lifeline_fd);
                        if (r < 0)
                                return r;
                        break;
                case 'l':
                        r = parse_lifeline_pid(optarg, a);
                        if (r < 0)
                                return r;
                        break;
                case 'K':
                        r = parse_fd("lock-fd", optarg, &a->lock_fd);
                        if (r < 0)
                                return r;
                        break;
                case 'G':
                        a->network_gc = true;
                        break;
                case 'P':
                        a->ports = optarg;
                        break;
                case 'B':
                        a->binds = optarg;
                        break;
                case 'b':
                        a->binds_ro = optarg;
                        break;
                case 'T':
                        a->tmpfs = optarg;
                        break;
                case 'D':
                        a->devices = optarg;
                        break;
                case 'N':
                        a->network = optarg;
                        break;
                case 'h':
                        a->help = true;
                        return 0;
                default:
                        return -EINVAL;
                }
        }
        if (a->network_gc) {
                if (optind != argc)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--network-gc takes no machine name.");
                return 0;
        }
        if (optind != argc - 1)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Expected exactly one machine name.");
        a->name = argv[optind];
        return 0;
}
