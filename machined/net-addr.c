/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fs.h"
#include "hash.h"
#include "log.h"
#include "net-internal.h"
#include "util.h"

/* A stable MAC address for S: unicast, locally administered. */
void mac_from_name(const char *s, uint8_t mac[6]) {
        uint64_t h = fnv1a64(s);
        for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t) (h >> (8 * i));
        mac[0] = (uint8_t) ((mac[0] & 0xfe) | 0x02);
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
 * free one from a place derived from its ID (see below).  "Free" means neither running
 * on this bridge (TAKEN: one claim looked up per index tried, not the
 * fleet's entries) nor reserved by another machine of this state root. */
int address_allocate(Network *net, Store *store, const char *name, AddressTaken taken, void *userdata,
                     uint32_t *ret) {
        uint32_t max = ipnet_host_max(&net->subnet);
        /* Its own reservation, where no running machine has it: no other
         * machine holds it (each was chosen clear of all others below; a
         * copy of it, running, is what TAKEN finds), so nothing else needs
         * reading. */
        _cleanup_close_ int own = open_dir_nofollow(store->machines_fd, name);
        uint32_t k0 = own < 0 ? 0 : reservation_read(own, &net->subnet);
        if (k0 > 1 && k0 <= max && !taken(k0, userdata)) {
                *ret = k0;
                return 0;
        }
        /* A first start (or its address taken): the reservations of the
         * store's every machine. */
        _cleanup_free_ uint8_t *used = xcalloc(max + 1, 1);
        used[0] = used[1] = 1; /* the network and the gateway */
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
        if (mine > 0 && mine != k0 && !used[mine] && !taken(mine, userdata)) {
                *ret = mine;
                return 0;
        }
        /* From a place derived from the ID within the first 253 addresses
         * (a /24's worth: machines that share a bridge from two state roots
         * rarely meet), then upwards: a small fleet stays in x.y.0.*. */
        uint32_t span = max - 1, start = (uint32_t) (fnv1a64(net->id) % (span < 253 ? span : 253));
        for (uint32_t i = 0; i < span; i++) {
                uint32_t k = 2 + (start + i) % span;
                if (!used[k] && !taken(k, userdata)) {
                        *ret = k;
                        return 0;
                }
        }
        char sn[IPNET_STRLEN];
        return log_error_errno(SYNTHETIC_ERRNO(EADDRNOTAVAIL),
                               "No free address left in %s for machine %s: use a larger Subnet=.",
                               ipnet_format(&net->subnet, sn), name);
}
