/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fs.h"
#include "kv.h"
#include "log.h"
#include "net-internal.h"
#include "util.h"

#define ENTRY_MAX 4096

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* ----- One running machine on a bridge: BRIDGE/machines/ID ----- */

char *entry_format(const Entry *e) {
        char a[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
        char *s = xasprintf("NAME=%s\nPID=%d\nADDRESS=%s\nADDRESS6=%s\n"
                            "MAC=%02x:%02x:%02x:%02x:%02x:%02x\nVETH=%s\nFILTER=%s\nPORTS=",
                            e->name, (int) e->pid, ipaddr_format(&e->addr, a),
                            ipaddr_format(&e->addr6, a6), e->mac[0], e->mac[1], e->mac[2], e->mac[3], e->mac[4],
                            e->mac[5], e->veth, e->filter ? "yes" : "no");
        for (size_t i = 0; i < e->n_ports; i++) {
                char buf[16];
                strextendf(&s, "%s%s", i ? " " : "", port_forward_format(&e->ports[i], buf));
        }
        strextendf(&s, "\n");
        return s;
}

/* Files here are written by supervisors (root) only; still, parse strictly. */
static int entry_parse(const char *id, const KeyValues *kv, Entry *ret) {
        /* An entry without FILTER= (an older supervisor's) is filtered. */
        Entry e = { .filter = true };
        if (strlen(id) >= sizeof e.id)
                return -EBADMSG;
        memcpy(e.id, id, strlen(id) + 1);
        for (size_t i = 0; i < kv->n; i++) {
                const char *k = kv->keys[i], *v = kv->values[i];
                int r = 0;
                if (streq(k, "NAME"))
                        snprintf(e.name, sizeof e.name, "%s", v);
                else if (streq(k, "PID"))
                        r = safe_atoi(v, &e.pid);
                else if (streq(k, "ADDRESS"))
                        r = ipaddr_parse(v, &e.addr);
                else if (streq(k, "ADDRESS6"))
                        r = ipaddr_parse(v, &e.addr6);
                else if (streq(k, "MAC"))
                        r = sscanf(v, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx", &e.mac[0], &e.mac[1], &e.mac[2],
                                   &e.mac[3], &e.mac[4], &e.mac[5]) == 6 ? 0 : -EBADMSG;
                else if (streq(k, "VETH")) {
                        if (strlen(v) >= sizeof e.veth)
                                return -EBADMSG;
                        memcpy(e.veth, v, strlen(v) + 1);
                } else if (streq(k, "FILTER")) {
                        if (!streq(v, "yes") && !streq(v, "no"))
                                return -EBADMSG;
                        e.filter = streq(v, "yes");
                } else if (streq(k, "PORTS")) {
                        _cleanup_free_ char *copy = xstrdup(v);
                        char *s2 = NULL;
                        for (char *w = strtok_r(copy, " ", &s2); w && r == 0; w = strtok_r(NULL, " ", &s2)) {
                                const char *reason;
                                if (e.n_ports >= CONFIG_PORTS_MAX)
                                        r = -EBADMSG;
                                else
                                        r = port_forward_parse(w, &e.ports[e.n_ports++], &reason);
                        }
                }
                if (r < 0)
                        return -EBADMSG;
        }
        *ret = e;
        return 0;
}

/* A supervisor holds an exclusive lock on its entry for as long as it
 * lives (the kernel drops it however it dies, zombie or not): an entry we
 * can lock is stale. */
static bool entry_alive_at(int mfd, const char *id) {
        _cleanup_close_ int fd = openat(mfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return false;
        return flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

bool entry_alive(int brfd, const char *id) {
        _cleanup_close_ int mfd = open_dir_nofollow(brfd, "machines");
        return mfd >= 0 && entry_alive_at(mfd, id);
}

static int entry_read_at(int mfd, const char *id, Entry *ret) {
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(mfd, id, ENTRY_MAX, &kv);
        return r < 0 ? r : entry_parse(id, &kv, ret);
}

int entry_read(int brfd, const char *id, Entry *ret) {
        _cleanup_close_ int mfd = open_dir_nofollow(brfd, "machines");
        return mfd < 0 ? mfd : entry_read_at(mfd, id, ret);
}

size_t entries_count(int brfd, const char *skip_id, size_t max) {
        _cleanup_close_ int mfd = open_dir_nofollow(brfd, "machines");
        _cleanup_closedir_ DIR *d = NULL;
        if (mfd < 0 || opendir_dup(mfd, &d) < 0)
                return 0;
        size_t n = 0;
        struct dirent *de;
        while (n < max && (de = readdir(d)))
                n += de->d_name[0] != '.' && !(skip_id && streq(de->d_name, skip_id));
        return n;
}

int entries_load(int brfd, Entry **ret, size_t *ret_n, bool *ret_dropped) {
        *ret = NULL;
        *ret_n = 0;
        if (ret_dropped)
                *ret_dropped = false;
        _cleanup_close_ int mfd = open_dir_nofollow(brfd, "machines");
        if (mfd == -ENOENT)
                return 0;
        if (mfd < 0)
                return mfd;
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(mfd, &d);
        if (r < 0)
                return r;
        Entry *list = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue; /* ".", "..", and write_file_atomic_at()'s .ID.new */
                Entry e;
                if (!entry_alive_at(mfd, de->d_name) || entry_read_at(mfd, de->d_name, &e) < 0) {
                        log_debug("Dropping stale network entry %s.", de->d_name);
                        (void) unlinkat(mfd, de->d_name, 0);
                        if (ret_dropped)
                                *ret_dropped = true;
                        continue;
                }
                list = realloc(list, (n + 1) * sizeof *list);
                if (!list)
                        abort();
                list[n++] = e;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

/* ----- The namespace's state dir ----- */

int netns_cookie(uint64_t *ret) {
        _cleanup_close_ int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -errno;
        socklen_t l = sizeof *ret;
        return RET_NERRNO(getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, ret, &l));
}

/* Open and lock (flock on the directory itself) this namespace's state
 * dir.  The last sync removes the dir when nothing is left in it, so a
 * waiter may get the lock of a removed dir: it sees no links and retries.
 * Returns the locked dir fd; -ENOENT when !CREATE and there is none. */
int ns_dir_lock(char **ret_path, bool create) {
        uint64_t cookie;
        int r = netns_cookie(&cookie);
        if (r < 0)
                return log_error_errno(r, "Cannot identify the network namespace (SO_NETNS_COOKIE): %m");
        /* Searchable: dnsmasq reaches its own dir below (DNSMASQ_RUN_DIR). */
        if (create && mkdir(NETWORK_RUN_DIR, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create %s: %m", NETWORK_RUN_DIR);
        _cleanup_free_ char *path = xasprintf(NETWORK_RUN_DIR "/%" PRIu64, cookie);
        for (;;) {
                /* Root only: names, addresses, MACs and pids of machines. */
                if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", path);
                _cleanup_close_ int fd = open_dir_nofollow(AT_FDCWD, path);
                if (fd == -ENOENT && !create)
                        return fd;
                if (fd == -ENOENT)
                        continue; /* removed between mkdir and open */
                if (fd < 0)
                        return log_error_errno(fd, "Cannot open %s: %m", path);
                while (flock(fd, LOCK_EX) < 0)
                        if (errno != EINTR)
                                return log_error_errno(errno, "Cannot lock %s: %m", path);
                struct stat st;
                if (fstat(fd, &st) < 0)
                        return log_error_errno(errno, "Cannot inspect %s: %m", path);
                if (st.st_nlink == 0) {
                        if (!create)
                                return -ENOENT;
                        continue;
                }
                /* Made world-readable by berth versions before 0700. */
                if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
                        return log_error_errno(errno, "Cannot make %s private: %m", path);
                if (ret_path)
                        *ret_path = TAKE_PTR(path);
                return TAKE_FD(fd);
        }
}
