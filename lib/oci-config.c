/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "fs.h"
#include "log.h"
#include "oci-internal.h"
#include "util.h"

static const char *const default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* Where an init is found in the images that have one. */
static const char *const init_paths[] = {
        "/sbin/init", "/usr/sbin/init", "/lib/systemd/systemd", "/usr/lib/systemd/systemd", "/init", "/usr/bin/init",
};

/* ----- Image config to machine config ----- */

void image_exec_done(ImageExec *e) {
        strv_free(e->args);
        strv_free(e->env);
        free(e->cwd);
        free(e->user);
        free(e->stop_signal);
        free(e->hostname);
        free(e->ports);
}

static bool executable_in_root(int rootfd, const char *path) {
        _cleanup_close_ int fd = chase_in_root(rootfd, path, 0, O_PATH, 0);
        struct stat st;
        return fd >= 0 && fstat(fd, &st) >= 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* Find a relative command in the image's PATH, inside the image. */
static char *resolve_command(int rootfd, const char *cmd, char **env) {
        if (cmd[0] == '/')
                return xstrdup(cmd);
        if (strchr(cmd, '/'))
                return xasprintf("/%s", cmd); /* relative to the working directory: "/" is our guess */
        const char *path = default_path;
        for (char **e = env; e && *e; e++)
                if (startswith(*e, "PATH="))
                        path = *e + 5;
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                if (dir[0] != '/')
                        continue;
                char *c = xasprintf("%s/%s", dir, cmd);
                if (executable_in_root(rootfd, c))
                        return c;
                free(c);
        }
        return NULL;
}

static bool is_init_path(const char *p) {
        for (size_t i = 0; i < ELEMENTSOF(init_paths); i++)
                if (streq(p, init_paths[i]))
                        return true;
        return false;
}

/* Set KEY=VALUE in C the way --set would, so the same validation applies. */
static int set_key(MachineConfig *c, const char *key, const char *value, bool required) {
        _cleanup_free_ char *a = xasprintf("%s=%s", key, value), *err = NULL;
        int r = machine_config_set_from_cli(c, a, &err);
        if (r < 0) {
                if (required)
                        return log_error_errno(r, "The image's %s cannot be used: %s", key, err ?: "invalid");
                log_warning("Ignoring the image's %s: %s", key, err ?: "invalid");
        }
        return 0;
}

int exec_to_config(int rootfd, const ImageExec *ie, ImportBoot boot, MachineConfig *c, const char **ret_mode) {
        _cleanup_free_ char *argv0 = NULL;
        if (ie->args && ie->args[0]) {
                argv0 = resolve_command(rootfd, ie->args[0], ie->env);
                if (!argv0)
                        log_warning("The image's command '%s' is not found in its PATH.", ie->args[0]);
        }
        bool has_init = false;
        for (size_t i = 0; i < ELEMENTSOF(init_paths) && !has_init; i++)
                has_init = executable_in_root(rootfd, init_paths[i]);

        bool booting;
        if (boot == IMPORT_BOOT_YES)
                booting = true;
        else if (boot == IMPORT_BOOT_NO)
                booting = false;
        else
                booting = argv0 ? is_init_path(argv0) : has_init;
        *ret_mode = booting ? "boot" : "app";

        int r;
        if (booting) {
                /* The image's own init, if its command names one. */
                if (argv0 && is_init_path(argv0) && !streq(argv0, "/sbin/init")) {
                        r = set_key(c, "Machine.Init", argv0, true);
                        if (r < 0)
                                return r;
                }
                r = set_key(c, "Machine.Boot", "yes", true);
        } else {
                if (!argv0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "The image has no command to run (no Entrypoint or Cmd) and no "
                                               "init to boot; import it with --boot=yes if it has an init elsewhere.");
                char **argv = strv_append(NULL, argv0);
                for (char **a = ie->args + 1; *a; a++)
                        argv = strv_append(argv, *a);
                _cleanup_free_ char *words = config_words_format(argv);
                strv_free(argv);
                r = set_key(c, "Machine.Boot", "no", true);
                if (r >= 0)
                        r = set_key(c, "Exec.Command", words, true);
        }
        if (r < 0)
                return r;

        /* The rest is what the program expects; a bad value is dropped with a warning. */
        for (char **e = ie->env; e && *e; e++) {
                char *const one[] = { *e, NULL };
                _cleanup_free_ char *w = config_words_format(one);
                (void) set_key(c, "Exec.Environment", w, false);
        }
        if (!isempty(ie->cwd))
                (void) set_key(c, "Exec.WorkingDirectory", ie->cwd, false);
        if (!isempty(ie->user))
                (void) set_key(c, "Exec.User", ie->user, false);
        if (!isempty(ie->stop_signal))
                (void) set_key(c, "Machine.PoweroffSignal", ie->stop_signal, false);
        if (!isempty(ie->hostname))
                (void) set_key(c, "Machine.Hostname", ie->hostname, false);
        return 0;
}

/* "80/tcp": digits, a slash, a protocol in lowercase letters. */
static bool port_valid(const char *p) {
        size_t digits = strspn(p, "0123456789");
        if (digits == 0 || digits > 5)
                return false;
        if (!p[digits])
                return true;
        if (p[digits] != '/')
                return false;
        const char *proto = p + digits + 1;
        return *proto && strspn(proto, "abcdefghijklmnopqrstuvwxyz") == strlen(proto) && strlen(proto) <= 8;
}

int image_exec_from_config(json_object *image_config, ImageExec *ret) {
        json_object *c = jget(image_config, "config", json_type_object);
        ImageExec ie = {};
        _cleanup_strv_free_ char **entrypoint = NULL, **cmd = NULL;
        if (jstrv(c, "Entrypoint", &entrypoint) < 0 || jstrv(c, "Cmd", &cmd) < 0 || jstrv(c, "Env", &ie.env) < 0) {
                image_exec_done(&ie);
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "The image config's Entrypoint, Cmd or Env is not a list of strings.");
        }
        for (char **a = entrypoint; a && *a; a++)
                ie.args = strv_append(ie.args, *a);
        for (char **a = cmd; a && *a; a++)
                ie.args = strv_append(ie.args, *a);
        ie.cwd = strdup_or_null(jstr(c, "WorkingDir"));
        ie.user = strdup_or_null(jstr(c, "User"));
        ie.stop_signal = strdup_or_null(jstr(c, "StopSignal"));
        ie.hostname = strdup_or_null(jstr(c, "Hostname"));
        json_object *ports = jget(c, "ExposedPorts", json_type_object);
        if (ports) {
                json_object_object_foreach(ports, key, val) {
                        (void) val;
                        if (!port_valid(key)) {
                                log_warning("Ignoring an exposed port that is not PORT/PROTO.");
                                continue;
                        }
                        char *n = xasprintf("%s%s%s", ie.ports ?: "", ie.ports ? " " : "", key);
                        free(ie.ports);
                        ie.ports = n;
                }
        }
        *ret = ie;
        return 0;
}
