/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/supervisor-args: what berth builds, the supervisor parses back to the
 * same options; what it must not accept, it refuses. */

#include <string.h>

#include "supervisor-args.h"
#include "tap.h"
#include "util.h"

static size_t argv_len(char *const *v) {
        size_t n = 0;
        while (v[n])
                n++;
        return n;
}

static bool streq_null(const char *a, const char *b) {
        return a == b || (a && b && streq(a, b));
}

static bool args_equal(const SupervisorArgs *a, const SupervisorArgs *b) {
        return streq_null(a->name, b->name) && streq_null(a->root, b->root) && streq_null(a->config, b->config) &&
               a->ready_fd == b->ready_fd && a->wait == b->wait && a->unit == b->unit &&
               a->ephemeral == b->ephemeral && a->stub == b->stub && a->lifeline_fd == b->lifeline_fd &&
               a->lifeline_pid == b->lifeline_pid && a->lifeline_starttime == b->lifeline_starttime &&
               a->lock_fd == b->lock_fd && a->network_gc == b->network_gc && streq_null(a->ports, b->ports) &&
               streq_null(a->binds, b->binds) && streq_null(a->binds_ro, b->binds_ro) &&
               streq_null(a->tmpfs, b->tmpfs) && streq_null(a->devices, b->devices) && a->help == b->help;
}

/* Build IN's argv, parse it back, expect IN again. */
static void test_round_trip(const char *desc, const SupervisorArgs *in) {
        SupervisorArgv v;
        supervisor_args_to_argv(in, "/usr/libexec/berth/berth-machined", &v);
        SupervisorArgs out = SUPERVISOR_ARGS_INIT;
        int r = supervisor_args_parse((int) argv_len(v.argv), v.argv, &out);
        if (!TEST_ASSERT(r == 0 && args_equal(in, &out), "round trip: %s", desc))
                for (size_t i = 0; v.argv[i]; i++)
                        tap_diag("argv[%zu] = %s", i, v.argv[i]);
}

/* Parse ARGV (NULL-terminated), expect R; on success, return what it gave in RET. */
static int parse(char **argv, SupervisorArgs *ret) {
        *ret = (SupervisorArgs) SUPERVISOR_ARGS_INIT;
        return supervisor_args_parse((int) argv_len(argv), argv, ret);
}

static void test_refused(const char *desc, char **argv) {
        SupervisorArgs a;
        int r = parse(argv, &a);
        if (!TEST_ASSERT(r == -EINVAL, "refuses %s", desc))
                tap_diag("r=%d", r);
}

int main(void) {
        SupervisorArgs a = SUPERVISOR_ARGS_INIT;
        a.name = "m1";
        test_round_trip("a name alone", &a);

        /* Every option set at once, the way berth start sets them in direct mode. */
        a = (SupervisorArgs) {
                .name = "web-1", .root = "/var/lib/berth", .config = "/etc/berth/berth.conf",
                .ready_fd = 3, .wait = true, .ephemeral = true, .stub = true, .lifeline_fd = 4,
                .lock_fd = 5, .ports = "tcp:8080:80 udp:53",
                .binds = "/home/ci/work:/src\n/srv/my data:/data:idmap", .binds_ro = "/etc/ssl",
                .tmpfs = "/scratch:size=1g", .devices = "/dev/kvm:rw,/dev/sda:r:privileged",
        };
        test_round_trip("every direct-mode option", &a);

        /* Unit mode: no fds cross systemd, a process does. */
        a = (SupervisorArgs) {
                .name = "web-2", .root = "/srv/b", .config = "/srv/b.conf", .unit = true, .ready_fd = -1,
                .lifeline_fd = -1, .lock_fd = -1, .lifeline_pid = 4242,
                .lifeline_starttime = 18446744073709551615ULL, .ports = "8080",
                .binds = "/a", .binds_ro = "/b:/c:norbind", .tmpfs = "/t", .devices = "char-drm",
        };
        test_round_trip("every unit-mode option", &a);

        a = (SupervisorArgs) SUPERVISOR_ARGS_INIT;
        a.network_gc = true;
        test_round_trip("--network-gc", &a);

        /* A name that looks like an option stays a name, after "--". */
        a = (SupervisorArgs) SUPERVISOR_ARGS_INIT;
        a.name = "--wait";
        test_round_trip("a name after --", &a);

        /* The argv berth@.service gives: --unit -- %i. */
        SupervisorArgs p;
        int r = parse((char *[]) { "berth-machined", "--unit", "--", "web", NULL }, &p);
        TEST_ASSERT(r == 0 && p.unit && streq(p.name, "web") && p.ready_fd == -1 && !p.root,
                    "parses berth@.service's command line");
        r = parse((char *[]) { "berth-machined", "--ready-fd=7", "--lifeline-pid=1:0", "web", NULL }, &p);
        TEST_ASSERT(r == 0 && p.ready_fd == 7 && p.lifeline_pid == 1 && p.lifeline_starttime == 0 &&
                            streq(p.name, "web"),
                    "takes --OPTION=VALUE and a name without --");
        r = parse((char *[]) { "berth-machined", "--help", "--ready-fd", "x", NULL }, &p);
        TEST_ASSERT(r == 0 && p.help, "--help wins over what follows");

        test_refused("--ready-fd 2 (stderr)", (char *[]) { "m", "--ready-fd", "2", "n", NULL });
        test_refused("--ready-fd x", (char *[]) { "m", "--ready-fd", "x", "n", NULL });
        test_refused("--ready-fd -1", (char *[]) { "m", "--ready-fd", "-1", "n", NULL });
        test_refused("--lifeline-fd 0", (char *[]) { "m", "--lifeline-fd", "0", "n", NULL });
        test_refused("--lock-fd 1x", (char *[]) { "m", "--lock-fd", "1x", "n", NULL });
        test_refused("--lifeline-pid without a start time", (char *[]) { "m", "--lifeline-pid", "12", "n", NULL });
        test_refused("--lifeline-pid 0:5", (char *[]) { "m", "--lifeline-pid", "0:5", "n", NULL });
        test_refused("--lifeline-pid -3:5", (char *[]) { "m", "--lifeline-pid", "-3:5", "n", NULL });
        test_refused("--lifeline-pid 12:x", (char *[]) { "m", "--lifeline-pid", "12:x", "n", NULL });
        test_refused("--lifeline-pid 12:", (char *[]) { "m", "--lifeline-pid", "12:", "n", NULL });
        test_refused("an unknown option", (char *[]) { "m", "--bogus", "n", NULL });
        test_refused("no machine name", (char *[]) { "m", "--unit", NULL });
        test_refused("two machine names", (char *[]) { "m", "a", "b", NULL });
        test_refused("--network-gc with a name", (char *[]) { "m", "--network-gc", "a", NULL });
        return tap_finish();
}
