/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: what berth reads from CNI plugins and network lists,
 * arbitrary text as a result (addresses, routes, DNS into resolv.conf) and
 * as a network list (and each plugin's stdin built from it).  Beyond not
 * crashing it checks that a resolv.conf never gets a line the result did not
 * ask for by name: every line is a comment or starts with a known keyword. */
#include <stdint.h>

#include "lib/cni.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_resolv_conf(const char *s) {
        static const char *const keywords[] = { "# ", "nameserver ", "domain ", "search", "options" };
        for (const char *line = s; line && *line;) {
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(keywords); i++)
                        known = known || startswith(line, keywords[i]);
                if (!known)
                        abort();
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 64 * 1024)
                return 0;
        _cleanup_free_ char *text = xmalloc(size + 1);
        memcpy(text, data, size);
        text[size] = 0;

        json_object *o = NULL;
        _cleanup_free_ char *err = NULL;
        if (cni_json_parse(text, size, &o, &err) < 0)
                return 0;

        CniResult r = {};
        _cleanup_free_ char *rerr = NULL;
        if (cni_result_from_json(o, &r, &rerr) >= 0) {
                free(cni_result_addresses(&r));
                _cleanup_free_ char *resolv = cni_result_resolv_conf(&r, "fuzz");
                if (resolv)
                        check_resolv_conf(resolv);
                cni_result_done(&r);
        } else if (!rerr)
                abort();

        CniNetwork n = CNI_NETWORK_INIT;
        _cleanup_free_ char *nerr = NULL;
        PortForward port = { PORT_TCP, 8080, 80 };
        CniRuntime rt = { .container_id = (char *) "berth-fuzz", .ifname = (char *) "host0", .ports = &port,
                          .n_ports = 1 };
        if (cni_network_from_json(json_object_get(o), "fuzz.conflist", &n, &nerr) >= 0) {
                for (size_t i = 0; i < n.n_plugins; i++) {
                        if (!cni_plugin_type_is_valid(cni_plugin_type(&n, i)))
                                abort();
                        free(cni_plugin_stdin(&n, i, o, &rt));
                }
                cni_network_done(&n);
        } else if (!nerr)
                abort();
        json_object_put(o);
        return 0;
}
