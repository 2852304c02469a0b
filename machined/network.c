/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "fs.h"
#include "hash.h"
#include "log.h"
#include "net-filter.h"
#include "netlink.h"
#include "network.h"
#include "portproxy.h"
#include "unit.h"
#include "util.h"

#define NETWORK_RUN_DIR "/run/berth-network"
#define DNSMASQ_PATH "/usr/sbin/dnsmasq"
/* dnsmasq's own state, outside the root-only namespace dirs: see dnsmasq_dir_open(). */
#define DNSMASQ_RUN_DIR NETWORK_RUN_DIR "/dnsmasq"
#define DNSMASQ_USER "nobody"
#define ENTRY_MAX 4096
#define DNSMASQ_STOP_TIMEOUT_MS 3000
#define NETWORK_LINGER_SEC 5

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* ----- One running machine on a bridge: BRIDGE/machines/ID ----- */

typedef struct Entry {
        char id[128];
        char name[128];
        pid_t pid;                    /* the supervisor (for people reading the file) */
        IPAddr addr, addr6;
        uint8_t mac[6];
        char veth[IFNAMSIZ];          /* the host side of its veth pair */
        PortForward ports[CONFIG_PORTS_MAX];
        size_t n_ports;
        bool filter;                  /* AddressFilter= (net-filter.h) */
} Entry;

/* A stable MAC address for S: unicast, locally administered. */
static void mac_from_name(const char *s, uint8_t mac[6]) {
        uint64_t h = fnv1a64(s);
        for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t) (h >> (8 * i));
        mac[0] = (uint8_t) ((mac[0] & 0xfe) | 0x02);
}

static char *entry_format(const Entry *e) {
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
static int entry_parse(const char *id, char *text, Entry *ret) {
        /* An entry without FILTER= (an older supervisor's) is filtered. */
        Entry e = { .filter = true };
        if (strlen(id) >= sizeof e.id)
                return -EBADMSG;
        memcpy(e.id, id, strlen(id) + 1);
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                if (!eq)
                        return -EBADMSG;
                *eq = 0;
                const char *k = line, *v = eq + 1;
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
static bool entry_alive(int mfd, const char *id) {
        _cleanup_close_ int fd = openat(mfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return false;
        return flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

/* The live entries of a bridge dir; stale ones (supervisor gone) are removed. */
static int entries_load(int brfd, Entry **ret, size_t *ret_n) {
        *ret = NULL;
        *ret_n = 0;
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
                _cleanup_free_ char *text = NULL;
                Entry e;
                if (!entry_alive(mfd, de->d_name) || read_file_at(mfd, de->d_name, ENTRY_MAX, &text, NULL) < 0 ||
                    entry_parse(de->d_name, text, &e) < 0) {
                        log_debug("Dropping stale network entry %s.", de->d_name);
                        (void) unlinkat(mfd, de->d_name, 0);
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

static int netns_cookie(uint64_t *ret) {
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
static int ns_dir_lock(char **ret_path, bool create) {
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

static bool same_netns_as_pid1(void) {
        struct stat a, b;
        return stat("/proc/1/ns/net", &a) >= 0 && stat("/proc/self/ns/net", &b) >= 0 && a.st_ino == b.st_ino &&
               a.st_dev == b.st_dev;
}

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

static int sysctl_write(const char *key, const char *value) {
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
static int forwarding_enable(int nsfd) {
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
static void forwarding_owned(int nsfd, bool *ret4, bool *ret6) {
        _cleanup_free_ char *saved = NULL;
        *ret4 = *ret6 = false;
        if (read_file_at(nsfd, "sysctl", 64 * 1024, &saved, NULL) < 0)
                return;
        *ret4 = strstr(saved, "net/ipv4/ip_forward=") != NULL;
        *ret6 = strstr(saved, "net/ipv6/conf/all/forwarding=") != NULL;
}

static void forwarding_restore(int nsfd) {
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

/* ----- nftables: the whole "inet berth" table from the live entries ----- */

typedef struct BridgeView {
        char name[IFNAMSIZ];
        IPNet subnet, subnet6;
        Entry *entries;
        size_t n;
} BridgeView;

static void nft_port_rules(char **s, const BridgeView *b) {
        for (size_t i = 0; i < b->n; i++) {
                const Entry *e = b->entries + i;
                for (size_t k = 0; k < e->n_ports; k++) {
                        const PortForward *p = e->ports + k;
                        const char *proto = port_protocol_to_string(p->protocol);
                        char a[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
                        strextendf(s,
                                   "    fib daddr type local meta nfproto ipv4 %s dport %u dnat ip to %s:%u\n"
                                   /* Not ::1: Linux never routes it off the host; portproxy.h relays it. */
                                   "    ip6 daddr != ::1 fib daddr type local %s dport %u dnat ip6 to [%s]:%u\n",
                                   proto, p->host_port, ipaddr_format(&e->addr, a), p->guest_port, proto,
                                   p->host_port, ipaddr_format(&e->addr6, a6), p->guest_port);
                }
        }
}

static char *nft_ruleset(const BridgeView *bridges, size_t n, bool own4, bool own6) {
        char *s = xstrdup("table inet berth {\n");
        /* route_localnet (see bridge_ensure()) would also let a guest send to
         * the host's 127.0.0.1 services: nothing from a bridge may be
         * addressed there.  Before conntrack, so no NAT can dress it up. */
        strextendf(&s, "  chain raw-prerouting {\n    type filter hook prerouting priority raw; policy accept;\n");
        for (size_t i = 0; i < n; i++)
                strextendf(&s, "    iifname \"%s\" ip daddr 127.0.0.0/8 drop\n", bridges[i].name);
        /* Port forwards: from anywhere to any local address (other hosts,
         * machines on the bridge), and from the host itself (output). */
        strextendf(&s, "  }\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n");
        for (size_t i = 0; i < n; i++)
                nft_port_rules(&s, bridges + i);
        strextendf(&s, "  }\n  chain output {\n    type nat hook output priority -100; policy accept;\n");
        for (size_t i = 0; i < n; i++)
                nft_port_rules(&s, bridges + i);
        strextendf(&s, "  }\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for (size_t i = 0; i < n; i++) {
                const BridgeView *b = bridges + i;
                char sn[IPNET_STRLEN], sn6[IPNET_STRLEN];
                ipnet_format(&b->subnet, sn);
                ipnet_format(&b->subnet6, sn6);
                strextendf(&s,
                           /* Egress: the machines' addresses leave as the host's. */
                           "    ip saddr %s ip daddr != %s masquerade\n"
                           "    ip6 saddr %s ip6 daddr != %s masquerade\n"
                           /* A forward used from the host's 127.0.0.1 (route_localnet
                            * lets it out) or from a machine on the same bridge
                            * (hairpin): answers must come back through us. */
                           "    oifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n"
                           "    oifname \"%s\" ip saddr %s ct status dnat masquerade\n"
                           "    oifname \"%s\" ip6 saddr %s ct status dnat masquerade\n",
                           sn, sn, sn6, sn6, b->name, b->name, sn, b->name, sn6);
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
         * br_netfilter), answers, and port forwards; nothing else, not even
         * from another berth bridge. */
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

static int nft_run(const char *cmd) {
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return log_error_errno(SYNTHETIC_ERRNO(ENOMEM), "Cannot create an nftables context.");
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        int r = nft_run_cmd_from_buffer(ctx, cmd);
        if (r != 0) {
                const char *err = nft_ctx_get_error_buffer(ctx);
                log_error("nftables refused berth's rules: %s", err && *err ? err : "(no message)");
                log_debug("The rules were:\n%s", cmd);
        }
        nft_ctx_free(ctx);
        return r != 0 ? -EIO : 0;
}

/* The filtered ports of all bridges (AddressFilter=yes). */
static FilterPort *nft_filter_ports(const BridgeView *bridges, size_t n, size_t *ret_n) {
        FilterPort *ports = NULL;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < bridges[i].n; j++) {
                        const Entry *e = bridges[i].entries + j;
                        /* Our own names; the check keeps the rules' syntax whole. */
                        if (!e->filter || !ifname_is_valid(e->veth))
                                continue;
                        ports = realloc(ports, (k + 1) * sizeof *ports);
                        if (!ports)
                                abort();
                        ports[k] = (FilterPort) { .addr = e->addr, .addr6 = e->addr6, .subnet6 = bridges[i].subnet6 };
                        memcpy(ports[k].ifname, e->veth, sizeof ports[k].ifname);
                        memcpy(ports[k].mac, e->mac, sizeof ports[k].mac);
                        k++;
                }
        *ret_n = k;
        return ports;
}

static int nft_apply(const BridgeView *bridges, size_t n, bool own4, bool own6) {
        if (n == 0) {
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
        /* "add table" first makes the delete valid when there is none: one
         * transaction, so packets never see a half-made table. */
        size_t n_ports = 0;
        _cleanup_free_ FilterPort *ports = nft_filter_ports(bridges, n, &n_ports);
        _cleanup_free_ char *rules = nft_ruleset(bridges, n, own4, own6),
                            *filter = net_filter_ruleset(ports, n_ports);
        _cleanup_free_ char *cmd = xasprintf("add table inet berth\ndelete table inet berth\n%s%s", rules, filter);
        return nft_run(cmd);
}

/* ----- dnsmasq: DHCP (the same addresses berth assigns) and DNS ----- */

/* The dir of bridge BRIDGE's dnsmasq in the namespace whose state dir is
 * NS_PATH: DNSMASQ_RUN_DIR/COOKIE-BRIDGE. */
static char *dnsmasq_dir_path(const char *ns_path, const char *bridge) {
        const char *cookie = strrchr(ns_path, '/');
        return xasprintf(DNSMASQ_RUN_DIR "/%s-%s", cookie ? cookie + 1 : ns_path, bridge);
}

/* The user dnsmasq drops to, and its group.  Returns 0 or -ENOENT, logged. */
static int dnsmasq_user(gid_t *ret_gid, char **ret_group) {
        struct passwd *pw = getpwnam(DNSMASQ_USER);
        struct group *gr = pw ? getgrgid(pw->pw_gid) : NULL;
        if (!gr)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT),
                                       "No user \"" DNSMASQ_USER "\" (or no group of it) on this host: dnsmasq "
                                       "runs as that user; add it.");
        if (ret_gid)
                *ret_gid = gr->gr_gid;
        if (ret_group)
                *ret_group = xstrdup(gr->gr_name);
        return 0;
}

/* dnsmasq reads its hosts file after dropping root (on every SIGHUP too),
 * so it cannot live in the root-only namespace dir: it gets a dir of its
 * own for its pid, hosts, leases and log, owned by root and readable by
 * dnsmasq's group only (0750; the hosts file 0640), so that it can read
 * but not write there, and root never works in a dir that an unprivileged
 * process can change.  With CREATE, made (and its mode fixed) when
 * missing.  Returns the dir fd, -ENOENT. */
static int dnsmasq_dir_open(const char *path, bool create) {
        if (create) {
                if (mkdir(DNSMASQ_RUN_DIR, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", DNSMASQ_RUN_DIR);
                if (mkdir(path, 0750) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", path);
        }
        _cleanup_close_ int fd = open_dir_nofollow(AT_FDCWD, path);
        if (fd < 0) {
                if (fd == -ENOENT && !create)
                        return fd;
                return log_error_errno(fd, "Cannot open %s: %m", path);
        }
        if (!create)
                return TAKE_FD(fd);
        gid_t gid;
        int r = dnsmasq_user(&gid, NULL);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Cannot inspect %s: %m", path);
        if ((st.st_uid != 0 || st.st_gid != gid) && fchown(fd, 0, gid) < 0)
                return log_error_errno(errno, "Cannot give %s to group %u: %m", path, (unsigned) gid);
        if ((st.st_mode & 07777) != 0750 && fchmod(fd, 0750) < 0)
                return log_error_errno(errno, "Cannot set the mode of %s: %m", path);
        return TAKE_FD(fd);
}

static pid_t dnsmasq_running(int dfd) {
        _cleanup_free_ char *text = NULL;
        int pid;
        if (read_file_at(dfd, "pid", 64, &text, NULL) < 0)
                return 0;
        text[strcspn(text, "\n")] = 0;
        if (safe_atoi(text, &pid) < 0 || pid <= 1)
                return 0;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/comm", pid);
        _cleanup_free_ char *comm = NULL;
        if (read_file_at(AT_FDCWD, path, 64, &comm, NULL) < 0 || !startswith(comm, "dnsmasq"))
                return 0;
        /* Guests' processes are visible here too, and a guest may well run a
         * dnsmasq under a recycled pid: ours lives in our network namespace. */
        struct stat a, b;
        snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
        if (stat(path, &a) < 0 || stat("/proc/self/ns/net", &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
                return 0;
        return pid;
}

/* Stop the bridge's dnsmasq and wait for it to go, so that a new one can
 * bind the same addresses right away. */
static void dnsmasq_stop(int dfd) {
        pid_t pid = dnsmasq_running(dfd);
        if (pid > 0) {
                _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                (void) kill(pid, SIGTERM);
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                if (pidfd >= 0 && poll(&p, 1, DNSMASQ_STOP_TIMEOUT_MS) == 0)
                        (void) kill(pid, SIGKILL);
        }
        (void) unlinkat(dfd, "pid", 0);
}

static int dnsmasq_start(const char *dir, const BridgeView *b) {
        char gw[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN], net6[INET6_ADDRSTRLEN], mask[INET6_ADDRSTRLEN];
        IPAddr g = ipnet_host(&b->subnet, 1);
        IPAddr m = { .family = AF_INET };
        m.v4.s_addr = htonl(b->subnet.prefixlen == 0 ? 0 : ~UINT32_C(0) << (32 - b->subnet.prefixlen));
        ipaddr_format(&g, gw);
        ipaddr_format(&b->subnet.addr, net);
        ipaddr_format(&b->subnet6.addr, net6);
        ipaddr_format(&m, mask);

        _cleanup_free_ char *group = NULL;
        int r = dnsmasq_user(NULL, &group);
        if (r < 0)
                return r;
        _cleanup_free_ char *a_group = xasprintf("--group=%s", group),
                            *a_pid = xasprintf("--pid-file=%s/pid", dir),
                            *a_if = xasprintf("--interface=%s", b->name),
                            *a_range = xasprintf("--dhcp-range=%s,static,%s", net, mask),
                            *a_range6 = xasprintf("--dhcp-range=%s,static,%u", net6, b->subnet6.prefixlen),
                            *a_hosts = xasprintf("--dhcp-hostsfile=%s/hosts", dir),
                            *a_leases = xasprintf("--dhcp-leasefile=%s/leases", dir),
                            *a_router = xasprintf("--dhcp-option=option:router,%s", gw),
                            *a_dns = xasprintf("--dhcp-option=option:dns-server,%s", gw),
                            *a_log = xasprintf("--log-facility=%s/log", dir);
        char *argv[] = { (char *) DNSMASQ_PATH, (char *) "--conf-file=/dev/null", (char *) "--user=" DNSMASQ_USER,
                         a_group, a_pid, a_if,
                         (char *) "--bind-interfaces", (char *) "--except-interface=lo", a_hosts, a_leases, a_router, a_dns, (char *) "--dhcp-authoritative",
                         (char *) "--quiet-dhcp", (char *) "--quiet-ra", a_log, a_range,
                         /* Stateful DHCPv6 with each machine's own address, and
                          * router advertisements with the "managed" flag and no
                          * SLAAC: a guest's DHCPv6 client (networkd's) gets the
                          * very address berth configured, never another one. */
                         a_range6, (char *) "--enable-ra", NULL };

        /* Under systemd (and in its network namespace) dnsmasq is a unit of
         * its own: forked from a supervisor it would live in that machine's
         * unit and die with it, leaving the other machines without DHCP/DNS. */
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        if (same_netns_as_pid1() && sd_booted() > 0 && sd_bus_open_system(&bus) >= 0) {
                uint64_t cookie = 0;
                (void) netns_cookie(&cookie);
                _cleanup_free_ char *unit = xasprintf("berth-dnsmasq-%s-%" PRIu64 ".service", b->name, cookie),
                                    *desc = xasprintf("DHCP and DNS for berth bridge %s", b->name),
                                    *pidfile = xasprintf("%s/pid", dir);
                return unit_start_daemon(bus, unit, desc, pidfile, argv);
        }

        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0) {
                /* A clean slate: the supervisor blocks and ignores signals. */
                sigset_t none;
                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                (void) signal(SIGPIPE, SIG_DFL);
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0)
                        (void) dup2(null, STDIN_FILENO);
                int keep[] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };
                (void) close_all_fds_except(keep, ELEMENTSOF(keep));
                execv(argv[0], argv);
                _exit(127);
        }
        /* dnsmasq daemonizes: its first process exits once the server runs,
         * with a status and a message on stderr if it cannot. */
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return log_error_errno(errno, "waitpid failed: %m");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO),
                                       WIFEXITED(status) && WEXITSTATUS(status) == 127
                                               ? "Cannot run " DNSMASQ_PATH " (install dnsmasq-base)."
                                               : "dnsmasq failed to start for bridge %s (see %s/log).",
                                       b->name, dir);
        return 0;
}

static int dnsmasq_update(const char *dir, const BridgeView *b) {
        _cleanup_free_ char *hosts = xstrdup("");
        for (size_t i = 0; i < b->n; i++) {
                const Entry *e = b->entries + i;
                char a[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
                /* The same addresses as in network_attach(), over DHCPv4 and DHCPv6. */
                strextendf(&hosts, "%02x:%02x:%02x:%02x:%02x:%02x,%s,[%s]\n", e->mac[0], e->mac[1], e->mac[2],
                           e->mac[3], e->mac[4], e->mac[5], ipaddr_format(&e->addr, a), ipaddr_format(&e->addr6, a6));
        }
        _cleanup_close_ int dfd = dnsmasq_dir_open(dir, true);
        if (dfd < 0)
                return dfd;
        /* Group-readable: dnsmasq's group is the dir's (dnsmasq_dir_open()). */
        int r = write_file_atomic_at(dfd, "hosts", hosts, strlen(hosts), 0640);
        struct stat st;
        if (r >= 0)
                r = RET_NERRNO(fstat(dfd, &st));
        if (r >= 0)
                r = RET_NERRNO(fchownat(dfd, "hosts", 0, st.st_gid, AT_SYMLINK_NOFOLLOW));
        if (r < 0)
                return log_error_errno(r, "Cannot write %s/hosts: %m", dir);
        pid_t pid = dnsmasq_running(dfd);
        if (pid > 0)
                return RET_NERRNO(kill(pid, SIGHUP)); /* rereads the hosts file */
        return dnsmasq_start(dir, b);
}

/* ----- Bridges ----- */

static int bridge_subnets_read(int brfd, IPNet *ret, IPNet *ret6) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(brfd, "subnets", 256, &text, NULL);
        if (r < 0)
                return r;
        char *sp = strchr(text, ' ');
        const char *reason;
        if (!sp)
                return -EBADMSG;
        *sp = 0;
        sp[1 + strcspn(sp + 1, "\n")] = 0;
        if (ipnet_parse(text, AF_INET, ret, &reason) < 0 || ipnet_parse(sp + 1, AF_INET6, ret6, &reason) < 0)
                return -EBADMSG;
        return 0;
}

/* Remove what berth made for bridge NAME, and its state. */
static void bridge_teardown(Netlink *nl, int nsfd, const char *ns_path, const char *name) {
        _cleanup_free_ char *ddir = dnsmasq_dir_path(ns_path, name);
        _cleanup_close_ int dfd = dnsmasq_dir_open(ddir, false);
        if (dfd >= 0) {
                dnsmasq_stop(dfd);
                (void) rm_rf_at(AT_FDCWD, ddir);
        }
        _cleanup_close_ int brfd = open_dir_nofollow(nsfd, name);
        if (brfd >= 0) {
                if (faccessat(brfd, "created", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                        int ifindex = netlink_link_index(nl, name);
                        if (ifindex > 0) {
                                int r = netlink_link_delete(nl, ifindex);
                                if (r < 0)
                                        log_warning_errno(r, "Cannot remove bridge %s: %m", name);
                        }
                }
        }
        (void) rm_rf_at(nsfd, name);
}

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
                (void) nft_apply(NULL, 0, false, false);
                forwarding_restore(nsfd);
        }
        for (char **b = dead; b && *b; b++)
                bridge_teardown(&nl, nsfd, ns_path, *b);
        if (last) {
                /* Nothing left of berth's network here: no state either (the
                 * dir is its own lock; see ns_dir_lock()).  Fails harmlessly
                 * while a bridge dir remains. */
                if (flags & SYNC_REMOVE_DIR)
                        (void) rmdir(ns_path);
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

/* Recompute everything from the entries: the one path for start, stop,
 * crash recovery and gc.  Called with NSDIR's lock held. */
static int network_sync(int nsfd, const char *ns_path, SyncFlags flags) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(nsfd, &d);
        if (r < 0)
                return log_error_errno(r, "Cannot list %s: %m", ns_path);
        BridgeView *views = NULL;
        size_t n_views = 0;
        _cleanup_strv_free_ char **dead = NULL;
        struct dirent *de;
        int ret = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || !ifname_is_valid(de->d_name))
                        continue;
                _cleanup_close_ int brfd = open_dir_nofollow(nsfd, de->d_name);
                if (brfd < 0)
                        continue; /* a file: lock, sysctl */
                BridgeView v = {};
                memcpy(v.name, de->d_name, strlen(de->d_name) + 1); /* ifname_is_valid(): fits */
                r = entries_load(brfd, &v.entries, &v.n);
                if (r < 0) {
                        log_warning_errno(r, "Cannot read the machines of bridge %s: %m", v.name);
                        continue;
                }
                if (v.n == 0) {
                        dead = strv_append(dead, v.name);
                        continue;
                }
                if (faccessat(brfd, "external", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
                    bridge_subnets_read(brfd, &v.subnet, &v.subnet6) < 0) {
                        free(v.entries);
                        continue;
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

        if (n_views > 0) {
                bool own4 = false, own6 = false;
                r = forwarding_enable(nsfd);
                if (r < 0 && ret == 0)
                        ret = r;
                forwarding_owned(nsfd, &own4, &own6);
                r = nft_apply(views, n_views, own4, own6);
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

/* Create bridge NAME with the gateway addresses, or check an existing one. */
static int bridge_ensure(int nsfd, Network *net) {
        _cleanup_(netlink_close) Netlink nl = NETLINK_INIT;
        int r = netlink_open(&nl);
        if (r < 0)
                return log_error_errno(r, "Cannot open a netlink socket: %m");

        if (mkdirat(nsfd, net->bridge, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create the state of bridge %s: %m", net->bridge);
        _cleanup_close_ int brfd = open_dir_nofollow(nsfd, net->bridge);
        if (brfd < 0)
                return log_error_errno(brfd, "Cannot open the state of bridge %s: %m", net->bridge);
        if (mkdirat(brfd, "machines", 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create the state of bridge %s: %m", net->bridge);

        int ifindex = netlink_link_index(&nl, net->bridge);
        bool ours = faccessat(brfd, "created", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        if (ifindex > 0 && !ours) {
                /* Somebody else's bridge (a LAN bridge, say): plug in, manage nothing. */
                net->external = true;
                r = write_file_atomic_at(brfd, "external", "", 0, 0600);
                return r < 0 ? log_error_errno(r, "Cannot record bridge %s: %m", net->bridge) : 0;
        }
        (void) unlinkat(brfd, "external", 0);

        IPNet sn, sn6;
        char want[2 * IPNET_STRLEN + 2], a[IPNET_STRLEN], b[IPNET_STRLEN];
        snprintf(want, sizeof want, "%s %s\n", ipnet_format(&net->subnet, a), ipnet_format(&net->subnet6, b));
        if (bridge_subnets_read(brfd, &sn, &sn6) >= 0) {
                if (sn.prefixlen != net->subnet.prefixlen || !ipaddr_equal(&sn.addr, &net->subnet.addr) ||
                    sn6.prefixlen != net->subnet6.prefixlen || !ipaddr_equal(&sn6.addr, &net->subnet6.addr)) {
                        char c[IPNET_STRLEN], e[IPNET_STRLEN];
                        return log_error_errno(SYNTHETIC_ERRNO(EADDRINUSE),
                                               "Bridge %s runs machines on %s and %s, not %s and %s: give "
                                               "this machine the same Subnet=/IPv6Subnet= or another Bridge=.",
                                               net->bridge, ipnet_format(&sn, c), ipnet_format(&sn6, e), a, b);
                }
        } else {
                r = write_file_atomic_at(brfd, "subnets", want, strlen(want), 0600);
                if (r < 0)
                        return log_error_errno(r, "Cannot record the subnets of bridge %s: %m", net->bridge);
        }

        if (ifindex <= 0) {
                /* Marked first: a bridge berth made is never left unmarked. */
                r = write_file_atomic_at(brfd, "created", "", 0, 0600);
                if (r < 0)
                        return log_error_errno(r, "Cannot record bridge %s: %m", net->bridge);
                /* A fixed address: left to the kernel, a bridge takes its
                 * lowest port's, so it would change as machines come and go
                 * and the running ones would keep a stale gateway neighbour
                 * entry for seconds.  Not the machines' hash input (an ID
                 * may equal a bridge name). */
                uint8_t mac[6];
                _cleanup_free_ char *seed = xasprintf("berth-bridge/%s", net->bridge);
                mac_from_name(seed, mac);
                r = netlink_bridge_create(&nl, net->bridge, mac);
                if (r < 0 && r != -EEXIST)
                        return log_error_errno(r, "Cannot create bridge %s: %m", net->bridge);
                /* The host is the router here: an advertisement from a guest
                 * must never give it routes or addresses. */
                _cleanup_free_ char *ra = xasprintf("net/ipv6/conf/%s/accept_ra", net->bridge);
                r = sysctl_write(ra, "0");
                if (r < 0)
                        return log_error_errno(r, "Cannot set %s: %m", ra);
                ifindex = netlink_link_index(&nl, net->bridge);
                if (ifindex < 0)
                        return log_error_errno(ifindex, "Cannot find bridge %s: %m", net->bridge);
        }
        r = netlink_addr_add(&nl, ifindex, &net->gateway, net->subnet.prefixlen, false);
        if (r >= 0)
                r = netlink_addr_add(&nl, ifindex, &net->gateway6, net->subnet6.prefixlen, true);
        if (r < 0)
                return log_error_errno(r, "Cannot give bridge %s its gateway addresses: %m", net->bridge);
        r = netlink_link_up(&nl, ifindex, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot bring up bridge %s: %m", net->bridge);
        /* Lets a port forward used from 127.0.0.1 leave through the bridge
         * (then masqueraded): nspawn's forwards never worked from loopback. */
        _cleanup_free_ char *key = xasprintf("net/ipv4/conf/%s/route_localnet", net->bridge);
        r = sysctl_write(key, "1");
        if (r < 0)
                log_warning_errno(r, "Cannot set %s, port forwards will not answer on 127.0.0.1: %m", key);
        return 0;
}

/* ----- Addresses ----- */

/* Index of the address reserved for this machine in its machine dir, or 0. */
static uint32_t reservation_read(int mfd, const IPNet *subnet) {
        _cleanup_free_ char *text = NULL;
        IPAddr a;
        if (read_file_at(mfd, "address", 256, &text, NULL) < 0)
                return 0;
        text[strcspn(text, "\n")] = 0;
        if (ipaddr_parse(text, &a) < 0)
                return 0;
        return ipnet_host_index(subnet, &a);
}

/* Pick the machine's host index: its old one if still free, else the first
 * free one from a place derived from its ID.  "Free" means neither running
 * on this bridge nor reserved by another machine of this state root. */
static int address_allocate(Network *net, Store *store, const char *name, const Entry *live, size_t n_live,
                            uint32_t *ret) {
        uint32_t max = ipnet_host_max(&net->subnet);
        _cleanup_free_ uint8_t *used = xcalloc(max + 1, 1);
        used[0] = used[1] = 1; /* the network and the gateway */
        for (size_t i = 0; i < n_live; i++) {
                uint32_t k = ipnet_host_index(&net->subnet, &live[i].addr);
                if (k > 0 && !streq(live[i].id, net->id))
                        used[k] = 1;
        }
        char **names = NULL;
        int r = store_list_machines(store, &names);
        if (r < 0)
                return log_error_errno(r, "Cannot list machines: %m");
        uint32_t mine = 0;
        for (char **nm = names; nm && *nm; nm++) {
                _cleanup_close_ int mfd = open_dir_nofollow(store->machines_fd, *nm);
                if (mfd < 0)
                        continue;
                uint32_t k = reservation_read(mfd, &net->subnet);
                if (streq(*nm, name))
                        mine = k;
                else if (k > 0)
                        used[k] = 1;
        }
        strv_free(names);
        if (mine > 0 && !used[mine]) {
                *ret = mine;
                return 0;
        }
        uint32_t span = max - 1, start = (uint32_t) (fnv1a64(net->id) % span);
        for (uint32_t i = 0; i < span; i++) {
                uint32_t k = 2 + (start + i) % span;
                if (!used[k]) {
                        *ret = k;
                        return 0;
                }
        }
        char sn[IPNET_STRLEN];
        return log_error_errno(SYNTHETIC_ERRNO(EADDRNOTAVAIL),
                               "No free address left in %s for machine %s: use a larger Subnet=.",
                               ipnet_format(&net->subnet, sn), name);
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

/* Under the namespace lock, before anything is made: what this machine
 * wants must not clash with any running machine on any bridge of this
 * namespace (a host port, a veth name) or with another bridge's subnets. */
static int check_conflicts(int nsfd, const Network *net) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(nsfd, &d);
        if (r < 0)
                return log_error_errno(r, "Cannot list %s: %m", net->ns_dir);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || !ifname_is_valid(de->d_name))
                        continue;
                _cleanup_close_ int brfd = open_dir_nofollow(nsfd, de->d_name);
                if (brfd < 0)
                        continue;
                IPNet sn, sn6;
                if (!streq(de->d_name, net->bridge) && bridge_subnets_read(brfd, &sn, &sn6) >= 0 &&
                    (ipnet_overlaps(&sn, &net->subnet) || ipnet_overlaps(&sn6, &net->subnet6))) {
                        char a[IPNET_STRLEN], b[IPNET_STRLEN];
                        return log_error_errno(SYNTHETIC_ERRNO(EADDRINUSE),
                                               "Bridge %s uses %s and %s, which overlap this machine's subnets: give "
                                               "bridge %s other Subnet=/IPv6Subnet= values.",
                                               de->d_name, ipnet_format(&sn, a), ipnet_format(&sn6, b), net->bridge);
                }
                _cleanup_free_ Entry *live = NULL;
                size_t n = 0;
                if (entries_load(brfd, &live, &n) < 0)
                        continue;
                for (size_t i = 0; i < n; i++) {
                        if (streq(live[i].id, net->id))
                                continue;
                        if (streq(live[i].veth, net->host_ifname))
                                return log_error_errno(SYNTHETIC_ERRNO(EADDRINUSE),
                                                       "Machine %s has the interface name %s already: rename one "
                                                       "of the two machines.",
                                                       live[i].name, net->host_ifname);
                        for (size_t k = 0; k < live[i].n_ports; k++)
                                for (size_t j = 0; j < net->n_ports; j++)
                                        if (live[i].ports[k].protocol == net->ports[j].protocol &&
                                            live[i].ports[k].host_port == net->ports[j].host_port)
                                                return log_error_errno(
                                                        SYNTHETIC_ERRNO(EADDRINUSE),
                                                        "Port %s/%u is forwarded to machine %s already.",
                                                        port_protocol_to_string(net->ports[j].protocol),
                                                        net->ports[j].host_port, live[i].name);
                }
        }
        return 0;
}

/* Under the namespace lock: the bridge, an address, our entry. */
static int bridge_register(Network *net, Store *store, const char *name, int nsfd) {
        int r = check_conflicts(nsfd, net);
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

        _cleanup_free_ Entry *live = NULL;
        size_t n_live = 0;
        r = entries_load(brfd, &live, &n_live);
        if (r < 0)
                return log_error_errno(r, "Cannot read the machines of bridge %s: %m", net->bridge);

        if (!net->external) {
                uint32_t k = 0;
                r = address_allocate(net, store, name, live, n_live, &k);
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

        return 0;
}

int network_prepare(Network *net, Store *store, const char *name, const MachineConfig *cfg, bool unit) {
        *net = (Network) { .mode = cfg->network_mode, .entry_lock_fd = -EBADF, .unit = unit };
        if (cfg->n_ports > 0 && cfg->network_mode != NETWORK_MODE_BRIDGE)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Port forwards (Port=, --port) need [Network] Mode=bridge, not Mode=%s.",
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
        net->subnet = cfg->subnet;
        net->subnet6 = cfg->ipv6_subnet;
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

        /* Entries of crashed supervisors are dropped as the checks read them
         * (entries_load()), so their addresses come free.  A bridge kept for
         * a while after its last machine (teardown_maybe_background()) is
         * simply used again.  Whatever happens, sync then: on failure that
         * removes what this start made (a bridge nobody uses, say). */
        int r = bridge_register(net, store, name, nsfd);
        int k = network_sync(nsfd, net->ns_dir, SYNC_REMOVE_DIR);
        return r < 0 ? r : k;
}

int network_attach(Network *net, int netns_fd) {
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
        if (net->mode != NETWORK_MODE_BRIDGE || net->external || !net->registered)
                return NULL;
        char a[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
        return xasprintf("%s %s", ipaddr_format(&net->addr, a), ipaddr_format(&net->addr6, a6));
}

void network_release(Network *net) {
        /* The veth goes with the machine's network namespace (the kernel
         * deletes both ends); deleting it here would only wait for that. */
        net->host_ifindex = 0;
        if (!net->registered)
                return;
        _cleanup_close_ int nsfd = ns_dir_lock(NULL, false);
        if (nsfd < 0)
                return;
        _cleanup_free_ char *path = xasprintf("%s/machines/%s", net->bridge, net->id);
        (void) unlinkat(nsfd, path, 0);
        closep(&net->entry_lock_fd);
        net->registered = false;
        /* Under systemd the unit's remaining processes die with the
         * supervisor, a background teardown with them: only in direct mode. */
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
