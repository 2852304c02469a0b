/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/auth-file.c: registry credentials from a podman/docker auth file. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "auth-file.h"
#include "auth-path.h"
#include "fs.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/berth-test-auth.XXXXXX";

static char *write_auth(const char *name, const char *text) {
        char *path = xasprintf("%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
                abort();
        close(fd);
        return path;
}

static void lookup(const char *desc, const char *path, const char *registry, int want, const char *user,
                   const char *password) {
        _cleanup_free_ char *u = NULL, *p = NULL;
        int r = auth_file_lookup(path, registry, &u, &p);
        bool ok = r == want && (r < 0 || (streq_ptr(u, user) && streq_ptr(p, password)));
        if (!TEST_ASSERT(ok, "%s", desc))
                tap_diag("r=%d user=%s", r, u ?: "(none)");
}

/* The defaults for a UID no one has: /run/containers/UID is absent and
 * /root/.docker is not looked at, whatever the host has there. */
#define NOBODY_UID ((uid_t) 4000000000U)

static void defaults(const char *desc, const char *want) {
        _cleanup_free_ char *p = NULL;
        int r = auth_file_default(NOBODY_UID, &p);
        bool ok = want ? r == 0 && streq_ptr(p, want) : r == -ENOENT && !p;
        if (!TEST_ASSERT(ok, "%s", desc))
                tap_diag("r=%d path=%s", r, p ?: "(none)");
}

int main(void) {
        if (!mkdtemp(dir))
                abort();
        /* base64("tester:pw:with:colons"), base64("hub:hubpw"), base64("plain:pw") */
        _cleanup_free_ char *f = write_auth("auth.json",
                                            "{\"auths\": {"
                                            "\"reg.example:5000\": {\"auth\": \"dGVzdGVyOnB3OndpdGg6Y29sb25z\"},"
                                            "\"https://index.docker.io/v1/\": {\"auth\": \"aHViOmh1YnB3\"},"
                                            "\"https://tls.example\": {\"auth\": \"cGxhaW46cHc=\"},"
                                            "\"broken.example\": {\"auth\": \"not base64!\"},"
                                            "\"nocolon.example\": {\"auth\": \"bm9jb2xvbg==\"}"
                                            "}}");
        lookup("an entry by host:port; the password keeps its colons", f, "reg.example:5000", 0, "tester",
               "pw:with:colons");
        lookup("docker.io under docker's legacy key", f, "docker.io", 0, "hub", "hubpw");
        lookup("an entry written with https://", f, "tls.example", 0, "plain", "pw");
        lookup("no entry: -ENOENT", f, "other.example", -ENOENT, NULL, NULL);
        lookup("a port is part of the key", f, "reg.example", -ENOENT, NULL, NULL);
        lookup("bad base64 is an error", f, "broken.example", -EBADMSG, NULL, NULL);
        lookup("no ':' in the decoded text is an error", f, "nocolon.example", -EBADMSG, NULL, NULL);
        _cleanup_free_ char *missing = xasprintf("%s/missing.json", dir);
        lookup("an --authfile that does not exist is an error", missing, "reg.example:5000", -ENOENT, NULL, NULL);
        _cleanup_free_ char *bad = write_auth("bad.json", "[1, 2]");
        lookup("a file that is no JSON object is an error", bad, "reg.example:5000", -EBADMSG, NULL, NULL);

        /* The defaults: $REGISTRY_AUTH_FILE first. */
        setenv("REGISTRY_AUTH_FILE", f, 1);
        lookup("$REGISTRY_AUTH_FILE is read when no file is given", NULL, "reg.example:5000", 0, "tester",
               "pw:with:colons");
        setenv("REGISTRY_AUTH_FILE", missing, 1);
        setenv("XDG_RUNTIME_DIR", dir, 1);
        setenv("HOME", dir, 1);
        defaults("no default file: -ENOENT, quietly", NULL);
        _cleanup_free_ char *xdg = xasprintf("%s/containers", dir);
        if (mkdir(xdg, 0700) < 0)
                abort();
        _cleanup_free_ char *x = write_auth("containers/auth.json",
                                            "{\"auths\": {\"reg.example:5000\": {\"auth\": \"cGxhaW46cHc=\"}}}");
        lookup("then $XDG_RUNTIME_DIR/containers/auth.json", NULL, "reg.example:5000", 0, "plain", "pw");
        defaults("... found for a user too", x);
        /* Without it, podman's file in the config dir ($HOME/.config by default). */
        _cleanup_free_ char *cdir = xasprintf("%s/.config", dir), *ccdir = xasprintf("%s/.config/containers", dir);
        if (unlink(x) < 0 || mkdir(cdir, 0700) < 0 || mkdir(ccdir, 0700) < 0)
                abort();
        _cleanup_free_ char *c = write_auth(".config/containers/auth.json",
                                            "{\"auths\": {\"reg.example:5000\": {\"auth\": \"Y2ZnOnB3Mg==\"}}}");
        defaults("then $HOME/.config/containers/auth.json", c);
        _cleanup_free_ char *dk = xasprintf("%s/.docker", dir);
        if (unlink(c) < 0 || mkdir(dk, 0700) < 0)
                abort();
        _cleanup_free_ char *d = write_auth(".docker/config.json", "{\"auths\": {}}");
        defaults("then $HOME/.docker/config.json", d);
        if (unlink(d) < 0)
                abort();
        defaults("root's /root/.docker/config.json is no user's default", NULL);

        (void) rm_rf_at(AT_FDCWD, dir);
        return tap_finish();
}
