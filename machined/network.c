/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fs.h"
#include "hash.h"
#include "log.h"
#include "net-internal.h"
#include "netlink.h"
#include "network.h"
#include "portproxy.h"
#include "util.h"

#define NETWORK_LINGER_SEC 5

typedef enum SyncFlags {
        SYNC_REMOVE_DIR = 1 << 0, /* when nothing is left, remove the state dir too */
        SYNC_BACKGROUND = 1 << 1, /* tear down in a detached child (see below) */
} SyncFlags;

/* Tear down the bridges in DEAD (none left running) and, with no bridge in
 * use (LAST), forwarding and the state dir. */
static void teardown(int nsfd, const char *ns_path, char **dead, bool last, SyncFlags flags) {
        _cleanup_(netlink_close) Netlink nl = NETLINK_INIT;
        if (netlink_open(&nl) < 0)
                return;
        /* Rules and forwarding first: the bridges' deletion is the slow part,
         * and once they are gone nothing of berth's network is left. */
        if (last) {
                (void) nft_apply(nsfd, NULL, 0, false, false);
                forwarding_restore(nsfd);
        }
        for (char **b = dead; b && *b; b++)
                bridge_teardown(&nl, nsfd, ns_path, *b);
        if (last) {
                /* Nothing left of berth's network here: no state either (the
                 * dir is its own lock; see ns_dir_lock()).  Fails harmlessly
                 * while a bridge dir remains. */
                if (flags & SYNC_REMOVE_DIR) {
                        claims_remove(nsfd);
                        (void) rmdir(ns_path);
                }
        }
}

/* With SYNC_BACKGROUND (a supervisor leaving, direct mode) the teardown
 * waits: a detached grandchild sleeps NETWORK_LINGER_SEC without the lock,
 * then syncs again and tears down only what is still unused.  A machine
 * started meanwhile (berth run after berth run) finds bridge, dnsmasq and
 * rules in place, and nobody waits for a bridge deletion (some 50 ms of
 * the kernel letting go of it) on the way out or in. */
static void teardown_maybe_background(int nsfd, const char *ns_path, char **dead, bool last, SyncFlags flags) {
        if (!(flags & SYNC_BACKGROUND)) {
                teardown(nsfd, ns_path, dead, last, flags);
                return;
        }
        pid_t pid = fork();
        if (pid < 0) {
                teardown(nsfd, ns_path, dead, last, flags);
                return;
        }
        if (pid == 0) {
                if (fork() == 0) {
                        (void) setsid();
                        /* A name of its own, so that ps (and a test looking
                         * for leftover supervisors) tells it apart. */
                        (void) prctl(PR_SET_NAME, "berth-linger");
                        /* Our copy of NSFD would hold the lock, like the
                         * supervisor's other locks: gone with the rest. */
                        if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
                                _exit(EXIT_FAILURE);
                        sigset_t none;
                        sigemptyset(&none);
                        (void) sigprocmask(SIG_SETMASK, &none, NULL);
                        (void) sleep(NETWORK_LINGER_SEC);
                        (void) network_gc();
                }
                _exit(EXIT_SUCCESS);
        }
        (void) waitpid(pid, NULL, 0);
}

static int view_cmp(const void *a, const void *b) {
        return strcmp(((const BridgeView *) a)->name, ((const BridgeView *) b)->name);
}

/* Recompute everything from the entries: gc, crash recovery, a bridge
 * more or less, and whatever a start or stop finds inconsistent (a start
 * or stop otherwise changes only its own machine's part: see
 * network_prepare(), network_release()).  Called with NSDIR's lock held. */
static int network_sync(int nsfd, const char *ns_path, SyncFlags flags) {
        log_debug("Syncing the network state in %s whole.", ns_path);
        _cleanup_(bridge_iter_done) BridgeIter it = BRIDGE_ITER_INIT;
        int r = bridge_iter_open(nsfd, &it);
        if (r < 0)
                return log_error_errno(r, "Cannot list %s: %m", ns_path);
        BridgeView *views = NULL;
        size_t n_views = 0;
        _cleanup_strv_free_ char **dead = NULL;
        int ret = 0;
        /* The claims, rewritten from the live entries (external bridges' too). */
        _cleanup_(claims_sync_done) ClaimsSync claims;
        r = claims_sync_begin(nsfd, &claims);
        if (r < 0)
                ret = log_error_errno(r, "Cannot write the claims in %s: %m", ns_path);
        while (bridge_iter_next(&it)) {
                BridgeView v = {};
                memcpy(v.name, it.name, strlen(it.name) + 1); /* ifname_is_valid(): fits */
                r = entries_load(it.fd, &v.entries, &v.n, NULL);
                if (r < 0) {
                        log_warning_errno(r, "Cannot read the machines of bridge %s: %m", v.name);
                        continue;
                }
                r = claims.cfd < 0 ? 0 : claims_sync_add(&claims, v.name, v.entries, v.n);
                if (r < 0) {
                        /* Partial claims would pass a conflict: none make the next start sync. */
                        log_error_errno(r, "Cannot write the claims of bridge %s: %m", v.name);
                        claims_remove(nsfd);
                        claims_sync_done(&claims);
                        if (ret == 0)
                                ret = r;
                }
                if (v.n == 0) {
                        dead = strv_append(dead, v.name);
                        continue;
                }
                if (faccessat(it.fd, "external", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
                    bridge_subnets_read(it.fd, &v.subnet, &v.subnet6) < 0) {
                        free(v.entries);
                        continue;
                }
                if (bridge_pool_read(it.fd, &v.pool, &v.pool6) < 0) {
                        v.pool = v.subnet;
                        v.pool6 = v.subnet6;
                }
                _cleanup_free_ char *dir = dnsmasq_dir_path(ns_path, v.name);
                r = dnsmasq_update(dir, &v);
                if (r < 0 && ret == 0)
                        ret = r;
                views = realloc(views, (n_views + 1) * sizeof *views);
                if (!views)
                        abort();
                views[n_views++] = v;
        }

        if (claims.cfd >= 0) {
                r = claims_sync_finish(&claims);
                if (r < 0 && ret == 0)
                        ret = log_error_errno(r, "Cannot list the claims in %s: %m", ns_path);
        }

        /* In name order, as machine_apply() sees them: the same tables. */
        if (n_views > 1)
                qsort(views, n_views, sizeof *views, view_cmp);
        if (n_views > 0) {
                bool own4 = false, own6 = false;
                r = forwarding_enable(nsfd);
                if (r < 0 && ret == 0)
                        ret = r;
                forwarding_owned(nsfd, &own4, &own6);
                r = nft_apply(nsfd, views, n_views, own4, own6);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        /* Nothing to tear down on the way to a first machine (the start's
         * first sync): that path stays fast. */
        if (dead || (n_views == 0 && (flags & SYNC_REMOVE_DIR)))
                teardown_maybe_background(nsfd, ns_path, dead, n_views == 0, flags);

        for (size_t i = 0; i < n_views; i++)
                free(views[i].entries);
        free(views);
        return ret;
}

/* ----- The supervisor's side ----- */

static void host_ifname_make(Network *net, const char *name) {
        /* "vb-NAME" when it fits and the name is unique host-wide; otherwise a
         * prefix and a hash of the ID, still within Linux's 15 bytes. */
        if (streq(name, net->id) && strlen(name) <= 12) {
                snprintf(net->host_ifname, sizeof net->host_ifname, "vb-%s", name);
                return;
        }
        char prefix[6];
        snprintf(prefix, sizeof prefix, "%s", name);
        prefix[strcspn(prefix, ".")] = 0;
        snprintf(net->host_ifname, sizeof net->host_ifname, "vb-%s-%06" PRIx64, prefix,
                 fnv1a64(net->id) & 0xffffff);
}

/* Take back what machine ID of BRIDGE holds, its supervisor gone (or
 * stopping): claims, nftables elements, dnsmasq hosts file, entry.  < 0:
 * its elements could not be taken out (the caller syncs whole). */
static int entry_reclaim(int nsfd, const char *ns_path, const char *bridge, const char *id) {
        _cleanup_close_ int brfd = open_dir_nofollow(nsfd, bridge);
        if (brfd < 0)
                return 0;
        Entry e;
        if (entry_read(brfd, id, &e) >= 0) {
                claims_drop(nsfd, bridge, &e);
                _cleanup_free_ char *dir = dnsmasq_dir_path(ns_path, bridge);
                dnsmasq_host_remove(dir, &e);
        }
        int r = nft_machine_remove(nsfd, id);
        _cleanup_free_ char *path = xasprintf("machines/%s", id);
        (void) unlinkat(brfd, path, 0);
        return r;
}

/* Does a running machine other than SELF_ID hold KEY?  1 (its entry in
 * *RET), or 0: nobody, or a machine whose supervisor died without a stop,
 * which is reclaimed here: a crashed machine's address, ports and veth
 * name come free when somebody wants them (or at the next sync, gc). */
static int claim_check(int nsfd, const char *ns_path, const char *self_id, const char *key, Entry *ret,
                       bool *need_sync) {
        char br[IFNAMSIZ], id[ENTRY_ID_MAX];
        int r = claim_holder(nsfd, key, br, id);
        if (r <= 0 || streq(id, self_id))
                return r < 0 ? r : 0;
        _cleanup_close_ int brfd = open_dir_nofollow(nsfd, br);
        if (brfd >= 0 && entry_alive(brfd, id)) {
                if (entry_read(brfd, id, ret) < 0)
                        *ret = (Entry) {};
                if (!*ret->name)
                        snprintf(ret->name, sizeof ret->name, "%s", id);
                return 1;
        }
        log_debug("Reclaiming the network of machine %s (bridge %s), whose supervisor is gone.", id, br);
        if (entry_reclaim(nsfd, ns_path, br, id) < 0)
                *need_sync = true;
        claim_drop_key(nsfd, key); /* where its entry was gone already */
        return 0;
}

/* Our own entry of a run that ended without a stop (its supervisor
 * crashed), on whichever bridge: reclaimed before anything is chosen. */
static void reclaim_own(int nsfd, const char *ns_path, const char *id, bool *need_sync) {
        _cleanup_(bridge_iter_done) BridgeIter it = BRIDGE_ITER_INIT;
        if (bridge_iter_open(nsfd, &it) < 0)
                return;
        while (bridge_iter_next(&it)) {
                _cleanup_free_ char *path = xasprintf("machines/%s", id);
                if (faccessat(it.fd, path, F_OK, AT_SYMLINK_NOFOLLOW) < 0 || entry_alive(it.fd, id))
                        continue;
                if (entry_reclaim(nsfd, ns_path, it.name, id) < 0)
                        *need_sync = true;
        }
}

/* Under the namespace lock, before anything is made: what this machine
 * wants must not clash with any running machine on any bridge of this
 * namespace (a host port, a veth name: one claim each) or with another
 * bridge's subnets. */
static int check_conflicts(int nsfd, const Network *net, bool *need_sync) {
        _cleanup_(bridge_iter_done) BridgeIter it = BRIDGE_ITER_INIT;
        int r = bridge_iter_open(nsfd, &it);
        if (r < 0)
                return log_error_errno(r, "Cannot list %s: %m", net->ns_dir);
        while (bridge_iter_next(&it)) {
                IPNet sn, sn6;
                /* A bridge that is not berth's gives no addresses: nothing to overlap. */
                if (!net->external && !streq(it.name, net->bridge) &&
                    bridge_subnets_read(it.fd, &sn, &sn6) >= 0 &&
                    (ipnet_overlaps(&sn, &net->subnet) || ipnet_overlaps(&sn6, &net->subnet6))) {
                        char a[IPNET_STRLEN], b[IPNET_STRLEN];
                        return log_error_errno(SYNTHETIC_ERRNO(EADDRINUSE),
                                               "Bridge %s uses %s and %s, which overlap this machine's subnets: give "
                                               "bridge %s other Subnet=/IPv6Subnet= values.",
                                               it.name, ipnet_format(&sn, a), ipnet_format(&sn6, b), net->bridge);
                }
        }
        Entry holder;
        char key[CLAIM_KEY_MAX];
        snprintf(key, sizeof key, "veth:%s", net->host_ifname);
        r = claim_check(nsfd, net->ns_dir, net->id, key, &holder, need_sync);
        if (r > 0)
                return log_error_errno(SYNTHETIC_ERRNO(EADDRINUSE),
                                       "Machine %s has the interface name %s already: rename one of the two machines.",
                                       holder.name, net->host_ifname);
        for (size_t j = 0; r >= 0 && j < net->n_ports; j++) {
                snprintf(key, sizeof key, "%s:%u", port_protocol_to_string(net->ports[j].protocol),
                         net->ports[j].host_port);
                r = claim_check(nsfd, net->ns_dir, net->id, key, &holder, need_sync);
                if (r > 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EADDRINUSE), "Port %s/%u is forwarded to machine %s already.",
                                               port_protocol_to_string(net->ports[j].protocol),
                                               net->ports[j].host_port, holder.name);
        }
        return r < 0 ? log_error_errno(r, "Cannot read the claims in %s: %m", net->ns_dir) : 0;
}

typedef struct AddressCheck {
        int nsfd;
        const Network *net;
        bool *need_sync;
} AddressCheck;

static bool address_taken(uint32_t k, void *userdata) {
        AddressCheck *c = userdata;
        IPAddr a = ipnet_host(&c->net->subnet, k);
        char key[CLAIM_KEY_MAX];
        claim_key_addr(&a, key);
        Entry holder;
        /* An unreadable claim: better another address. */
        return claim_check(c->nsfd, c->net->ns_dir, c->net->id, key, &holder, c->need_sync) != 0;
}

/* Under the namespace lock: the bridge, an address, our entry (*RET) and
 * its claims.  *NEED_SYNC: something was found that only a whole sync
 * puts right (stale entries dropped unreclaimed, elements refused). */
static int bridge_register(Network *net, Store *store, const char *name, int nsfd, Entry *ret, bool *need_sync) {
        reclaim_own(nsfd, net->ns_dir, net->id, need_sync);
        int r = bridge_pick(nsfd, net, store, name, net->per_bridge, need_sync);
        if (r < 0)
                return r;
        r = check_conflicts(nsfd, net, need_sync);
        if (r < 0)
                return r;
        /* Where berth's own forwards are in place (check_conflicts() ruled
         * out a clash with them), no socket binds their ports: what is
         * found here is somebody else's. */
        r = portproxy_check_host_ports(net->ports, net->n_ports);
        if (r < 0)
                return r;
        r = bridge_ensure(nsfd, net);
        if (r < 0)
                return r;
        if (net->external && net->n_ports > 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Bridge %s is not berth's: port forwards (Port=, --port) need a bridge berth "
                                       "manages.",
                                       net->bridge);
        _cleanup_close_ int brfd = open_dir_nofollow(nsfd, net->bridge);
        if (brfd < 0)
                return log_error_errno(brfd, "Cannot open the state of bridge %s: %m", net->bridge);

        Entry e = { .pid = getpid(), .n_ports = net->n_ports };
        snprintf(e.id, sizeof e.id, "%s", net->id);
        snprintf(e.name, sizeof e.name, "%s", name);
        memcpy(e.mac, net->mac, 6);
        memcpy(e.veth, net->host_ifname, sizeof e.veth);
        e.filter = net->address_filter;
        if (net->n_ports > 0)
                memcpy(e.ports, net->ports, net->n_ports * sizeof *net->ports);

        /* The names only; the entries are read (and dead ones dropped)
         * only when the bridge looks full. */
        size_t others = entries_count(brfd, net->id, BRIDGE_PORTS_MAX);
        if (others >= BRIDGE_PORTS_MAX) {
                _cleanup_free_ Entry *live = NULL;
                size_t n_live = 0;
                bool dropped = false;
                r = entries_load(brfd, &live, &n_live, &dropped);
                if (r < 0)
                        return log_error_errno(r, "Cannot read the machines of bridge %s: %m", net->bridge);
                *need_sync = *need_sync || dropped;
                others = 0;
                for (size_t i = 0; i < n_live; i++)
                        others += !streq(live[i].id, net->id);
        }
        if (others >= BRIDGE_PORTS_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(EXFULL),
                                       "Bridge %s has %zu machines, the most one Linux bridge takes: start this "
                                       "one on another bridge (Network.Bridge=, with its own Subnet= and "
                                       "IPv6Subnet=).", net->bridge, others);

        if (!net->external) {
                uint32_t k = 0;
                AddressCheck check = { .nsfd = nsfd, .net = net, .need_sync = need_sync };
                r = address_allocate(net, store, name, address_taken, &check, &k);
                if (r < 0)
                        return r;
                net->addr = e.addr = ipnet_host(&net->subnet, k);
                net->addr6 = e.addr6 = ipnet_host(&net->subnet6, k);
                char a[INET6_ADDRSTRLEN + 1];
                ipaddr_format(&net->addr, a);
                strcat(a, "\n");
                _cleanup_close_ int mfd = open_dir_nofollow(store->machines_fd, name);
                r = mfd < 0 ? mfd : write_file_atomic_at(mfd, "address", a, strlen(a), 0644);
                if (r < 0)
                        return log_error_errno(r, "Cannot record the address of machine %s: %m", name);
        } else {
                e.addr = (IPAddr) { .family = AF_INET };
                e.addr6 = (IPAddr) { .family = AF_INET6 };
        }

        _cleanup_close_ int mfd = open_dir_nofollow(brfd, "machines");
        _cleanup_free_ char *text = entry_format(&e);
        r = mfd < 0 ? mfd : write_file_atomic_at(mfd, net->id, text, strlen(text), 0600);
        if (r < 0)
                return log_error_errno(r, "Cannot register machine %s on bridge %s: %m", name, net->bridge);
        /* Held until we exit: what makes the entry live (entry_alive()). */
        net->entry_lock_fd = openat(mfd, net->id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (net->entry_lock_fd < 0 || flock(net->entry_lock_fd, LOCK_EX | LOCK_NB) < 0) {
                r = log_error_errno(errno, "Cannot lock the network entry of machine %s: %m", name);
                (void) unlinkat(mfd, net->id, 0);
                return r;
        }
        net->registered = true;
        /* Without its claims, the next start's checks would miss it: a
         * sync writes them all. */
        r = claims_take(nsfd, net->bridge, &e);
        if (r < 0) {
                log_warning_errno(r, "Cannot record the claims of machine %s: %m", name);
                *need_sync = true;
        }
        *ret = e;
        return 0;
}

/* The bridges with machines (dead ones' too: a sync finds those), without
 * their entries, in name order: the tables' shape as network_sync() makes
 * it when every machine lives. */
static BridgeView *bridges_in_use(int nsfd, size_t *ret_n) {
        BridgeView *views = NULL;
        size_t n = 0;
        *ret_n = 0;
        _cleanup_(bridge_iter_done) BridgeIter it = BRIDGE_ITER_INIT;
        if (bridge_iter_open(nsfd, &it) < 0)
                return NULL;
        while (bridge_iter_next(&it)) {
                BridgeView v = {};
                memcpy(v.name, it.name, strlen(it.name) + 1);
                if (entries_count(it.fd, NULL, 1) == 0 ||
                    faccessat(it.fd, "external", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
                    bridge_subnets_read(it.fd, &v.subnet, &v.subnet6) < 0)
                        continue;
                if (bridge_pool_read(it.fd, &v.pool, &v.pool6) < 0) {
                        v.pool = v.subnet;
                        v.pool6 = v.subnet6;
                }
                views = realloc(views, (n + 1) * sizeof *views);
                if (!views)
                        abort();
                views[n++] = v;
        }
        if (n > 1)
                qsort(views, n, sizeof *views, view_cmp);
        *ret_n = n;
        return views;
}

/* A start's own part of network_sync(): forwarding, its nftables elements
 * and its dnsmasq hosts file; nothing of the other machines is read.  < 0
 * (-ESTALE: the tables' shape changes, a bridge more) makes the caller
 * sync whole. */
static int machine_apply(int nsfd, const Network *net, const Entry *e) {
        if (net->external)
                return 0;
        int r = forwarding_enable(nsfd);
        if (r < 0)
                return r;
        bool own4 = false, own6 = false;
        forwarding_owned(nsfd, &own4, &own6);
        size_t n = 0;
        _cleanup_free_ BridgeView *views = bridges_in_use(nsfd, &n);
        const BridgeView *b = NULL;
        for (size_t i = 0; i < n && !b; i++)
                if (streq(views[i].name, net->bridge))
                        b = views + i;
        if (!b)
                return -ESTALE;
        r = nft_machine_add(nsfd, views, n, own4, own6, b, e);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = dnsmasq_dir_path(net->ns_dir, net->bridge);
        return dnsmasq_host_add(dir, b, e);
}

/* After a stop: may bridge NAME have no running machine left?  Yes when
 * it has no entry, or a few of which one's supervisor is gone (a sync
 * then drops those and tears the bridge down).  No more than a few are
 * probed, so that a stop stays flat; a bridge that keeps dead machines'
 * entries among many live ones waits for the last stop or a gc. */
#define IDLE_PROBE_MAX 8
static bool bridge_maybe_idle(int nsfd, const char *name) {
        _cleanup_close_ int brfd = open_dir_nofollow(nsfd, name);
        if (brfd < 0)
                return true;
        size_t n = entries_count(brfd, NULL, IDLE_PROBE_MAX + 1);
        if (n == 0)
                return true;
        if (n > IDLE_PROBE_MAX)
                return false;
        _cleanup_close_ int mfd = open_dir_nofollow(brfd, "machines");
        _cleanup_closedir_ DIR *d = NULL;
        if (mfd < 0 || opendir_dup(mfd, &d) < 0)
                return true;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && !entry_alive(brfd, de->d_name))
                        return true;
        return false;
}

int network_prepare(Network *net, Store *store, const char *name, const MachineConfig *cfg, bool unit) {
        *net = (Network) { .mode = cfg->network_mode, .entry_lock_fd = -EBADF, .unit = unit,
                           .cni = CNI_ATTACHMENT_INIT };
        if (cfg->network_mode == NETWORK_MODE_CNI)
                return cni_attachment_prepare(&net->cni, store, name, cfg);
        if (cfg->n_ports > 0 && cfg->network_mode != NETWORK_MODE_BRIDGE)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Port forwards (Port=, --port) need [Network] Mode=bridge or Mode=cni, not "
                                       "Mode=%s.",
                                       network_mode_to_string(cfg->network_mode));
        if (cfg->network_mode == NETWORK_MODE_MACVLAN || cfg->network_mode == NETWORK_MODE_IPVLAN) {
                if (!cfg->link)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "[Network] Mode=%s needs Link= (the host interface to attach to).",
                                               network_mode_to_string(cfg->network_mode));
                if (if_nametoindex(cfg->link) == 0)
                        return log_error_errno(SYNTHETIC_ERRNO(ENODEV),
                                               "[Network] Link=%s: no such interface on the host.", cfg->link);
                net->link = xstrdup(cfg->link);
                net->guest_ifname = xstrdup(cfg->interface);
                return 0;
        }
        if (cfg->network_mode != NETWORK_MODE_BRIDGE)
                return 0;

        net->id = store_cgroup_name(store, name);
        net->bridge = xstrdup(cfg->bridge);
        net->guest_ifname = xstrdup(cfg->interface);
        net->address_filter = cfg->address_filter;
        net->pool = net->subnet = cfg->subnet;
        net->pool6 = net->subnet6 = cfg->ipv6_subnet;
        net->per_bridge = cfg->machines_per_bridge;
        if (ipnet_host_max(&net->subnet6) < ipnet_host_max(&net->subnet)) {
                char a[IPNET_STRLEN], b[IPNET_STRLEN];
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "IPv6Subnet=%s has fewer addresses than Subnet=%s: each machine gets one of "
                                       "each; use a shorter IPv6 prefix (a /64).",
                                       ipnet_format(&net->subnet6, b), ipnet_format(&net->subnet, a));
        }
        net->gateway = ipnet_host(&net->subnet, 1);
        net->gateway6 = ipnet_host(&net->subnet6, 1);
        if (cfg->n_ports > 0) {
                net->ports = xcalloc(cfg->n_ports, sizeof *net->ports);
                memcpy(net->ports, cfg->ports, cfg->n_ports * sizeof *net->ports);
                net->n_ports = cfg->n_ports;
        }
        mac_from_name(net->id, net->mac);
        host_ifname_make(net, name);

        _cleanup_close_ int nsfd = ns_dir_lock(&net->ns_dir, true);
        if (nsfd < 0)
                return nsfd;

        /* The checks read claims, not the fleet's entries: where there are
         * none (a first machine, a berth before them), a sync writes them
         * from the entries first.  A bridge kept for a while after its
         * last machine (teardown_maybe_background()) is simply used again. */
        if (!claims_present(nsfd))
                (void) network_sync(nsfd, net->ns_dir, 0);
        bool need_sync = false;
        Entry e;
        int r = bridge_register(net, store, name, nsfd, &e, &need_sync);
        /* Only this machine's part where all is as the state says; else (a
         * failure too, which must remove what this start made: a bridge
         * nobody uses, say) everything from the entries. */
        if (r >= 0 && !need_sync) {
                int a = machine_apply(nsfd, net, &e);
                if (a >= 0)
                        return 0;
                log_debug("Machine %s's network in place, not in line with the state (%s): syncing whole.", name,
                          strerror(-a));
        }
        int k = network_sync(nsfd, net->ns_dir, SYNC_REMOVE_DIR);
        return r < 0 ? r : k;
}

int network_attach(Network *net, int netns_fd, char **ret_resolv_conf) {
        *ret_resolv_conf = NULL;
        if (net->mode == NETWORK_MODE_CNI)
                return cni_attachment_add(&net->cni, netns_fd, ret_resolv_conf);
        if (net->mode != NETWORK_MODE_BRIDGE && net->mode != NETWORK_MODE_MACVLAN && net->mode != NETWORK_MODE_IPVLAN)
                return 0;
        _cleanup_(netlink_close) Netlink nl = NETLINK_INIT, guest = NETLINK_INIT;
        int r = netlink_open(&nl);
        if (r < 0)
                return log_error_errno(r, "Cannot open a netlink socket: %m");

        if (net->mode != NETWORK_MODE_BRIDGE) {
                const char *kind = net->mode == NETWORK_MODE_MACVLAN ? "macvlan" : "ipvlan";
                int parent = netlink_link_index(&nl, net->link);
                if (parent < 0)
                        return log_error_errno(parent, "Cannot find Link=%s: %m", net->link);
                r = netlink_vlan_create(&nl, kind, net->guest_ifname, parent, netns_fd);
                if (r == -EOPNOTSUPP)
                        return log_error_errno(r, "Cannot create the %s link on %s: this kernel has no %s support "
                                               "(CONFIG_%s); use Mode=macvlan or Mode=bridge.",
                                               kind, net->link, kind, net->mode == NETWORK_MODE_MACVLAN ? "MACVLAN" : "IPVLAN");
                if (r < 0)
                        return log_error_errno(r, "Cannot create the %s link on %s: %m", kind, net->link);
                r = netlink_open_in(&guest, netns_fd);
                int ifindex = r < 0 ? r : netlink_link_index(&guest, net->guest_ifname);
                r = ifindex < 0 ? ifindex : netlink_link_up(&guest, ifindex, 0);
                if (r < 0)
                        return log_error_errno(r, "Cannot bring up %s in the machine: %m", net->guest_ifname);
                return 0;
        }

        int master = netlink_link_index(&nl, net->bridge);
        if (master < 0)
                return log_error_errno(master, "Bridge %s has gone: %m", net->bridge);
        r = netlink_veth_create(&nl, net->host_ifname, net->guest_ifname, net->mac, netns_fd);
        if (r == -EEXIST) {
                /* Left from a boot whose namespace outlived its supervisor. */
                int old = netlink_link_index(&nl, net->host_ifname);
                if (old > 0)
                        (void) netlink_link_delete(&nl, old);
                r = netlink_veth_create(&nl, net->host_ifname, net->guest_ifname, net->mac, netns_fd);
        }
        if (r < 0)
                return log_error_errno(r, "Cannot create the veth pair %s/%s: %m", net->host_ifname,
                                       net->guest_ifname);
        int host = netlink_link_index(&nl, net->host_ifname);
        r = host < 0 ? host : netlink_link_up(&nl, host, master);
        if (r < 0)
                return log_error_errno(r, "Cannot attach %s to bridge %s: %m", net->host_ifname, net->bridge);
        net->host_ifindex = host;
        if (net->external)
                return 0;

        r = netlink_open_in(&guest, netns_fd);
        if (r < 0)
                return log_error_errno(r, "Cannot open a netlink socket in the machine: %m");
        int ifindex = netlink_link_index(&guest, net->guest_ifname);
        if (ifindex < 0)
                return log_error_errno(ifindex, "Cannot find %s in the machine: %m", net->guest_ifname);
        /* The IPv6 address as a /128 with a route to the subnet: exactly
         * what the guest's DHCPv6 client gets for it from dnsmasq, so that
         * a network manager in the guest (systemd-networkd) takes the
         * address over instead of finding a conflicting /64 it ignores or
         * drops. */
        r = netlink_addr_add(&guest, ifindex, &net->addr, net->subnet.prefixlen, false);
        if (r >= 0)
                r = netlink_addr_add(&guest, ifindex, &net->addr6, 128, true);
        if (r >= 0)
                r = netlink_link_up(&guest, ifindex, 0);
        if (r >= 0)
                r = netlink_route_add(&guest, ifindex, &net->subnet6, NULL);
        if (r >= 0)
                r = netlink_route_add_default(&guest, ifindex, &net->gateway);
        if (r >= 0)
                r = netlink_route_add_default(&guest, ifindex, &net->gateway6);
        if (r < 0)
                return log_error_errno(r, "Cannot configure %s in the machine: %m", net->guest_ifname);
        return 0;
}

char *network_resolv_conf(const Network *net) {
        if (net->mode != NETWORK_MODE_BRIDGE || net->external)
                return NULL;
        char gw[INET6_ADDRSTRLEN];
        /* dnsmasq on the bridge answers, forwarding to the host's resolvers. */
        return xasprintf("# Written by berth at boot: the machine's bridge %s resolves names.\nnameserver %s\n",
                         net->bridge, ipaddr_format(&net->gateway, gw));
}

char *network_addresses(const Network *net) {
        if (net->mode == NETWORK_MODE_CNI)
                return net->cni.addresses ? xstrdup(net->cni.addresses) : NULL;
        if (net->mode != NETWORK_MODE_BRIDGE || net->external || !net->registered)
                return NULL;
        char a[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
        return xasprintf("%s %s", ipaddr_format(&net->addr, a), ipaddr_format(&net->addr6, a6));
}

void network_release(Network *net) {
        cni_attachment_del(&net->cni);
        /* The veth goes with the machine's network namespace (the kernel
         * deletes both ends); deleting it here would only wait for that. */
        net->host_ifindex = 0;
        if (!net->registered)
                return;
        _cleanup_close_ int nsfd = ns_dir_lock(NULL, false);
        if (nsfd < 0)
                return;
        /* Our own part only: claims, elements, hosts file, entry. */
        int r = entry_reclaim(nsfd, net->ns_dir, net->bridge, net->id);
        closep(&net->entry_lock_fd);
        net->registered = false;
        /* A sync where our part could not be taken out, or where the bridge
         * may be left without machines (to tear it down).  Under systemd
         * the unit's remaining processes die with the supervisor, a
         * background teardown with them: only in direct mode. */
        bool idle = r >= 0 && bridge_maybe_idle(nsfd, net->bridge);
        if (r < 0)
                log_debug("Cannot take machine %s's part of the network out alone: syncing whole.", net->id);
        if (r < 0 || idle)
                (void) network_sync(nsfd, net->ns_dir, SYNC_REMOVE_DIR | (net->unit ? 0 : SYNC_BACKGROUND));
}

void network_done(Network *net) {
        free(net->id);
        free(net->bridge);
        free(net->guest_ifname);
        free(net->link);
        free(net->ports);
        free(net->ns_dir);
        closep(&net->entry_lock_fd);
        cni_attachment_done(&net->cni);
        *net = NETWORK_INIT;
}

int network_gc(void) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int nsfd = ns_dir_lock(&path, false);
        if (nsfd == -ENOENT)
                return 0; /* no berth network runs in this namespace */
        if (nsfd < 0)
                return nsfd;
        return network_sync(nsfd, path, SYNC_REMOVE_DIR);
}
