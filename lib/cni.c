/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "cni.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "util.h"

#define CNI_JSON_DEPTH 64

static const char *const cni_command_table[_CNI_COMMAND_MAX] = {
        [CNI_ADD] = "ADD",
        [CNI_DEL] = "DEL",
        [CNI_CHECK] = "CHECK",
};

const char *cni_command_to_string(CniCommand c) {
        return c >= 0 && c < _CNI_COMMAND_MAX ? cni_command_table[c] : NULL;
}

void cni_network_done(CniNetwork *n) {
        free(n->name);
        free(n->version);
        free(n->path);
        if (n->config)
                json_object_put(n->config);
        *n = CNI_NETWORK_INIT;
}

void cni_runtime_done(CniRuntime *rt) {
        free(rt->container_id);
        free(rt->netns);
        free(rt->ifname);
        strv_free(rt->plugin_dirs);
        free(rt->ports);
        *rt = (CniRuntime) {};
}

bool cni_network_name_is_valid(const char *s) {
        size_t l = s ? strlen(s) : 0;
        if (l == 0 || l > 128 || !isalnum((unsigned char) s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("._-", *p))
                        return false;
        return true;
}

bool cni_plugin_type_is_valid(const char *s) {
        size_t l = s ? strlen(s) : 0;
        /* A file name in a plugin dir and nothing else: no path, no "..",
         * no hidden file, nothing a terminal would act on. */
        if (l == 0 || l > 128 || s[0] == '.')
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || (unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f)
                        return false;
        return true;
}

int cni_plugin_dirs_parse(const char *s, char ***ret) {
        if (isempty(s))
                return -EINVAL;
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *copy = xstrdup(s);
        char *save = NULL;
        size_t n = 0;
        for (char *p = copy;; p = NULL) {
                char *w = strtok_r(p, ":", &save);
                if (!w)
                        break;
                if (w[0] != '/' || path_has_dotdot(w) || ++n > 16)
                        return -EINVAL;
                l = strv_append(l, w);
        }
        if (!l)
                return -EINVAL;
        *ret = TAKE_PTR(l);
        return 0;
}

int cni_json_parse(const char *text, size_t len, json_object **ret, char **ret_error) {
        json_tokener *tok = json_tokener_new_ex(CNI_JSON_DEPTH);
        if (!tok)
                abort();
        json_object *o = json_tokener_parse_ex(tok, text, (int) len);
        enum json_tokener_error err = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        /* Only whitespace may follow the document. */
        while (o && end < len && strchr(" \t\r\n", text[end]))
                end++;
        if (!o || err != json_tokener_success || end != len || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                *ret_error = xasprintf("not a JSON object%s%s", err != json_tokener_success ? ": " : "",
                                       err != json_tokener_success ? json_tokener_error_desc(err) : "");
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

static json_object *jget(json_object *o, const char *key, json_type type) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

static const char *jstr(json_object *o, const char *key) {
        json_object *v = jget(o, key, json_type_string);
        return v ? json_object_get_string(v) : NULL;
}

static bool jhas(json_object *o, const char *key) {
        return json_object_object_get_ex(o, key, NULL);
}

/* Versions whose configuration and result carry what berth reads in the
 * same form; 0.1.0 and 0.2.0 results look different. */
static bool version_is_supported(const char *v) {
        return v && (streq(v, "1.0.0") || streq(v, "0.4.0") || streq(v, "0.3.1") || streq(v, "0.3.0"));
}

static int invalid(char **ret_error, char *error) {
        *ret_error = error;
        return -EINVAL;
}

int cni_network_from_json(json_object *obj, const char *path, CniNetwork *ret, char **ret_error) {
        _cleanup_json_ json_object *o = obj; /* ours whatever happens */
        const char *name = jstr(o, "name"), *version = jstr(o, "cniVersion");
        if (!name || !cni_network_name_is_valid(name))
                return invalid(ret_error, xasprintf("%s: \"name\" is missing or not a valid network name", path));
        if (!version_is_supported(version))
                return invalid(ret_error, xasprintf("%s: network %s: \"cniVersion\" %s is not supported; berth "
                                                    "runs 1.0.0, 0.4.0 and 0.3.x lists",
                                                    path, name, version ? version : "is missing"));

        json_object *list = o;
        _cleanup_json_ json_object *wrapped = NULL;
        if (!jhas(o, "plugins")) {
                /* A single plugin's .conf: the list libcni makes of it. */
                if (!jstr(o, "type"))
                        return invalid(ret_error, xasprintf("%s: network %s has neither \"plugins\" nor \"type\"",
                                                            path, name));
                wrapped = json_object_new_object();
                json_object_object_add(wrapped, "cniVersion", json_object_new_string(version));
                json_object_object_add(wrapped, "name", json_object_new_string(name));
                json_object *a = json_object_new_array();
                json_object_array_add(a, json_object_get(o));
                json_object_object_add(wrapped, "plugins", a);
                list = wrapped;
        }
        json_object *plugins = jget(list, "plugins", json_type_array);
        size_t n = plugins ? json_object_array_length(plugins) : 0;
        if (n == 0 || n > CNI_PLUGINS_MAX)
                return invalid(ret_error, xasprintf("%s: network %s: \"plugins\" must be a list of 1 to %d plugins",
                                                    path, name, CNI_PLUGINS_MAX));
        bool port_mappings = false;
        for (size_t i = 0; i < n; i++) {
                json_object *p = json_object_array_get_idx(plugins, i);
                const char *type = jstr(p, "type");
                if (!json_object_is_type(p, json_type_object) || !cni_plugin_type_is_valid(type)) {
                        _cleanup_free_ char *shown = strdup_printable(type);
                        return invalid(ret_error,
                                       xasprintf("%s: network %s: plugin %zu: \"type\" %s is not a plain plugin file "
                                                 "name (no '/', not starting with '.')",
                                                 path, name, i + 1, type ? shown : "is missing"));
                }
                json_object *caps = jget(p, "capabilities", json_type_object), *pm;
                if (caps && json_object_object_get_ex(caps, "portMappings", &pm) && json_object_get_boolean(pm))
                        port_mappings = true;
        }
        json_object *dc = jget(list, "disableCheck", json_type_boolean);

        *ret = (CniNetwork) {
                .name = xstrdup(name),
                .version = xstrdup(version),
                .path = xstrdup(path),
                .config = json_object_get(list),
                .n_plugins = n,
                .port_mappings = port_mappings,
                .disable_check = dc && json_object_get_boolean(dc),
        };
        return 0;
}

static bool has_config_suffix(const char *n) {
        size_t l = strlen(n);
        return n[0] != '.' && ((l > 9 && streq(n + l - 9, ".conflist")) || (l > 5 && streq(n + l - 5, ".conf")) ||
                               (l > 5 && streq(n + l - 5, ".json")));
}

static int cmpstringp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int cni_network_find(const char *dir, const char *name, CniNetwork *ret, char **ret_error) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                int r = -errno;
                *ret_error = xasprintf("cannot open the CNI configuration directory %s: %s; create it or set "
                                       "[Network] CNIConfigDirectory=",
                                       dir, strerror(-r));
                return r == -ENOENT ? -ENOENT : r;
        }
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(dfd, &d);
        if (r < 0) {
                *ret_error = xasprintf("cannot list %s: %s", dir, strerror(-r));
                return r;
        }
        _cleanup_strv_free_ char **files = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (has_config_suffix(de->d_name))
                        files = strv_append(files, de->d_name);
        size_t n = strv_length(files);
        if (n > 0)
                qsort(files, n, sizeof *files, cmpstringp);

        _cleanup_free_ char *seen = NULL;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *text = NULL, *err = NULL, *path = xasprintf("%s/%s", dir, files[i]);
                size_t len;
                /* The admin's directory: a symlink in it (podman's files can
                 * be) is followed, but only to a regular file. */
                _cleanup_close_ int fd = openat(dfd, files[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
                if (fd < 0 || read_file_fd(fd, CNI_JSON_MAX, &text, &len) < 0)
                        continue;
                json_object *o;
                if (cni_json_parse(text, len, &o, &err) < 0) {
                        log_debug("Ignoring %s: %s.", path, err);
                        continue;
                }
                const char *nm = jstr(o, "name");
                if (!nm || !streq(nm, name)) {
                        if (nm && cni_network_name_is_valid(nm))
                                strextendf(&seen, "%s%s", seen ? ", " : "", nm);
                        json_object_put(o);
                        continue;
                }
                return cni_network_from_json(o, path, ret, ret_error);
        }
        *ret_error = xasprintf("no CNI network named %s in %s (%s%s); write its .conflist there, or set "
                               "[Network] CNINetwork= to one of those",
                               name, dir, seen ? "networks found: " : "no network found", seen ?: "");
        return -ENOENT;
}

int cni_network_for_machine(const MachineConfig *cfg, const char *machine, bool ports, CniNetwork *ret,
                            char ***ret_plugin_dirs, char **ret_error) {
        const char *dir = cfg->cni_config_dir ?: CNI_DEFAULT_CONFIG_DIR;
        if (!cfg->cni_network) {
                *ret_error = xasprintf("[Network] Mode=cni needs CNINetwork= (the \"name\" of a network list in %s); "
                                       "set it with 'berth set %s Network.CNINetwork=NAME'",
                                       dir, machine);
                return -EINVAL;
        }
        _cleanup_strv_free_ char **dirs = NULL;
        const char *pdirs = cfg->cni_plugin_dirs ?: CNI_DEFAULT_PLUGIN_DIRS;
        if (cni_plugin_dirs_parse(pdirs, &dirs) < 0) {
                *ret_error = xasprintf("invalid [Network] CNIPluginDirectory=%s", pdirs);
                return -EINVAL;
        }
        CniNetwork net = CNI_NETWORK_INIT;
        int r = cni_network_find(dir, cfg->cni_network, &net, ret_error);
        if (r < 0)
                return r;
        /* A plugin that is not there fails now, before anything is made. */
        for (size_t i = 0; i < net.n_plugins; i++) {
                const char *type = cni_plugin_type(&net, i);
                _cleanup_free_ char *path = NULL;
                if (cni_plugin_find(dirs, type, &path) < 0) {
                        *ret_error = xasprintf("CNI network %s (%s): plugin %s is not an executable file in %s; "
                                               "install it (Debian: containernetworking-plugins) or set [Network] "
                                               "CNIPluginDirectory=",
                                               net.name, net.path, type, pdirs);
                        cni_network_done(&net);
                        return -ENOENT;
                }
        }
        if (ports && !net.port_mappings) {
                *ret_error = xasprintf("port forwards (Port=, --port) on CNI network %s need a plugin with "
                                       "\"capabilities\": {\"portMappings\": true} (portmap) in its list %s",
                                       net.name, net.path);
                cni_network_done(&net);
                return -EINVAL;
        }
        if (ret)
                *ret = net;
        else
                cni_network_done(&net);
        if (ret_plugin_dirs)
                *ret_plugin_dirs = TAKE_PTR(dirs);
        return 0;
}

/* ----- What a plugin gets ----- */

char **cni_env_build(CniCommand command, const CniRuntime *rt) {
        char **env = NULL;
        _cleanup_free_ char *cmd = xasprintf("CNI_COMMAND=%s", cni_command_to_string(command));
        env = strv_append(env, cmd);
        _cleanup_free_ char *id = xasprintf("CNI_CONTAINERID=%s", rt->container_id);
        env = strv_append(env, id);
        _cleanup_free_ char *ns = xasprintf("CNI_NETNS=%s", rt->netns ?: "");
        env = strv_append(env, ns);
        _cleanup_free_ char *ifn = xasprintf("CNI_IFNAME=%s", rt->ifname);
        env = strv_append(env, ifn);
        _cleanup_free_ char *path = NULL;
        for (char **d = rt->plugin_dirs; d && *d; d++)
                strextendf(&path, "%s%s", path ? ":" : "", *d);
        _cleanup_free_ char *cp = xasprintf("CNI_PATH=%s", path ?: "");
        env = strv_append(env, cp);
        /* Plugins run helpers (iptables, the IPAM plugin via CNI_PATH). */
        env = strv_append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        return env;
}

const char *cni_plugin_type(const CniNetwork *net, size_t i) {
        json_object *plugins = jget(net->config, "plugins", json_type_array);
        return jstr(json_object_array_get_idx(plugins, i), "type");
}

static json_object *port_mappings_json(const CniRuntime *rt) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < rt->n_ports; i++) {
                json_object *m = json_object_new_object();
                json_object_object_add(m, "hostPort", json_object_new_int(rt->ports[i].host_port));
                json_object_object_add(m, "containerPort", json_object_new_int(rt->ports[i].guest_port));
                json_object_object_add(m, "protocol",
                                       json_object_new_string(port_protocol_to_string(rt->ports[i].protocol)));
                json_object_array_add(a, m);
        }
        return a;
}

char *cni_plugin_stdin(const CniNetwork *net, size_t i, json_object *prev_result, const CniRuntime *rt) {
        json_object *plugins = jget(net->config, "plugins", json_type_array);
        json_object *p = json_object_array_get_idx(plugins, i);
        _cleanup_json_ json_object *c = NULL;
        if (json_object_deep_copy(p, &c, NULL) < 0)
                abort();
        json_object_object_add(c, "cniVersion", json_object_new_string(net->version));
        json_object_object_add(c, "name", json_object_new_string(net->name));
        json_object_object_del(c, "prevResult");
        json_object_object_del(c, "runtimeConfig");
        if (prev_result)
                json_object_object_add(c, "prevResult", json_object_get(prev_result));
        /* Capability args go only to a plugin that asks for them. */
        json_object *caps = jget(p, "capabilities", json_type_object), *pm;
        if (caps && json_object_object_get_ex(caps, "portMappings", &pm) && json_object_get_boolean(pm) &&
            rt->n_ports > 0) {
                json_object *rc = json_object_new_object();
                json_object_object_add(rc, "portMappings", port_mappings_json(rt));
                json_object_object_add(c, "runtimeConfig", rc);
        }
        return xstrdup(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ----- What ADD returns ----- */

void cni_result_done(CniResult *r) {
        free(r->ips);
        free(r->routes);
        strv_free(r->nameservers);
        free(r->domain);
        strv_free(r->search);
        strv_free(r->options);
        *r = (CniResult) {};
}

/* "10.88.0.5/16" with host bits (an interface address). */
static int cidr_parse(const char *s, IPNet *ret) {
        const char *slash = s ? strchr(s, '/') : NULL;
        if (!slash || slash - s >= INET6_ADDRSTRLEN)
                return -EINVAL;
        char a[INET6_ADDRSTRLEN];
        memcpy(a, s, (size_t) (slash - s));
        a[slash - s] = 0;
        IPAddr addr;
        unsigned len;
        if (ipaddr_parse(a, &addr) < 0 || safe_atou(slash + 1, &len) < 0 ||
            len > (addr.family == AF_INET ? 32U : 128U))
                return -EINVAL;
        *ret = (IPNet) { .addr = addr, .prefixlen = len };
        return 0;
}

static int strv_from_json(json_object *o, const char *key, char ***ret) {
        json_object *a;
        if (!json_object_object_get_ex(o, key, &a) || !a)
                return 0;
        if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) > 64)
                return -EBADMSG;
        char **l = NULL;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *s = json_object_array_get_idx(a, i);
                const char *v = json_object_is_type(s, json_type_string) ? json_object_get_string(s) : NULL;
                /* Lines of resolv.conf: nothing that would start a new one. */
                if (!v || !*v || strpbrk(v, "\n\r") || strlen(v) != (size_t) json_object_get_string_len(s) ||
                    strlen(v) > 255) {
                        strv_free(l);
                        return -EBADMSG;
                }
                l = strv_append(l, v);
        }
        *ret = l;
        return 0;
}

static int bad_result(CniResult *r, char **ret_error, char *error) {
        cni_result_done(r);
        *ret_error = error;
        return -EBADMSG;
}

int cni_result_from_json(json_object *obj, CniResult *ret, char **ret_error) {
        CniResult r = {};
        json_object *ips = NULL, *routes = NULL, *dns = NULL;
        if (json_object_object_get_ex(obj, "ips", &ips) && ips && !json_object_is_type(ips, json_type_array))
                return bad_result(&r, ret_error, xstrdup("\"ips\" is not a list"));
        size_t n = ips ? json_object_array_length(ips) : 0;
        if (n > 64)
                return bad_result(&r, ret_error, xstrdup("\"ips\" has more than 64 entries"));
        if (n > 0)
                r.ips = xcalloc(n, sizeof *r.ips);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(ips, i);
                const char *a = jstr(e, "address"), *gw = jstr(e, "gateway");
                CniIP *ip = &r.ips[r.n_ips++];
                if (!json_object_is_type(e, json_type_object) || cidr_parse(a, &ip->addr) < 0)
                        return bad_result(&r, ret_error, xasprintf("\"ips\" entry %zu has no valid \"address\" "
                                                                   "(ADDRESS/PREFIX)", i + 1));
                if (jhas(e, "gateway") && (!gw || ipaddr_parse(gw, &ip->gateway) < 0))
                        return bad_result(&r, ret_error, xasprintf("\"ips\" entry %zu has an invalid \"gateway\"",
                                                                   i + 1));
        }
        if (json_object_object_get_ex(obj, "routes", &routes) && routes &&
            !json_object_is_type(routes, json_type_array))
                return bad_result(&r, ret_error, xstrdup("\"routes\" is not a list"));
        n = routes ? json_object_array_length(routes) : 0;
        if (n > 256)
                return bad_result(&r, ret_error, xstrdup("\"routes\" has more than 256 entries"));
        if (n > 0)
                r.routes = xcalloc(n, sizeof *r.routes);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(routes, i);
                const char *dst = jstr(e, "dst"), *gw = jstr(e, "gw");
                CniRoute *rt = &r.routes[r.n_routes++];
                if (!json_object_is_type(e, json_type_object) || cidr_parse(dst, &rt->dst) < 0)
                        return bad_result(&r, ret_error, xasprintf("\"routes\" entry %zu has no valid \"dst\"", i + 1));
                if (jhas(e, "gw") && (!gw || ipaddr_parse(gw, &rt->gw) < 0))
                        return bad_result(&r, ret_error, xasprintf("\"routes\" entry %zu has an invalid \"gw\"", i + 1));
        }
        if (json_object_object_get_ex(obj, "dns", &dns) && dns) {
                if (!json_object_is_type(dns, json_type_object))
                        return bad_result(&r, ret_error, xstrdup("\"dns\" is not an object"));
                const char *domain = jstr(dns, "domain");
                if (jhas(dns, "domain") && (!domain || strpbrk(domain, " \t\n\r") || strlen(domain) > 253))
                        return bad_result(&r, ret_error, xstrdup("\"dns\" has an invalid \"domain\""));
                r.domain = domain && *domain ? xstrdup(domain) : NULL;
                if (strv_from_json(dns, "nameservers", &r.nameservers) < 0 ||
                    strv_from_json(dns, "search", &r.search) < 0 || strv_from_json(dns, "options", &r.options) < 0)
                        return bad_result(&r, ret_error, xstrdup("\"dns\" has a list that is not one of short "
                                                                 "strings"));
                for (char **s = r.nameservers; s && *s; s++) {
                        IPAddr a;
                        if (ipaddr_parse(*s, &a) < 0)
                                return bad_result(&r, ret_error,
                                                  xstrdup("\"dns\" \"nameservers\" has an entry that is not an "
                                                          "IP address"));
                }
        }
        *ret = r;
        return 0;
}

char *cni_result_addresses(const CniResult *r) {
        char *s = NULL;
        for (size_t i = 0; i < r->n_ips; i++) {
                char a[INET6_ADDRSTRLEN];
                strextendf(&s, "%s%s", s ? " " : "", ipaddr_format(&r->ips[i].addr.addr, a));
        }
        return s;
}

char *cni_result_resolv_conf(const CniResult *r, const char *network) {
        if (!r->nameservers)
                return NULL;
        char *s = xasprintf("# Written by berth at boot: DNS of CNI network %s.\n", network);
        for (char **ns = r->nameservers; *ns; ns++)
                strextendf(&s, "nameserver %s\n", *ns);
        if (r->domain)
                strextendf(&s, "domain %s\n", r->domain);
        if (r->search) {
                strextendf(&s, "search");
                for (char **d = r->search; *d; d++)
                        strextendf(&s, " %s", *d);
                strextendf(&s, "\n");
        }
        if (r->options) {
                strextendf(&s, "options");
                for (char **o = r->options; *o; o++)
                        strextendf(&s, " %s", *o);
                strextendf(&s, "\n");
        }
        return s;
}
