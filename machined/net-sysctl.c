/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "fs.h"
#include "log.h"
#include "net-internal.h"
#include "util.h"

/* ----- sysctls ----- */

static int sysctl_read(const char *key, char *buf, size_t size) {
        _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key), *text = NULL;
        int r = read_file_at(AT_FDCWD, path, 64, &text, NULL);
        if (r < 0)
                return r;
        text[strcspn(text, "\n")] = 0;
        snprintf(buf, size, "%s", text);
        return 0;
}

int sysctl_write(const char *key, const char *value) {
        _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
        return write_string_at(AT_FDCWD, path, value);
}

/* Writing a family's global forwarding switch (net.ipv4.ip_forward,
 * net.ipv6.conf.all.forwarding) sets every interface's and the default's
 * too.  Record (for forwarding_restore(), after the global line) those
 * that forwarded already, so that switching the family back off does not
 * turn off forwarding the host had set per interface. */
static void forwarding_save_interfaces(char **saved, const char *family) {
        _cleanup_free_ char *dir = xasprintf("/proc/sys/net/%s/conf", family);
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.' || streq(de->d_name, "all") || path_has_dotdot(de->d_name))
                        continue;
                _cleanup_free_ char *key = xasprintf("net/%s/conf/%s/forwarding", family, de->d_name);
                char v[16];
                if (sysctl_read(key, v, sizeof v) >= 0 && streq(v, "1"))
                        strextendf(saved, "%s=1\n", key);
        }
}

/* Forwarding is on while any berth bridge has machines.  Where berth turned
 * it on, per address family, it remembers the old values (NSDIR/sysctl) to
 * restore them, and the forward chain drops that family's traffic when it
 * does not involve a berth bridge, so the host forwards nothing it did not
 * before.  A family the host forwarded already is left alone. */
int forwarding_enable(int nsfd) {
        if (faccessat(nsfd, "sysctl", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        char v4[16], v6[16];
        int r = sysctl_read("net/ipv4/ip_forward", v4, sizeof v4);
        if (r < 0)
                return log_error_errno(r, "Cannot read net.ipv4.ip_forward: %m");
        bool have6 = sysctl_read("net/ipv6/conf/all/forwarding", v6, sizeof v6) >= 0;
        bool set4 = !streq(v4, "1"), set6 = have6 && !streq(v6, "1");

        _cleanup_free_ char *saved = xstrdup("");
        if (set4) {
                strextendf(&saved, "net/ipv4/ip_forward=%s\n", v4);
                forwarding_save_interfaces(&saved, "ipv4");
        }
        if (set6) {
                strextendf(&saved, "net/ipv6/conf/all/forwarding=%s\n", v6);
                forwarding_save_interfaces(&saved, "ipv6");
                /* An interface stops taking router advertisements once
                 * forwarding is on, unless accept_ra is 2: keep the host's
                 * own SLAAC addresses working.  Never for berth's bridges
                 * (accept_ra 0 from birth) and veths: guests send RAs there. */
                _cleanup_closedir_ DIR *d = opendir("/proc/sys/net/ipv6/conf");
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (de->d_name[0] == '.' || streq(de->d_name, "all") || streq(de->d_name, "default") ||
                            startswith(de->d_name, "vb-") || path_has_dotdot(de->d_name))
                                continue;
                        _cleanup_free_ char *key = xasprintf("net/ipv6/conf/%s/accept_ra", de->d_name);
                        char ra[16];
                        if (sysctl_read(key, ra, sizeof ra) >= 0 && streq(ra, "1") &&
                            sysctl_write(key, "2") >= 0)
                                strextendf(&saved, "%s=1\n", key);
                }
        }
        /* Written even when empty: "decided, nothing of ours to restore". */
        r = write_file_atomic_at(nsfd, "sysctl", saved, strlen(saved), 0600);
        if (r < 0)
                return log_error_errno(r, "Cannot record the forwarding settings: %m");
        if (set4 && (r = sysctl_write("net/ipv4/ip_forward", "1")) < 0)
                return log_error_errno(r, "Cannot enable IPv4 forwarding: %m");
        if (set6 && (r = sysctl_write("net/ipv6/conf/all/forwarding", "1")) < 0)
                return log_error_errno(r, "Cannot enable IPv6 forwarding: %m");
        return 0;
}

/* Which families berth turned forwarding on for. */
void forwarding_owned(int nsfd, bool *ret4, bool *ret6) {
        _cleanup_free_ char *saved = NULL;
        *ret4 = *ret6 = false;
        if (read_file_at(nsfd, "sysctl", 64 * 1024, &saved, NULL) < 0)
                return;
        *ret4 = strstr(saved, "net/ipv4/ip_forward=") != NULL;
        *ret6 = strstr(saved, "net/ipv6/conf/all/forwarding=") != NULL;
}

void forwarding_restore(int nsfd) {
        _cleanup_free_ char *saved = NULL;
        if (read_file_at(nsfd, "sysctl", 64 * 1024, &saved, NULL) < 0)
                return;
        char *save = NULL;
        for (char *line = strtok_r(saved, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                if (!eq || path_has_dotdot(line))
                        continue;
                *eq = 0;
                /* Interfaces may have gone meanwhile: best effort. */
                (void) sysctl_write(line, eq + 1);
        }
        (void) unlinkat(nsfd, "sysctl", 0);
}
