/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth bind, berth unbind: a host directory or file into a running machine
 * and out again (lib/live-bind.h does the mounting).  Not kept: the next
 * start has what [Files] says. */
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
                return ERR_NOT_RUNNING;
        }
        RuntimeState st;
        int r = runtime_state_read(ctx->store.run_fd, name, &st);
        if (r < 0)
                return log_error_errno(r, "Failed to read the runtime state of '%s': %m", name);
        if (st.init_pid <= 0) {
                log_error("Machine '%s' is %s, try again when it runs.", name, machine_state_to_string(st.state));
                return ERR_NOT_RUNNING;
        }
        int pidfd = runtime_open_init_pidfd(&st);
        if (pidfd < 0)
                return log_error_errno(pidfd, "Cannot find the init of machine '%s': %m", name);
        *ret = (LiveMachine) { .name = name, .pidfd = pidfd, .init_pid = st.init_pid,
                               .private_users = !same_namespace(st.init_pid, "user") };
        if (ret->private_users) {
                r = store_machine_uid_base(&ctx->store, name, &ret->uid_base);
                if (r < 0) {
                        close(pidfd);
                        return log_error_errno(r, "Failed to read the UID range of '%s': %m", name);
                }
        }
        *ret_pidfd = pidfd;
        return 0;
}

static const OptionSpec bind_options[] = {
        { "read-only", 0, 'r', NULL, "read-only inside (locked: the machine cannot remount it)" },
        { "mkdir", 0, 'm', NULL, "create DST (and its parents) inside the machine if missing" },
        { "options", 0, 'o', "OPTS", "Bind= options: ro, rbind, norbind, idmap, rootidmap, noidmap" },
        {},
};

const VerbSpec bind_verb = {
        .name = "bind",
        .func = verb_bind,
        .args = "NAME SRC [DST]",
        .summary = "Mount a host directory or file into a running machine (until unbind or stop)",
        .example = "bind --mkdir web /srv/data /data\nbind --read-only --options idmap web /etc/ssl/certs",
        .options = bind_options,
        .complete = COMPLETE_RUNNING,
        .rootless = true,
};

int verb_bind(Context *ctx, int argc, char **argv) {
        bool read_only = false, mkdir = false;
        const char *options = NULL;
        OptionParser p;
        option_parser_init(&p, &bind_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'r':
                        read_only = true;
                        break;
                case 'm':
                        mkdir = true;
                        break;
                case 'o':
                        options = p.arg;
                        break;
                default:
                        return ERR_USAGE;
                }
        if (c < 0)
                return c;
        int r = expect_args(&p, 2, 3);
        if (r != 0)
                return r;
        const char *name = p.args[0];
        r = check_name(name);
        if (r != 0)
                return r;

        /* A relative source is the caller's, as cp and mount take it. */
        _cleanup_free_ char *cwd = NULL, *src = NULL;
        const char *arg_src = p.args[1];
        if (arg_src[0] != '/') {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return log_error_errno(errno, "Cannot resolve '%s': %m", arg_src);
                src = xasprintf("%s%s%s", cwd, streq(cwd, "/") ? "" : "/", arg_src);
        } else
                src = xstrdup(arg_src);
        /* Plain paths here: a ':' in them is a ':' of the path. */
        _cleanup_free_ char *esrc = bind_path_escape(src), *edst = bind_path_escape(p.n_args == 3 ? p.args[2] : src);
        _cleanup_free_ char *spec_text = xasprintf("%s:%s%s%s", esrc, edst, options ? ":" : "", options ?: "");
        _cleanup_(bind_spec_done) BindSpec spec = {};
        const char *reason;
        if (bind_spec_parse(spec_text, read_only, &spec, &reason) < 0) {
                _cleanup_free_ char *v = strdup_printable(spec_text);
                log_error("Invalid bind '%s': %s. Expected absolute paths (a relative SRC is taken from the current "
                          "directory) and OPTS from ro, rbind, norbind, idmap, rootidmap, noidmap.", v, reason);
                return ERR_USAGE;
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
        return live_bind(&m, &spec, mkdir) < 0 ? ERR_FAILED : 0;
}

const VerbSpec unbind_verb = {
        .name = "unbind",
        .func = verb_unbind,
        .args = "NAME DST",
        .summary = "Unmount a live bind (or another mount) from a running machine",
        .example = "unbind web /data",
        .options = no_options,
        .complete = COMPLETE_RUNNING,
        .rootless = true,
};

int verb_unbind(Context *ctx, int argc, char **argv) {
        OptionParser p;
        int r = only_args(&unbind_verb, argc, argv, 2, 2, &p);
        if (r != 0)
                return r;
        const char *name = p.args[0], *dst = p.args[1];
        r = check_name(name);
        if (r != 0)
                return r;
        const char *reason;
        if (bind_destination_check(dst, &reason) < 0) {
                log_error("Cannot unbind: the destination %s.", reason);
                return ERR_USAGE;
        }
        _cleanup_close_ int lock = -EBADF, pidfd = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        LiveMachine m;
        r = live_machine(ctx, name, &m, &pidfd);
        if (r != 0)
                return r;
        return live_unbind(&m, dst) < 0 ? ERR_FAILED : 0;
}
