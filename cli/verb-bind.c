/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth bind, berth unbind: a host directory or file into a running machine
 * and out again (lib/live-bind.h does the mounting).  Not kept: the next
 * start has what [Files] says. */
#include <getopt.h>
#include <unistd.h>

#include "berth.h"
#include "fs.h"
#include "live-bind.h"
#include "log.h"
#include "runtime.h"
#include "util.h"

/* The running machine NAME as live_bind() takes it; LOCK is held. */
static int live_machine(Context *ctx, const char *name, LiveMachine *ret, int *ret_pidfd) {
        if (runtime_is_active(ctx->store.run_fd, name) <= 0) {
                log_error("Machine '%s' is not running: a live bind needs a running machine. For the next start, "
                          "use 'berth start --bind' or [Files] Bind= (berth set %s Bind=...).", name, name);
                return EXIT_NOT_RUNNING;
        }
        RuntimeState st;
        int r = runtime_state_read(ctx->store.run_fd, name, &st);
        if (r < 0)
                return log_error_errno(r, "Failed to read the runtime state of '%s': %m", name), EXIT_FAIL;
        if (st.init_pid <= 0) {
                log_error("Machine '%s' is %s, try again when it runs.", name, machine_state_to_string(st.state));
                return EXIT_NOT_RUNNING;
        }
        int pidfd = runtime_open_init_pidfd(&st);
        if (pidfd < 0)
                return log_error_errno(pidfd, "Cannot find the init of machine '%s': %m", name), EXIT_FAIL;
        *ret = (LiveMachine) { .name = name, .pidfd = pidfd, .init_pid = st.init_pid,
                               .private_users = !same_namespace(st.init_pid, "user") };
        if (ret->private_users) {
                r = store_machine_uid_base(&ctx->store, name, &ret->uid_base);
                if (r < 0) {
                        close(pidfd);
                        return log_error_errno(r, "Failed to read the UID range of '%s': %m", name), EXIT_FAIL;
                }
        }
        *ret_pidfd = pidfd;
        return 0;
}

int verb_bind(Context *ctx, int argc, char **argv) {
        static const struct option opts[] = {
                { "read-only", no_argument, NULL, 'r' },
                { "mkdir", no_argument, NULL, 'm' },
                { "options", required_argument, NULL, 'o' },
                {},
        };
        static const char usage[] = "bind [--read-only] [--mkdir] [--options OPTS] NAME SRC [DST]";
        bool read_only = false, mkdir = false;
        const char *options = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'r':
                        read_only = true;
                        break;
                case 'm':
                        mkdir = true;
                        break;
                case 'o':
                        options = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (argc - optind < 2 || argc - optind > 3) {
                log_error("Usage: berth %s", usage);
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        int r = check_name(name);
        if (r != 0)
                return r;

        /* A relative source is the caller's, as cp and mount take it. */
        _cleanup_free_ char *cwd = NULL, *src = NULL;
        const char *arg_src = argv[optind + 1];
        if (arg_src[0] != '/') {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return log_error_errno(errno, "Cannot resolve '%s': %m", arg_src), EXIT_FAIL;
                src = xasprintf("%s%s%s", cwd, streq(cwd, "/") ? "" : "/", arg_src);
        } else
                src = xstrdup(arg_src);
        /* Plain paths here: a ':' in them is a ':' of the path. */
        _cleanup_free_ char *esrc = bind_path_escape(src), *edst = bind_path_escape(argv[optind + 2] ?: src);
        _cleanup_free_ char *spec_text = xasprintf("%s:%s%s%s", esrc, edst, options ? ":" : "", options ?: "");
        _cleanup_(bind_spec_done) BindSpec spec = {};
        const char *reason;
        if (bind_spec_parse(spec_text, read_only, &spec, &reason) < 0) {
                _cleanup_free_ char *v = strdup_printable(spec_text);
                log_error("Invalid bind '%s': %s. Expected absolute paths (a relative SRC is taken from the current "
                          "directory) and OPTS from ro, rbind, norbind, idmap, rootidmap, noidmap.", v, reason);
                return EXIT_USAGE;
        }

        /* The lock keeps the machine from stopping (or going away) under us. */
        _cleanup_close_ int lock = -EBADF, pidfd = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        LiveMachine m;
        r = live_machine(ctx, name, &m, &pidfd);
        if (r != 0)
                return r;
        return live_bind(&m, &spec, mkdir) < 0 ? EXIT_FAIL : EXIT_OK;
}

int verb_unbind(Context *ctx, int argc, char **argv) {
        static const struct option opts[] = { {} };
        if (getopt_long(argc, argv, "", opts, NULL) >= 0)
                return EXIT_USAGE;
        if (argc - optind != 2) {
                log_error("Usage: berth unbind NAME DST");
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        int r = check_name(name);
        if (r != 0)
                return r;
        const char *reason;
        if (bind_destination_check(argv[optind + 1], &reason) < 0) {
                log_error("Cannot unbind: the destination %s.", reason);
                return EXIT_USAGE;
        }
        _cleanup_close_ int lock = -EBADF, pidfd = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        LiveMachine m;
        r = live_machine(ctx, name, &m, &pidfd);
        if (r != 0)
                return r;
        return live_unbind(&m, argv[optind + 1]) < 0 ? EXIT_FAIL : EXIT_OK;
}
