/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "net-internal.h"
#include "util.h"

/* ----- Claims: who holds a veth name, a host port, an address ----- *
 *
 * NS/@claims/KEY is a symlink (never followed: its target is only text)
 * to "BRIDGE/ID", the entry of the machine that holds KEY.  A start asks
 * for exactly what it wants (its address, its ports, its veth's name) and
 * reads one link each, instead of every running machine's entry: what a
 * start costs does not grow with the fleet.  Claims are written with the
 * entry and dropped with it; one whose machine's supervisor died is found
 * when its key is wanted again (network.c reclaims that machine then), and
 * network_sync() rewrites them all from the live entries.  '@' is no
 * interface name's, so the dir is never taken for a bridge's. */

#define CLAIMS_DIR "@claims"

static bool addr_is_set(const IPAddr *a) {
        for (size_t i = 0; i < sizeof a->bytes; i++)
                if (a->bytes[i])
                        return true;
        return false;
}

size_t claim_keys(const Entry *e, char ret[static CLAIMS_MAX][CLAIM_KEY_MAX]) {
        size_t n = 0;
        if (*e->veth)
                snprintf(ret[n++], CLAIM_KEY_MAX, "veth:%s", e->veth);
        /* An external bridge's machine has no address of berth's. */
        if (addr_is_set(&e->addr)) {
                char a[INET6_ADDRSTRLEN];
                snprintf(ret[n++], CLAIM_KEY_MAX, "ip:%s", ipaddr_format(&e->addr, a));
        }
        for (size_t i = 0; i < e->n_ports; i++)
                snprintf(ret[n++], CLAIM_KEY_MAX, "%s:%u", port_protocol_to_string(e->ports[i].protocol),
                         e->ports[i].host_port);
        return n;
}

void claim_key_addr(const IPAddr *a, char ret[static CLAIM_KEY_MAX]) {
        char s[INET6_ADDRSTRLEN];
        snprintf(ret, CLAIM_KEY_MAX, "ip:%s", ipaddr_format(a, s));
}

static int claims_dir_open(int nsfd, bool create) {
        if (create && mkdirat(nsfd, CLAIMS_DIR, 0700) < 0 && errno != EEXIST)
                return -errno;
        return open_dir_nofollow(nsfd, CLAIMS_DIR);
}

bool claims_present(int nsfd) {
        return faccessat(nsfd, CLAIMS_DIR, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int claim_holder(int nsfd, const char *key, char ret_bridge[static IFNAMSIZ], char ret_id[static ENTRY_ID_MAX]) {
        _cleanup_close_ int cfd = claims_dir_open(nsfd, false);
        if (cfd == -ENOENT)
                return 0;
        if (cfd < 0)
                return cfd;
        char target[IFNAMSIZ + ENTRY_ID_MAX + 1];
        ssize_t l = readlinkat(cfd, key, target, sizeof target - 1);
        if (l < 0)
                return errno == ENOENT ? 0 : -errno;
        target[l] = 0;
        char *slash = strchr(target, '/');
        /* Written by supervisors (root) only; still, a bad one holds nothing. */
        if (!slash || (size_t) (slash - target) >= IFNAMSIZ || strlen(slash + 1) >= ENTRY_ID_MAX ||
            slash[1] == '.' || slash[1] == 0 || strchr(slash + 1, '/')) {
                (void) unlinkat(cfd, key, 0);
                return 0;
        }
        *slash = 0;
        /* Names that open_dir_nofollow() and "machines/ID" take as they are. */
        if (!ifname_is_valid(target) || target[0] == '.') {
                (void) unlinkat(cfd, key, 0);
                return 0;
        }
        memcpy(ret_bridge, target, strlen(target) + 1);
        memcpy(ret_id, slash + 1, strlen(slash + 1) + 1);
        return 1;
}

/* KEY says TARGET once this returns 0.  The caller checked that no live
 * machine holds it: a dead one's, or an older claim of this machine's,
 * gives way; a link that says TARGET already stays as it is (see
 * claims_sync_begin()). */
static int claim_put(int cfd, const char *key, const char *target) {
        if (symlinkat(target, cfd, key) >= 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        char cur[CLAIM_KEY_MAX + IFNAMSIZ + ENTRY_ID_MAX];
        ssize_t n = readlinkat(cfd, key, cur, sizeof cur - 1);
        if (n >= 0 && (size_t) n == strlen(target) && memcmp(cur, target, (size_t) n) == 0)
                return 0;
        (void) unlinkat(cfd, key, 0);
        return symlinkat(target, cfd, key) < 0 ? -errno : 0;
}

static void sync_record(ClaimsSync *s, const char *key) {
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 256;
                s->keys = reallocarray(s->keys, s->cap, sizeof *s->keys);
                if (!s->keys)
                        abort();
        }
        s->keys[s->n++] = xstrdup(key);
}

/* E's claims, each key also recorded in SYNC where not NULL. */
static int claims_write(int cfd, const char *bridge, const Entry *e, ClaimsSync *sync) {
        char keys[CLAIMS_MAX][CLAIM_KEY_MAX];
        size_t n = claim_keys(e, keys);
        _cleanup_free_ char *target = xasprintf("%s/%s", bridge, e->id);
        for (size_t i = 0; i < n; i++) {
                int r = claim_put(cfd, keys[i], target);
                if (r < 0)
                        return r;
                if (sync)
                        sync_record(sync, keys[i]);
        }
        return 0;
}

int claims_take(int nsfd, const char *bridge, const Entry *e) {
        _cleanup_close_ int cfd = claims_dir_open(nsfd, true);
        if (cfd < 0)
                return cfd;
        return claims_write(cfd, bridge, e, NULL);
}

void claims_drop(int nsfd, const char *bridge, const Entry *e) {
        _cleanup_close_ int cfd = claims_dir_open(nsfd, false);
        if (cfd < 0)
                return;
        char keys[CLAIMS_MAX][CLAIM_KEY_MAX];
        size_t n = claim_keys(e, keys);
        for (size_t i = 0; i < n; i++) {
                char br[IFNAMSIZ], id[ENTRY_ID_MAX];
                /* Only its own: another machine may hold that key by now. */
                if (claim_holder(nsfd, keys[i], br, id) > 0 && streq(br, bridge) && streq(id, e->id))
                        (void) unlinkat(cfd, keys[i], 0);
        }
}

void claim_drop_key(int nsfd, const char *key) {
        _cleanup_close_ int cfd = claims_dir_open(nsfd, false);
        if (cfd >= 0)
                (void) unlinkat(cfd, key, 0);
}

/* network_sync() rewrites the claims in place: a link that is already
 * right stays, a wrong one is replaced, and what no live entry claims goes
 * at the end.  (Emptying the dir and writing every link again cost most of
 * a gc at 1000 machines where /run is on ext4, as on a host without
 * systemd: each new link's inode search went through the freshly deleted
 * ones.) */
int claims_sync_begin(int nsfd, ClaimsSync *ret) {
        *ret = (ClaimsSync) { .cfd = claims_dir_open(nsfd, true) };
        return ret->cfd < 0 ? ret->cfd : 0;
}

int claims_sync_add(ClaimsSync *s, const char *bridge, const Entry *entries, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = claims_write(s->cfd, bridge, entries + i, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int key_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int claims_sync_finish(ClaimsSync *s) {
        if (s->n > 1)
                qsort(s->keys, s->n, sizeof *s->keys, key_cmp);
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(s->cfd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d))) {
                const char *name = de->d_name;
                if (streq(name, ".") || streq(name, ".."))
                        continue;
                /* (No key added: no array, which bsearch() may not be given.) */
                if (s->n == 0 || !bsearch(&name, s->keys, s->n, sizeof *s->keys, key_cmp))
                        (void) unlinkat(s->cfd, name, 0);
        }
        return 0;
}

void claims_sync_done(ClaimsSync *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->keys[i]);
        free(s->keys);
        if (s->cfd >= 0)
                (void) close(s->cfd);
        *s = (ClaimsSync) { .cfd = -EBADF };
}

void claims_remove(int nsfd) {
        (void) rm_rf_at(nsfd, CLAIMS_DIR);
}
