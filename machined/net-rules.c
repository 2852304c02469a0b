/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <inttypes.h>
#include <nftables/libnftables.h>

#include "fs.h"
#include "hash.h"
#include "log.h"
#include "net-filter.h"
#include "net-internal.h"
#include "util.h"

/* ----- nftables: the "inet berth" table from the live entries ----- */

/* The port forwards of every bridge as two maps, "PROTO . HOST_PORT" to the
 * machine's "ADDRESS . PORT": one lookup per packet, however many machines
 * and forwards there are (a rule per forward was a linear walk).  Empty
 * here: each machine's forwards come and go with it (machine_elements()). */
static void nft_forward_maps(char **s) {
        strextendf(s, "  map forward4 {\n    type inet_proto . inet_service : ipv4_addr . inet_service\n  }\n"
                      "  map forward6 {\n    type inet_proto . inet_service : ipv6_addr . inet_service\n  }\n");
}

/* Port forwards: from anywhere to any local address (other hosts, machines
 * on the bridge), and from the host itself (output).  Not to ::1: Linux
 * never routes it off the host; portproxy.h relays it. */
static const char nft_forward_rules[] =
        "    fib daddr type local meta nfproto ipv4 dnat ip to meta l4proto . th dport map @forward4\n"
        "    ip6 daddr != ::1 fib daddr type local dnat ip6 to meta l4proto . th dport map @forward6\n";

static bool same_pool(const BridgeView *a, const BridgeView *b) {
        return a->pool.prefixlen == b->pool.prefixlen && ipaddr_equal(&a->pool.addr, &b->pool.addr) &&
               a->pool6.prefixlen == b->pool6.prefixlen && ipaddr_equal(&a->pool6.addr, &b->pool6.addr);
}

/* One rule per network spread over several bridges: its bridges forward to
 * each other, from the network's own addresses only. */
static void nft_sibling_rules(char **s, const BridgeView *bridges, size_t n) {
        for (size_t i = 0; i < n; i++) {
                bool first = true, more = false;
                for (size_t j = 0; j < n; j++)
                        if (j != i && same_pool(bridges + i, bridges + j)) {
                                first = first && j > i;
                                more = true;
                        }
                if (!first || !more)
                        continue; /* written with its first bridge, or alone */
                _cleanup_free_ char *set = xstrdup("");
                for (size_t j = i; j < n; j++)
                        if (same_pool(bridges + i, bridges + j))
                                strextendf(&set, "%s\"%s\"", *set ? ", " : "", bridges[j].name);
                char pn[IPNET_STRLEN], pn6[IPNET_STRLEN];
                ipnet_format(&bridges[i].pool, pn);
                ipnet_format(&bridges[i].pool6, pn6);
                strextendf(s,
                           "    iifname { %s } oifname { %s } ip saddr %s ip daddr %s accept\n"
                           "    iifname { %s } oifname { %s } ip6 saddr %s ip6 daddr %s accept\n",
                           set, set, pn, pn, set, set, pn6, pn6);
        }
}

static char *nft_ruleset(const BridgeView *bridges, size_t n, bool own4, bool own6) {
        char *s = xstrdup("table inet berth {\n");
        nft_forward_maps(&s);
        /* route_localnet (see bridge_ensure()) would also let a guest send to
         * the host's 127.0.0.1 services: nothing from a bridge may be
         * addressed there.  Before conntrack, so no NAT can dress it up. */
        strextendf(&s, "  chain raw-prerouting {\n    type filter hook prerouting priority raw; policy accept;\n");
        for (size_t i = 0; i < n; i++)
                strextendf(&s, "    iifname \"%s\" ip daddr 127.0.0.0/8 drop\n", bridges[i].name);
        strextendf(&s, "  }\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n%s",
                   nft_forward_rules);
        strextendf(&s, "  }\n  chain output {\n    type nat hook output priority -100; policy accept;\n%s",
                   nft_forward_rules);
        strextendf(&s, "  }\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for (size_t i = 0; i < n; i++) {
                const BridgeView *b = bridges + i;
                char sn[IPNET_STRLEN], sn6[IPNET_STRLEN], pn[IPNET_STRLEN], pn6[IPNET_STRLEN];
                ipnet_format(&b->subnet, sn);
                ipnet_format(&b->subnet6, sn6);
                ipnet_format(&b->pool, pn);
                ipnet_format(&b->pool6, pn6);
                strextendf(&s,
                           /* Egress: the machines' addresses leave as the host's;
                            * not towards the network's other bridges (routed). */
                           "    ip saddr %s ip daddr != %s masquerade\n"
                           "    ip6 saddr %s ip6 daddr != %s masquerade\n"
                           /* A forward used from the host's 127.0.0.1 (route_localnet
                            * lets it out) or from a machine on the same bridge
                            * (hairpin): answers must come back through us. */
                           "    oifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n"
                           "    oifname \"%s\" ip saddr %s ct status dnat masquerade\n"
                           "    oifname \"%s\" ip6 saddr %s ct status dnat masquerade\n",
                           sn, pn, sn6, pn6, b->name, b->name, sn, b->name, sn6);
        }
        /* The bridge's dnsmasq serves its machines, not the neighbourhood. */
        strextendf(&s, "  }\n  chain input {\n    type filter hook input priority filter; policy accept;\n");
        for (size_t i = 0; i < n; i++) {
                char gw[INET6_ADDRSTRLEN], gw6[INET6_ADDRSTRLEN];
                IPAddr g = ipnet_host(&bridges[i].subnet, 1), g6 = ipnet_host(&bridges[i].subnet6, 1);
                strextendf(&s,
                           "    iifname != \"%s\" ip daddr %s meta l4proto { tcp, udp } th dport 53 drop\n"
                           "    iifname != \"%s\" ip6 daddr %s meta l4proto { tcp, udp } th dport 53 drop\n",
                           bridges[i].name, ipaddr_format(&g, gw), bridges[i].name, ipaddr_format(&g6, gw6));
        }
        strextendf(&s, "  }\n  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
        /* First what goes to machines: within a bridge (seen here with
         * br_netfilter), between the bridges of one network (net-spill.c),
         * answers, and port forwards; nothing else, not even from another
         * berth network's bridge. */
        nft_sibling_rules(&s, bridges, n);
        for (size_t i = 0; i < n; i++) {
                const char *br = bridges[i].name;
                strextendf(&s,
                           "    iifname \"%s\" oifname \"%s\" accept\n"
                           "    oifname \"%s\" ct state established,related accept\n"
                           "    oifname \"%s\" ct status dnat accept\n"
                           "    oifname \"%s\" drop\n",
                           br, br, br, br, br);
        }
        /* Then what machines send: only from their own subnets (no spoofed
         * sources onto the host's networks). */
        for (size_t i = 0; i < n; i++) {
                const BridgeView *b = bridges + i;
                char sn[IPNET_STRLEN], sn6[IPNET_STRLEN];
                strextendf(&s,
                           "    iifname \"%s\" ip saddr %s accept\n"
                           "    iifname \"%s\" ip6 saddr %s accept\n"
                           "    iifname \"%s\" drop\n",
                           b->name, ipnet_format(&b->subnet, sn), b->name, ipnet_format(&b->subnet6, sn6), b->name);
        }
        if (own4)
                strextendf(&s, "    meta nfproto ipv4 drop\n");
        if (own6)
                strextendf(&s, "    meta nfproto ipv6 drop\n");
        strextendf(&s, "  }\n}\n");
        return s;
}

/* QUIET: a failure is expected now and then, and handled (nft_apply()). */
static int nft_run_flags(const char *cmd, bool quiet) {
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return log_error_errno(SYNTHETIC_ERRNO(ENOMEM), "Cannot create an nftables context.");
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        int r = nft_run_cmd_from_buffer(ctx, cmd);
        if (r != 0 && !quiet) {
                const char *err = nft_ctx_get_error_buffer(ctx);
                log_error("nftables refused berth's rules: %s", err && *err ? err : "(no message)");
                log_debug("The rules were:\n%s", cmd);
        }
        nft_ctx_free(ctx);
        return r != 0 ? -EIO : 0;
}

static int nft_run(const char *cmd) {
        return nft_run_flags(cmd, false);
}

static int nft_run_quiet(const char *cmd) {
        return nft_run_flags(cmd, true);
}

/* What one machine puts into the tables' maps and sets: its forwards and,
 * with AddressFilter=yes, its port's filter.  VERB "add" or "delete" (a
 * map's element is deleted by its key). */
static char *machine_elements(const BridgeView *b, const Entry *e, const char *verb) {
        char *s = xstrdup("");
        bool del = streq(verb, "delete");
        for (size_t k = 0; k < e->n_ports; k++) {
                const PortForward *p = e->ports + k;
                const char *proto = port_protocol_to_string(p->protocol);
                char a[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
                if (del)
                        strextendf(&s,
                                   "delete element inet berth forward4 { %s . %u }\n"
                                   "delete element inet berth forward6 { %s . %u }\n",
                                   proto, p->host_port, proto, p->host_port);
                else
                        strextendf(&s,
                                   "add element inet berth forward4 { %s . %u : %s . %u }\n"
                                   "add element inet berth forward6 { %s . %u : %s . %u }\n",
                                   proto, p->host_port, ipaddr_format(&e->addr, a), p->guest_port, proto,
                                   p->host_port, ipaddr_format(&e->addr6, a6), p->guest_port);
        }
        /* Our own names; the check keeps the rules' syntax whole. */
        if (e->filter && ifname_is_valid(e->veth)) {
                FilterPort fp = { .addr = e->addr, .addr6 = e->addr6, .subnet6 = b->subnet6 };
                memcpy(fp.ifname, e->veth, sizeof fp.ifname);
                memcpy(fp.mac, e->mac, sizeof fp.mac);
                net_filter_elements(&s, verb, &fp);
        }
        return s;
}

/* ----- What is in place: NFT_STATE and NFT_DIR in the namespace's dir -----
 *
 * NFT_STATE, "SHAPE HASH FILTER": the hash of the tables' rules without
 * their elements (which bridges, their subnets, forwarding, whether the
 * bridge filter is there: FILTER yes or no).  NFT_DIR/ID, one file per
 * machine whose elements are in: "HASH DELETE", the hash of its "add"
 * commands and the commands that take them out again, ";"-separated.  A
 * start or stop with the shape unchanged adds or deletes its own
 * machine's elements and writes or removes its own file: nothing of the
 * fleet's is read (nft_machine_add(), nft_machine_remove()).  Anything
 * else (a bridge more or less, no state, nftables refusing the change)
 * goes through nft_apply() with every machine's entry: per machine where
 * the shape is unchanged, else whole.  NFT_STATE is removed before any
 * change and written after it: without it, what is in is unknown, and the
 * next change rebuilds. */
#define NFT_STATE "nft-state"
#define NFT_DIR "@nft" /* '@': no interface's name, never taken for a bridge */
#define NFT_MACHINE_MAX (1U << 20)

typedef struct Applied {
        char *id;
        char *hash;
        char *del;
} Applied;

static void applied_done(Applied *a) {
        free(a->id);
        free(a->hash);
        free(a->del);
        *a = (Applied) {};
}

static int applied_cmp(const void *a, const void *b) {
        const Applied *x = a, *y = b;
        int c = strcmp(x->id, y->id);
        return c ? c : strcmp(x->hash, y->hash);
}

static char *hash_format(const char *s) {
        return xasprintf("%016" PRIx64, fnv1a64(s));
}

/* The hash of the tables without elements, and (RET_SHAPE not NULL) the
 * tables themselves: what nft_apply() loads whole. */
static char *shape_hash_make(const BridgeView *bridges, size_t n, bool own4, bool own6, bool any_filter,
                             char **ret_shape) {
        _cleanup_free_ char *rules = nft_ruleset(bridges, n, own4, own6), *filter = net_filter_ruleset(any_filter);
        /* "add table" first makes the delete valid when there is none: one
         * transaction, so packets never see a half-made table. */
        _cleanup_free_ char *shape =
                xasprintf("add table inet berth\ndelete table inet berth\n%s%s", rules, filter);
        /* "v2": a state of berth's single-file format never matches. */
        _cleanup_free_ char *versioned = xasprintf("v2\n%s%s", any_filter ? "filter\n" : "", shape);
        if (ret_shape)
                *ret_shape = TAKE_PTR(shape);
        return hash_format(versioned);
}

static int shape_read(int nsfd, char **ret_hash, bool *ret_filter) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(nsfd, NFT_STATE, 256, &text, NULL);
        if (r < 0)
                return r;
        char hash[64], filter[8];
        if (sscanf(text, "SHAPE %63s %7s", hash, filter) != 2 || (!streq(filter, "yes") && !streq(filter, "no")))
                return -EBADMSG;
        *ret_hash = xstrdup(hash);
        *ret_filter = streq(filter, "yes");
        return 0;
}

static int shape_write(int nsfd, const char *hash, bool filter) {
        _cleanup_free_ char *text = xasprintf("SHAPE %s %s\n", hash, filter ? "yes" : "no");
        return write_file_atomic_at(nsfd, NFT_STATE, text, strlen(text), 0600);
}

static int nft_dir_open(int nsfd, bool create) {
        if (create && mkdirat(nsfd, NFT_DIR, 0700) < 0 && errno != EEXIST)
                return -errno;
        return open_dir_nofollow(nsfd, NFT_DIR);
}

static int applied_read(int ndfd, const char *id, Applied *ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(ndfd, id, NFT_MACHINE_MAX, &text, NULL);
        if (r < 0)
                return r;
        text[strcspn(text, "\n")] = 0;
        char *sp = strchr(text, ' ');
        if (!sp)
                return -EBADMSG;
        *sp = 0;
        *ret = (Applied) { .id = xstrdup(id), .hash = xstrdup(text), .del = xstrdup(sp + 1) };
        return 0;
}

static int applied_write(int ndfd, const Applied *a) {
        _cleanup_free_ char *text = xasprintf("%s %s\n", a->hash, a->del);
        return write_file_atomic_at(ndfd, a->id, text, strlen(text), 0600);
}

/* What machine E on bridge B puts in: *RET_ADD (the commands) and its record. */
static void applied_make(const BridgeView *b, const Entry *e, char **ret_add, Applied *ret) {
        *ret_add = machine_elements(b, e, "add");
        char *del = machine_elements(b, e, "delete");
        for (char *c = del; *c; c++)
                if (*c == '\n')
                        *c = ';';
        *ret = (Applied) { .id = xstrdup(e->id), .hash = hash_format(*ret_add), .del = del };
}

/* Every machine's record, sorted; for a sync only. */
static void applied_load_all(int nsfd, Applied **ret, size_t *ret_n) {
        *ret = NULL;
        *ret_n = 0;
        _cleanup_close_ int ndfd = nft_dir_open(nsfd, false);
        _cleanup_closedir_ DIR *d = NULL;
        if (ndfd < 0 || opendir_dup(ndfd, &d) < 0)
                return;
        Applied *list = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                Applied a;
                if (de->d_name[0] == '.' || applied_read(ndfd, de->d_name, &a) < 0)
                        continue;
                list = realloc(list, (n + 1) * sizeof *list);
                if (!list)
                        abort();
                list[n++] = a;
        }
        if (n > 0)
                qsort(list, n, sizeof *list, applied_cmp);
        *ret = list;
        *ret_n = n;
}

static void state_forget(int nsfd) {
        (void) unlinkat(nsfd, NFT_STATE, 0);
        (void) rm_rf_at(nsfd, NFT_DIR);
}

int nft_apply(int nsfd, const BridgeView *bridges, size_t n, bool own4, bool own6) {
        if (n == 0) {
                state_forget(nsfd);
                /* Nothing to do (and no nftables needed) unless our tables are there. */
                struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
                if (!ctx)
                        return log_error_errno(SYNTHETIC_ERRNO(ENOMEM), "Cannot create an nftables context.");
                nft_ctx_buffer_output(ctx);
                nft_ctx_buffer_error(ctx);
                _cleanup_free_ char *cmd = xstrdup("");
                if (nft_run_cmd_from_buffer(ctx, "list table inet berth") == 0)
                        strextendf(&cmd, "delete table inet berth\n");
                if (nft_run_cmd_from_buffer(ctx, "list table bridge berth") == 0)
                        strextendf(&cmd, "delete table bridge berth\n");
                nft_ctx_free(ctx);
                return *cmd ? nft_run(cmd) : 0;
        }
        bool any_filter = false;
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < bridges[i].n; j++)
                        any_filter = any_filter || bridges[i].entries[j].filter;
        _cleanup_free_ char *shape = NULL, *have_hash = NULL;
        _cleanup_free_ char *shape_hash = shape_hash_make(bridges, n, own4, own6, any_filter, &shape);

        /* What should be in: every machine's elements. */
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
                total += bridges[i].n;
        Applied *want = xcalloc(total + 1, sizeof *want);
        char **adds = xcalloc(total + 1, sizeof *adds);
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < bridges[i].n; j++, w++)
                        applied_make(bridges + i, bridges[i].entries + j, &adds[w], &want[w]);

        /* The change from what is in, when the shape is the same. */
        Applied *have = NULL;
        size_t n_have = 0;
        bool have_filter = false;
        bool *kept = NULL, *added = xcalloc(total + 1, sizeof *added);
        _cleanup_free_ char *delta = NULL;
        if (shape_read(nsfd, &have_hash, &have_filter) >= 0 && streq(have_hash, shape_hash)) {
                applied_load_all(nsfd, &have, &n_have);
                delta = xstrdup("");
                kept = xcalloc(n_have + 1, sizeof *kept);
                _cleanup_free_ char *adding = xstrdup("");
                for (size_t i = 0; i < total; i++) {
                        Applied *h = bsearch(want + i, have, n_have, sizeof *have, applied_cmp);
                        if (h)
                                kept[h - have] = true;
                        else {
                                strextendf(&adding, "%s", adds[i]);
                                added[i] = true;
                        }
                }
                /* Deletions first: a machine whose elements changed (same
                 * ID, another hash) gives up its keys before it adds them. */
                for (size_t i = 0; i < n_have; i++)
                        if (!kept[i] && *have[i].del)
                                strextendf(&delta, "%s\n", have[i].del);
                strextendf(&delta, "%s", adding);
        }

        (void) unlinkat(nsfd, NFT_STATE, 0);
        int r = 0;
        if (delta) {
                r = *delta ? nft_run_quiet(delta) : 0;
                if (r < 0)
                        log_debug("nftables refused the change of berth's elements: rebuilding the tables.");
        }
        bool whole = !delta || r < 0;
        if (whole) {
                _cleanup_free_ char *cmd = xstrdup(shape);
                for (size_t i = 0; i < total; i++)
                        strextendf(&cmd, "%s", adds[i]);
                r = nft_run(cmd);
        }

        /* Record what is in now (nothing we can trust after a failure). */
        if (r >= 0) {
                if (whole)
                        (void) rm_rf_at(nsfd, NFT_DIR);
                _cleanup_close_ int ndfd = nft_dir_open(nsfd, true);
                int k = ndfd < 0 ? ndfd : 0;
                for (size_t i = 0; i < n_have && k >= 0; i++)
                        if (!kept[i])
                                (void) unlinkat(ndfd, have[i].id, 0);
                for (size_t i = 0; i < total && k >= 0; i++)
                        if (whole || added[i])
                                k = applied_write(ndfd, want + i);
                if (k >= 0)
                        k = shape_write(nsfd, shape_hash, any_filter);
                if (k < 0)
                        state_forget(nsfd);
        } else
                state_forget(nsfd);

        for (size_t i = 0; i < n_have; i++)
                applied_done(have + i);
        free(have);
        free(kept);
        free(added);
        for (size_t i = 0; i < total; i++) {
                applied_done(want + i);
                free(adds[i]);
        }
        free(want);
        free(adds);
        return r;
}

int nft_machine_add(int nsfd, const BridgeView *bridges, size_t n, bool own4, bool own6, const BridgeView *b,
                    const Entry *e) {
        _cleanup_free_ char *have_hash = NULL;
        bool have_filter = false;
        if (shape_read(nsfd, &have_hash, &have_filter) < 0)
                return -ESTALE;
        /* Where the bridge filter is in, a machine without AddressFilter=
         * leaves it; a first one with it changes the shape. */
        _cleanup_free_ char *shape_hash =
                shape_hash_make(bridges, n, own4, own6, have_filter || e->filter, NULL);
        if (!streq(have_hash, shape_hash))
                return -ESTALE;
        _cleanup_close_ int ndfd = nft_dir_open(nsfd, true);
        if (ndfd < 0)
                return -ESTALE;
        _cleanup_free_ char *add = NULL;
        _cleanup_(applied_done) Applied want = {}, old = {};
        applied_make(b, e, &add, &want);
        _cleanup_free_ char *cmd = xstrdup("");
        /* Its elements of a run whose stop never came (a crash). */
        if (applied_read(ndfd, e->id, &old) >= 0) {
                if (streq(old.hash, want.hash))
                        return 0;
                if (*old.del)
                        strextendf(&cmd, "%s\n", old.del);
        }
        strextendf(&cmd, "%s", add);
        (void) unlinkat(nsfd, NFT_STATE, 0);
        if (*cmd && nft_run_quiet(cmd) < 0) {
                log_debug("nftables refused machine %s's elements: rebuilding the tables.", e->id);
                return -ESTALE;
        }
        if (applied_write(ndfd, &want) < 0 || shape_write(nsfd, have_hash, have_filter) < 0)
                return -ESTALE;
        return 0;
}

int nft_machine_remove(int nsfd, const char *id) {
        _cleanup_close_ int ndfd = nft_dir_open(nsfd, false);
        if (ndfd == -ENOENT)
                return 0;
        if (ndfd < 0)
                return ndfd;
        _cleanup_(applied_done) Applied a = {};
        int r = applied_read(ndfd, id, &a);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        /* What is in is unknown until the change is done (and recorded). */
        _cleanup_free_ char *hash = NULL;
        bool filter = false;
        if (shape_read(nsfd, &hash, &filter) < 0)
                return -ESTALE;
        (void) unlinkat(nsfd, NFT_STATE, 0);
        if (*a.del && nft_run_quiet(a.del) < 0) {
                log_debug("nftables refused to take out machine %s's elements: rebuilding the tables.", id);
                return -EIO;
        }
        if (unlinkat(ndfd, id, 0) < 0 || shape_write(nsfd, hash, filter) < 0)
                return -EIO;
        return 0;
}
