/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include "netlink.h"
#include "util.h"

int netlink_open(Netlink *n) {
        struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!s)
                return -errno;
        if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = -errno;
                mnl_socket_close(s);
                return r;
        }
        *n = (Netlink) { .sock = s, .seq = (uint32_t) time(NULL), .portid = mnl_socket_get_portid(s) };
        return 0;
}

int netlink_open_in(Netlink *n, int netns_fd) {
        _cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return -errno;
        if (setns(netns_fd, CLONE_NEWNET) < 0)
                return -errno;
        int r = netlink_open(n);
        /* Going back cannot fail for a process that could leave. */
        if (setns(self, CLONE_NEWNET) < 0)
                abort();
        return r;
}

void netlink_close(Netlink *n) {
        if (n->sock)
                mnl_socket_close(n->sock);
        n->sock = NULL;
}

/* Send NLH and wait for the kernel's acknowledgement; replies other than
 * the ack go to CB (may be NULL). */
static int request(Netlink *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data) {
        nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = ++n->seq;
        if (mnl_socket_sendto(n->sock, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        char buf[MNL_SOCKET_BUFFER_SIZE];
        for (;;) {
                ssize_t len = mnl_socket_recvfrom(n->sock, buf, sizeof buf);
                if (len < 0)
                        return -errno;
                int r = mnl_cb_run(buf, (size_t) len, n->seq, n->portid, cb, data);
                if (r < 0)
                        return -errno;
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

static struct nlmsghdr *link_msg(char *buf, uint16_t type, uint16_t flags, int ifindex) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = flags;
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        return nlh;
}

int netlink_bridge_create(Netlink *n, const char *name, const uint8_t mac[6]) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        /* An address given at creation is "set" (addr_assign_type 3): the
         * kernel then never replaces it with the lowest port's address. */
        mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
        struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
        mnl_attr_nest_end(nlh, info);
        return request(n, nlh, NULL, NULL);
}

int netlink_veth_create(Netlink *n, const char *host_name, const char *peer_name, const uint8_t peer_mac[6],
                        int peer_netns_fd) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name);
        struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        /* The peer is described by an ifinfomsg of its own, then its attributes. */
        struct ifinfomsg *pifi = mnl_nlmsg_get_payload_tail(nlh);
        memset(pifi, 0, sizeof *pifi);
        pifi->ifi_family = AF_UNSPEC;
        nlh->nlmsg_len += MNL_ALIGN(sizeof *pifi);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
        mnl_attr_put(nlh, IFLA_ADDRESS, 6, peer_mac);
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t) peer_netns_fd);
        mnl_attr_nest_end(nlh, peer);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, info);
        return request(n, nlh, NULL, NULL);
}

int netlink_vlan_create(Netlink *n, const char *kind, const char *name, int parent_ifindex, int netns_fd) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        mnl_attr_put_u32(nlh, IFLA_LINK, (uint32_t) parent_ifindex);
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t) netns_fd);
        struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
        struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        if (streq(kind, "macvlan"))
                /* Bridge mode: machines on one parent reach each other. */
                mnl_attr_put_u32(nlh, IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
        else
                mnl_attr_put_u16(nlh, IFLA_IPVLAN_MODE, IPVLAN_MODE_L2);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, info);
        return request(n, nlh, NULL, NULL);
}

int netlink_link_delete(Netlink *n, int ifindex) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = link_msg(buf, RTM_DELLINK, 0, ifindex);
        return request(n, nlh, NULL, NULL);
}

int netlink_link_up(Netlink *n, int ifindex, int master) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
        struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
        if (master > 0)
                mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t) master);
        return request(n, nlh, NULL, NULL);
}

int netlink_addr_add(Netlink *n, int ifindex, const IPAddr *a, unsigned prefixlen, bool nodad) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_NEWADDR;
        /* Already there (a restart of the same machine): fine. */
        nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
        ifa->ifa_family = (uint8_t) a->family;
        ifa->ifa_prefixlen = (uint8_t) prefixlen;
        ifa->ifa_index = (uint32_t) ifindex;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        size_t len = a->family == AF_INET ? 4 : 16;
        mnl_attr_put(nlh, IFA_LOCAL, len, a->bytes);
        mnl_attr_put(nlh, IFA_ADDRESS, len, a->bytes);
        if (nodad && a->family == AF_INET6)
                mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
        return request(n, nlh, NULL, NULL);
}

int netlink_route_add(Netlink *n, int ifindex, const IPNet *dst, const IPAddr *gateway) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_NEWROUTE;
        nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
        rtm->rtm_family = (uint8_t) dst->addr.family;
        rtm->rtm_dst_len = (uint8_t) dst->prefixlen;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_STATIC;
        /* Without a gateway: on the link. */
        rtm->rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
        rtm->rtm_type = RTN_UNICAST;
        size_t len = dst->addr.family == AF_INET ? 4 : 16;
        if (dst->prefixlen > 0)
                mnl_attr_put(nlh, RTA_DST, len, dst->addr.bytes);
        if (gateway)
                mnl_attr_put(nlh, RTA_GATEWAY, len, gateway->bytes);
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t) ifindex);
        return request(n, nlh, NULL, NULL);
}

int netlink_route_add_default(Netlink *n, int ifindex, const IPAddr *gateway) {
        IPNet any = { .addr = { .family = gateway->family } };
        return netlink_route_add(n, ifindex, &any, gateway);
}

static int link_index_cb(const struct nlmsghdr *nlh, void *data) {
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
        *(int *) data = ifi->ifi_index;
        return MNL_CB_OK;
}

int netlink_link_index(Netlink *n, const char *name) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, 0, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        int ifindex = 0;
        int r = request(n, nlh, link_index_cb, &ifindex);
        if (r < 0)
                return r;
        return ifindex > 0 ? ifindex : -ENODEV;
}

typedef struct RouteOverlap {
        const IPNet *net;
        const IPNet *except;
        size_t n_except;
        IPNet *ret_route;
        int *ret_ifindex;
        bool found;
} RouteOverlap;

static int route_overlap_cb(const struct nlmsghdr *nlh, void *data) {
        RouteOverlap *o = data;
        const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
        /* The default route overlaps everything and says nothing. */
        if (o->found || rtm->rtm_table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST || rtm->rtm_dst_len == 0 ||
            rtm->rtm_family != o->net->addr.family)
                return MNL_CB_OK;
        IPNet dst = { .addr = { .family = rtm->rtm_family }, .prefixlen = rtm->rtm_dst_len };
        int oif = 0;
        const struct nlattr *attr;
        size_t len = rtm->rtm_family == AF_INET ? 4 : 16;
        mnl_attr_for_each(attr, nlh, sizeof *rtm) {
                if (mnl_attr_get_type(attr) == RTA_DST && mnl_attr_get_payload_len(attr) == len)
                        memcpy(dst.addr.bytes, mnl_attr_get_payload(attr), len);
                else if (mnl_attr_get_type(attr) == RTA_OIF && mnl_attr_get_payload_len(attr) == 4)
                        oif = (int) mnl_attr_get_u32(attr);
        }
        if (!ipnet_overlaps(&dst, o->net))
                return MNL_CB_OK;
        for (size_t i = 0; i < o->n_except; i++)
                if (dst.prefixlen == o->except[i].prefixlen && ipaddr_equal(&dst.addr, &o->except[i].addr))
                        return MNL_CB_OK;
        o->found = true;
        *o->ret_route = dst;
        *o->ret_ifindex = oif;
        return MNL_CB_OK;
}

int netlink_route_overlap(Netlink *n, const IPNet *net, const IPNet *except, size_t n_except, IPNet *ret_route,
                          int *ret_ifindex) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETROUTE;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = ++n->seq;
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
        rtm->rtm_family = (uint8_t) net->addr.family;
        if (mnl_socket_sendto(n->sock, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        RouteOverlap o = { .net = net, .except = except, .n_except = n_except, .ret_route = ret_route,
                           .ret_ifindex = ret_ifindex };
        for (;;) {
                ssize_t len = mnl_socket_recvfrom(n->sock, buf, sizeof buf);
                if (len < 0)
                        return -errno;
                int r = mnl_cb_run(buf, (size_t) len, n->seq, n->portid, route_overlap_cb, &o);
                if (r < 0)
                        return -errno;
                if (r == MNL_CB_STOP)
                        return o.found;
        }
}
