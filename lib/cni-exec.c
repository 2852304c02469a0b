/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running CNI plugins: one process per plugin and command, as the spec has
 * it, with nothing of ours but its three pipes, a deadline and a bound on
 * what it may print. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "cni.h"
#include "fs.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

#define CNI_STDERR_MAX (64 * 1024)

static json_object *jget_string(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? v : NULL;
}
#define CNI_CACHE_MAX (4 * CNI_JSON_MAX)

int cni_plugin_find(char *const *dirs, const char *type, char **ret_path) {
        if (!cni_plugin_type_is_valid(type))
                return -EINVAL;
        for (char *const *d = dirs; d && *d; d++) {
                _cleanup_free_ char *path = xasprintf("%s/%s", *d, type);
                struct stat st;
                /* The dirs are the admin's: a symlink in them (to a packaged
                 * binary) is fine, but it must end at an executable file. */
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0)
                        continue;
                *ret_path = TAKE_PTR(path);
                return 0;
        }
        return -ENOENT;
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Append what FD has to *BUF (up to MAX bytes; more is read and dropped).
 * Returns 1 at EOF, 0 otherwise. */
static int drain(int fd, char **buf, size_t *len, size_t max) {
        for (;;) {
                char chunk[4096];
                ssize_t n = read(fd, chunk, sizeof chunk);
                if (n == 0)
                        return 1;
                if (n < 0)
                        return errno == EINTR ? 0 : errno == EAGAIN ? 0 : 1;
                size_t take = *len >= max ? 0 : (size_t) n < max - *len ? (size_t) n : max - *len;
                if (take > 0) {
                        char *nb = realloc(*buf, *len + take + 1);
                        if (!nb)
                                abort();
                        *buf = nb;
                        memcpy(*buf + *len, chunk, take);
                        *len += take;
                        (*buf)[*len] = 0;
                }
        }
}

_noreturn_ static void plugin_child(const char *path, char **env, int in, int out, int err) {
        /* Nothing of ours may outlive us, nor may the plugin keep our locks
         * or sockets: only its stdio. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        sigset_t none;
        sigemptyset(&none);
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
                _exit(127);
        if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
                _exit(127);
        char *argv[] = { (char *) path, NULL };
        execve(path, argv, env);
        fprintf(stderr, "cannot execute %s: %m\n", path);
        _exit(127);
}

typedef struct PluginOutput {
        char *out;
        size_t out_len;
        char *err;
        size_t err_len;
        int status;      /* exit status, or 128 + signal */
        bool timed_out;
} PluginOutput;

static void plugin_output_done(PluginOutput *o) {
        free(o->out);
        free(o->err);
}

/* Run PATH with ENV and INPUT on stdin, for at most TIMEOUT_SEC. */
static int plugin_run(const char *path, char **env, const char *input, unsigned timeout_sec, PluginOutput *ret) {
        int in[2], out[2], err[2];
        if (pipe2(in, O_CLOEXEC) < 0)
                return -errno;
        _cleanup_close_ int in_r = in[0], in_w = in[1];
        if (pipe2(out, O_CLOEXEC) < 0)
                return -errno;
        _cleanup_close_ int out_r = out[0], out_w = out[1];
        if (pipe2(err, O_CLOEXEC) < 0)
                return -errno;
        _cleanup_close_ int err_r = err[0], err_w = err[1];

        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                plugin_child(path, env, in_r, out_w, err_w);
        closep(&in_r);
        closep(&out_w);
        closep(&err_w);
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
                int r = -errno;
                (void) kill(pid, SIGKILL);
                (void) wait_child(pid);
                return r;
        }
        (void) fcntl(in_w, F_SETFL, O_NONBLOCK);
        (void) fcntl(out_r, F_SETFL, O_NONBLOCK);
        (void) fcntl(err_r, F_SETFL, O_NONBLOCK);

        /* A plugin that exits without reading its stdin must not kill us
         * with SIGPIPE (berth itself does not ignore it): EPIPE will do. */
        struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe;
        (void) sigaction(SIGPIPE, &ign, &old_pipe);

        PluginOutput o = {};
        size_t in_len = strlen(input), in_off = 0;
        if (in_len == 0)
                closep(&in_w);
        bool exited = false;
        uint64_t deadline = now_ms() + (uint64_t) timeout_sec * 1000;
        /* Until the plugin has exited and its pipes are at EOF; a daemon it
         * left holding them is not waited for past the exit. */
        while (!exited || out_r >= 0 || err_r >= 0) {
                uint64_t now = now_ms();
                if (now >= deadline) {
                        o.timed_out = true;
                        break;
                }
                struct pollfd p[4] = {
                        { .fd = pidfd, .events = POLLIN },
                        { .fd = in_w, .events = POLLOUT },
                        { .fd = out_r, .events = POLLIN },
                        { .fd = err_r, .events = POLLIN },
                };
                if (exited)
                        p[0].fd = -1;
                int timeout = exited ? 0 : (int) (deadline - now);
                int n = poll(p, 4, timeout);
                if (n < 0 && errno != EINTR) {
                        o.timed_out = true; /* cannot wait for it: end it like a hung one */
                        break;
                }
                if (n == 0 && exited)
                        break;
                if (p[1].revents) {
                        ssize_t w = write(in_w, input + in_off, in_len - in_off);
                        if (w > 0)
                                in_off += (size_t) w;
                        if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len)
                                closep(&in_w); /* EOF: the plugin has all of it */
                }
                if (p[2].revents && drain(out_r, &o.out, &o.out_len, CNI_JSON_MAX))
                        closep(&out_r);
                if (p[3].revents && drain(err_r, &o.err, &o.err_len, CNI_STDERR_MAX))
                        closep(&err_r);
                if (p[0].revents)
                        exited = true;
        }
        if (o.timed_out)
                (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        else {
                /* What it wrote just before exiting. */
                if (out_r >= 0)
                        (void) drain(out_r, &o.out, &o.out_len, CNI_JSON_MAX);
                if (err_r >= 0)
                        (void) drain(err_r, &o.err, &o.err_len, CNI_STDERR_MAX);
        }
        (void) sigaction(SIGPIPE, &old_pipe, NULL);
        siginfo_t si = {};
        while (waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED) < 0 && errno == EINTR)
                ;
        o.status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        *ret = o;
        return 0;
}

/* Why a plugin failed, from what it said: the CNI error object on stdout,
 * else the end of its stderr, else its exit status. */
static char *plugin_failure(const PluginOutput *o, unsigned timeout_sec) {
        if (o->timed_out)
                return xasprintf("did not finish within %us and was killed ([Network] CNITimeoutSec=)", timeout_sec);
        json_object *e = NULL;
        _cleanup_free_ char *perr = NULL;
        if (o->out && cni_json_parse(o->out, o->out_len, &e, &perr) >= 0) {
                json_object *code = NULL, *msg = NULL, *details = NULL;
                json_object_object_get_ex(e, "code", &code);
                json_object_object_get_ex(e, "msg", &msg);
                json_object_object_get_ex(e, "details", &details);
                _cleanup_free_ char *m = strdup_printable(msg ? json_object_get_string(msg) : NULL);
                _cleanup_free_ char *d = details ? strdup_printable(json_object_get_string(details)) : NULL;
                char *s = xasprintf("error %d: %s%s%s%s", code ? json_object_get_int(code) : 0, m, d ? " (" : "",
                                    d ?: "", d ? ")" : "");
                json_object_put(e);
                return s;
        }
        if (o->err && o->err_len > 0) {
                /* The last line: a Go plugin's panic or a script's error. */
                _cleanup_free_ char *copy = xstrdup(o->err);
                size_t l = strlen(copy);
                while (l > 0 && (copy[l - 1] == '\n' || copy[l - 1] == ' '))
                        copy[--l] = 0;
                char *last = strrchr(copy, '\n');
                last = last ? last + 1 : copy;
                if (strlen(last) > 300)
                        last[300] = 0;
                _cleanup_free_ char *shown = strdup_printable(last);
                if (o->status > 128)
                        return xasprintf("killed by signal %d: %s", o->status - 128, shown);
                return xasprintf("exit status %d: %s", o->status, shown);
        }
        if (o->status > 128)
                return xasprintf("killed by signal %d", o->status - 128);
        return xasprintf("exit status %d without an error message", o->status);
}

/* Run plugin I of NET for COMMAND; on ADD, *RET_RESULT gets its result. */
static int plugin_exec(const CniNetwork *net, size_t i, CniCommand command, const CniRuntime *rt,
                       json_object *prev_result, json_object **ret_result, char **ret_error) {
        const char *type = cni_plugin_type(net, i);
        _cleanup_free_ char *path = NULL;
        int r = cni_plugin_find(rt->plugin_dirs, type, &path);
        if (r < 0) {
                _cleanup_free_ char *dirs = NULL;
                for (char **d = rt->plugin_dirs; d && *d; d++)
                        strextendf(&dirs, "%s%s", dirs ? ", " : "", *d);
                *ret_error = xasprintf("CNI network %s: plugin %s: no executable %s in %s; install it (Debian: "
                                       "containernetworking-plugins) or set [Network] CNIPluginDirectory=",
                                       net->name, type, type, dirs ?: "(no directory)");
                return -ENOENT;
        }
        _cleanup_strv_free_ char **env = cni_env_build(command, rt);
        _cleanup_free_ char *input = cni_plugin_stdin(net, i, prev_result, rt);
        PluginOutput o = {};
        r = plugin_run(path, env, input, rt->timeout_sec, &o);
        if (r < 0) {
                *ret_error = xasprintf("CNI network %s: plugin %s (%s): cannot run it: %s", net->name, type, path,
                                       strerror(-r));
                return r;
        }
        if (o.timed_out || o.status != 0) {
                _cleanup_free_ char *why = plugin_failure(&o, rt->timeout_sec);
                *ret_error = xasprintf("CNI network %s: plugin %s (%s): %s failed: %s", net->name, type, path,
                                       cni_command_to_string(command), why);
                r = o.timed_out ? -ETIME : -EIO;
                plugin_output_done(&o);
                return r;
        }
        if (command == CNI_ADD) {
                json_object *res = NULL;
                _cleanup_free_ char *perr = NULL;
                CniResult parsed = {};
                r = cni_json_parse(o.out ?: "", o.out_len, &res, &perr);
                if (r >= 0) {
                        r = cni_result_from_json(res, &parsed, &perr);
                        cni_result_done(&parsed);
                        if (r < 0)
                                json_object_put(res);
                }
                if (r < 0) {
                        *ret_error = xasprintf("CNI network %s: plugin %s (%s): ADD returned a malformed result: %s",
                                               net->name, type, path, perr);
                        plugin_output_done(&o);
                        return -EBADMSG;
                }
                *ret_result = res;
        }
        plugin_output_done(&o);
        return 0;
}

int cni_del(const CniNetwork *net, const CniRuntime *rt, json_object *prev_result, char **ret_error) {
        int ret = 0;
        char *first = NULL;
        for (size_t i = net->n_plugins; i-- > 0;) {
                _cleanup_free_ char *err = NULL;
                int r = plugin_exec(net, i, CNI_DEL, rt, prev_result, NULL, &err);
                if (r < 0 && ret == 0) {
                        ret = r;
                        first = TAKE_PTR(err);
                } else if (r < 0)
                        log_warning("%s.", err);
        }
        if (ret < 0)
                *ret_error = first;
        return ret;
}

int cni_add(const CniNetwork *net, const CniRuntime *rt, json_object **ret_result, char **ret_error) {
        _cleanup_json_ json_object *prev = NULL;
        for (size_t i = 0; i < net->n_plugins; i++) {
                json_object *res = NULL;
                int r = plugin_exec(net, i, CNI_ADD, rt, prev, &res, ret_error);
                if (r < 0) {
                        /* Undo the whole list, as the spec asks: plugins
                         * tolerate a DEL of what they never added. */
                        _cleanup_free_ char *derr = NULL;
                        if (cni_del(net, rt, prev, &derr) < 0)
                                log_warning("Undoing the failed ADD: %s.", derr);
                        return r;
                }
                if (prev)
                        json_object_put(prev);
                prev = res;
        }
        *ret_result = TAKE_PTR(prev);
        return 0;
}

int cni_check(const CniNetwork *net, const CniRuntime *rt, json_object *prev_result, char **ret_error) {
        if (!streq(net->version, "1.0.0") && !streq(net->version, "0.4.0")) {
                *ret_error = xasprintf("CNI network %s: cniVersion %s has no CHECK (0.4.0 and later)", net->name,
                                       net->version);
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < net->n_plugins; i++) {
                int r = plugin_exec(net, i, CNI_CHECK, rt, prev_result, NULL, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ----- The cache ----- */

int cni_cache_write(int dirfd, const CniNetwork *net, const CniRuntime *rt, json_object *result) {
        _cleanup_json_ json_object *c = json_object_new_object();
        json_object_object_add(c, "network", json_object_get(net->config));
        json_object_object_add(c, "path", json_object_new_string(net->path));
        json_object_object_add(c, "containerId", json_object_new_string(rt->container_id));
        json_object_object_add(c, "ifName", json_object_new_string(rt->ifname));
        /* The path ADD got: CHECK must give the same (plugins compare it). */
        json_object_object_add(c, "netns", rt->netns ? json_object_new_string(rt->netns) : NULL);
        json_object *dirs = json_object_new_array();
        for (char **d = rt->plugin_dirs; d && *d; d++)
                json_object_array_add(dirs, json_object_new_string(*d));
        json_object_object_add(c, "pluginDirs", dirs);
        json_object_object_add(c, "timeoutSec", json_object_new_int((int) rt->timeout_sec));
        json_object *ports = json_object_new_array();
        for (size_t i = 0; i < rt->n_ports; i++) {
                char buf[16];
                json_object_array_add(ports, json_object_new_string(port_forward_format(&rt->ports[i], buf)));
        }
        json_object_object_add(c, "ports", ports);
        json_object_object_add(c, "result", result ? json_object_get(result) : NULL);
        const char *text = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        return write_file_atomic_at(dirfd, CNI_CACHE_FILE, text, strlen(text), 0600);
}

int cni_cache_read(int dirfd, CniNetwork *ret_net, CniRuntime *ret_rt, json_object **ret_result, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_file_at(dirfd, CNI_CACHE_FILE, CNI_CACHE_MAX, &text, &len);
        if (r < 0) {
                *ret_error = xasprintf("cannot read " CNI_CACHE_FILE ": %s", strerror(-r));
                return r;
        }
        _cleanup_json_ json_object *c = NULL;
        r = cni_json_parse(text, len, &c, ret_error);
        if (r < 0)
                return r;
        json_object *net = NULL, *path = NULL, *id = NULL, *ifn = NULL, *dirs = NULL, *to = NULL, *ports = NULL,
                    *res = NULL;
        json_object_object_get_ex(c, "network", &net);
        json_object_object_get_ex(c, "path", &path);
        json_object_object_get_ex(c, "containerId", &id);
        json_object_object_get_ex(c, "ifName", &ifn);
        json_object_object_get_ex(c, "pluginDirs", &dirs);
        json_object_object_get_ex(c, "timeoutSec", &to);
        json_object_object_get_ex(c, "ports", &ports);
        json_object_object_get_ex(c, "result", &res);
        json_object *ns = jget_string(c, "netns");
        if (!json_object_is_type(net, json_type_object) || !json_object_is_type(id, json_type_string) ||
            !json_object_is_type(ifn, json_type_string) || !json_object_is_type(dirs, json_type_array) ||
            !json_object_is_type(ports, json_type_array) || (res && !json_object_is_type(res, json_type_object))) {
                *ret_error = xstrdup(CNI_CACHE_FILE " lacks fields berth writes");
                return -EBADMSG;
        }
        CniRuntime rt = {
                .container_id = xstrdup(json_object_get_string(id)),
                .ifname = xstrdup(json_object_get_string(ifn)),
                .netns = ns ? xstrdup(json_object_get_string(ns)) : NULL,
                .timeout_sec = to ? (unsigned) json_object_get_int(to) : CNI_DEFAULT_TIMEOUT_SEC,
        };
        if (rt.timeout_sec == 0)
                rt.timeout_sec = CNI_DEFAULT_TIMEOUT_SEC;
        for (size_t i = 0; i < json_object_array_length(dirs); i++) {
                const char *d = json_object_get_string(json_object_array_get_idx(dirs, i));
                if (d && d[0] == '/')
                        rt.plugin_dirs = strv_append(rt.plugin_dirs, d);
        }
        size_t n = json_object_array_length(ports);
        if (n > 0)
                rt.ports = xcalloc(n, sizeof *rt.ports);
        for (size_t i = 0; i < n; i++) {
                const char *reason;
                if (port_forward_parse(json_object_get_string(json_object_array_get_idx(ports, i)),
                                       &rt.ports[rt.n_ports], &reason) >= 0)
                        rt.n_ports++;
        }
        CniNetwork cn;
        r = cni_network_from_json(json_object_get(net), path ? json_object_get_string(path) : CNI_CACHE_FILE, &cn,
                                  ret_error);
        if (r < 0) {
                cni_runtime_done(&rt);
                return r;
        }
        *ret_net = cn;
        *ret_rt = rt;
        *ret_result = res ? json_object_get(res) : NULL;
        return 0;
}

int cni_cache_cleanup(int dirfd, const char *machine) {
        if (faccessat(dirfd, CNI_CACHE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_(cni_network_done) CniNetwork net = CNI_NETWORK_INIT;
        _cleanup_(cni_runtime_done) CniRuntime rt = {};
        _cleanup_json_ json_object *result = NULL;
        _cleanup_free_ char *err = NULL;
        int r = cni_cache_read(dirfd, &net, &rt, &result, &err);
        if (r >= 0) {
                /* The machine's network namespace died with it. */
                free(rt.netns);
                rt.netns = NULL;
                free(TAKE_PTR(err));
                r = cni_del(&net, &rt, result, &err);
        }
        (void) unlinkat(dirfd, CNI_CACHE_FILE, 0);
        if (r < 0)
                return log_warning_errno(r, "Machine %s: cannot remove its attachment to its CNI network: %s.",
                                         machine, err);
        log_debug("Machine %s: removed the CNI attachment of a supervisor that died.", machine);
        return 1;
}
