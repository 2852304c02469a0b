/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "fs.h"
#include "log.h"
#include "net-cni.h"
#include "util.h"

/* The resolv.conf handed to the guest is bounded (it crosses a pipe). */
#define CNI_RESOLV_CONF_MAX 8192

/* CNI_CONTAINERID: unique among all state roots like the machine's cgroup
 * name, in the characters libcni allows ('@' of a non-default root is not). */
static char *container_id(Store *store, const char *name) {
        _cleanup_free_ char *id = store_cgroup_name(store, name);
        for (char *p = id; *p; p++)
                if (*p == '@')
                        *p = '-';
        return xasprintf("berth-%s", id);
}

int cni_attachment_prepare(CniAttachment *a, Store *store, const char *name, const MachineConfig *cfg) {
        *a = CNI_ATTACHMENT_INIT;
        a->machine = xstrdup(name);
        a->dir_fd = open_dir_nofollow(store->run_fd, name);
        if (a->dir_fd < 0)
                return log_error_errno(a->dir_fd, "Cannot open the runtime dir of machine %s: %m", name);
        /* A supervisor of ours that was killed left its attachment. */
        (void) cni_cache_cleanup(a->dir_fd, name);

        _cleanup_free_ char *err = NULL;
        int r = cni_network_for_machine(cfg, name, cfg->n_ports > 0, &a->net, &a->rt.plugin_dirs, &err);
        if (r < 0)
                return log_error_errno(r, "Machine %s: %s.", name, err);
        a->rt.container_id = container_id(store, name);
        a->rt.ifname = xstrdup(cfg->interface);
        a->rt.timeout_sec = cfg->cni_timeout_sec ?: CNI_DEFAULT_TIMEOUT_SEC;
        if (cfg->n_ports > 0) {
                a->rt.ports = xcalloc(cfg->n_ports, sizeof *a->rt.ports);
                memcpy(a->rt.ports, cfg->ports, cfg->n_ports * sizeof *cfg->ports);
                a->rt.n_ports = cfg->n_ports;
        }
        return 0;
}

int cni_attachment_add(CniAttachment *a, int netns_fd, char **ret_resolv_conf) {
        /* A reboot: the last boot's namespace goes, and its addresses. */
        cni_attachment_del(a);
        a->netns_fd = fcntl(netns_fd, F_DUPFD_CLOEXEC, 3);
        if (a->netns_fd < 0)
                return log_error_errno(errno, "Cannot keep the machine's network namespace: %m");
        free(a->rt.netns);
        a->rt.netns = xasprintf("/proc/%d/fd/%d", (int) getpid(), a->netns_fd);

        /* Before the first plugin runs: if we are killed from here on, the
         * next start or berth gc has what DEL needs. */
        int r = cni_cache_write(a->dir_fd, &a->net, &a->rt, NULL);
        if (r < 0) {
                closep(&a->netns_fd);
                return log_error_errno(r, "Cannot write %s of machine %s: %m", CNI_CACHE_FILE, a->machine);
        }
        _cleanup_free_ char *err = NULL;
        json_object *result = NULL;
        r = cni_add(&a->net, &a->rt, &result, &err);
        if (r < 0) {
                (void) unlinkat(a->dir_fd, CNI_CACHE_FILE, 0);
                closep(&a->netns_fd);
                return log_error_errno(r, "Machine %s: %s.", a->machine, err);
        }
        a->result = result;
        r = cni_cache_write(a->dir_fd, &a->net, &a->rt, result);
        if (r < 0)
                log_warning_errno(r, "Cannot record the CNI result of machine %s, DEL will get none: %m", a->machine);

        CniResult res = {};
        r = cni_result_from_json(result, &res, &err); /* checked by cni_add() */
        if (r < 0)
                return log_error_errno(r, "Machine %s: %s.", a->machine, err);
        free(a->addresses);
        a->addresses = cni_result_addresses(&res);
        char *resolv = cni_result_resolv_conf(&res, a->net.name);
        cni_result_done(&res);
        if (resolv && strlen(resolv) > CNI_RESOLV_CONF_MAX) {
                log_warning("The DNS settings of CNI network %s are too long for resolv.conf, ignoring them.",
                            a->net.name);
                free(TAKE_PTR(resolv));
        }
        log_info("Machine %s is on CNI network %s%s%s.", a->machine, a->net.name, a->addresses ? " as " : "",
                 a->addresses ?: "");
        *ret_resolv_conf = resolv;
        return 0;
}

void cni_attachment_del(CniAttachment *a) {
        if (a->netns_fd < 0 && !a->result)
                return;
        _cleanup_free_ char *err = NULL;
        if (cni_del(&a->net, &a->rt, a->result, &err) < 0)
                log_warning("Machine %s: %s; ignoring.", a->machine, err);
        if (a->result)
                json_object_put(a->result);
        a->result = NULL;
        free(a->addresses);
        a->addresses = NULL;
        if (a->dir_fd >= 0)
                (void) unlinkat(a->dir_fd, CNI_CACHE_FILE, 0);
        closep(&a->netns_fd);
}

void cni_attachment_done(CniAttachment *a) {
        cni_attachment_del(a);
        free(a->machine);
        cni_network_done(&a->net);
        cni_runtime_done(&a->rt);
        closep(&a->dir_fd);
        *a = CNI_ATTACHMENT_INIT;
}
