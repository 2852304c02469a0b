/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* [Network] Mode=cni: a machine on a network that CNI plugins make, as
 * podman, containerd and Kubernetes use them (the CNI specification 1.0.0;
 * lists of 0.3.x and 0.4.0 work too).
 *
 * The network is a configuration list (NAME.conflist, or a single plugin's
 * .conf) in CNIConfigDirectory= (/etc/cni/net.d), looked up by its "name" as
 * libcni does: files in name order, the first that names it wins.  Its
 * plugins are run, by their "type", only from CNIPluginDirectory= (a
 * ':'-separated list, /usr/lib/cni then /opt/cni/bin), each with the CNI_*
 * environment and its own configuration on stdin, ADD in list order chaining
 * each result into the next plugin's "prevResult", DEL in reverse order with
 * the result ADD returned, CHECK in list order.
 *
 * What ADD returned is cached in the machine's runtime dir (RUN/NAME/cni.json,
 * CNI_CACHE_FILE) together with everything DEL needs (the list as it was,
 * the container ID, interface, plugin dirs, port mappings), written before
 * the first plugin runs: a supervisor killed at any point leaves a file that
 * cni_cache_cleanup() (berth gc, the next start) turns into a DEL.
 *
 * This file: looking up and checking lists, the plugins' stdin, environment
 * and results (pure, unit-tested), and running plugins (cni-exec.c). */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "netaddr.h"
#include "util.h"

#define CNI_DEFAULT_CONFIG_DIR "/etc/cni/net.d"
#define CNI_DEFAULT_PLUGIN_DIRS "/usr/lib/cni:/opt/cni/bin"
#define CNI_DEFAULT_TIMEOUT_SEC 30U
#define CNI_CACHE_FILE "cni.json"
/* A network list or result larger than this is refused. */
#define CNI_JSON_MAX (1024 * 1024)
#define CNI_PLUGINS_MAX 32

typedef struct CniNetwork {
        char *name;
        char *version;        /* cniVersion of the list: every plugin gets it */
        char *path;           /* the file it came from (for messages) */
        json_object *config;  /* the list, as {"cniVersion", "name", "plugins": [...]} */
        size_t n_plugins;
        bool port_mappings;   /* a plugin has the capability "portMappings" */
        bool disable_check;   /* "disableCheck": true */
} CniNetwork;

#define CNI_NETWORK_INIT ((CniNetwork) {})

static inline void cni_json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(cni_json_putp)
void cni_network_done(CniNetwork *n);

/* A CNI network name as berth takes it (CNINetwork=): 1 to 128 ASCII
 * letters, digits, '.', '_' and '-', starting with a letter or digit. */
bool cni_network_name_is_valid(const char *s);
/* A plugin "type": a plain file name (no '/', not starting with '.'). */
bool cni_plugin_type_is_valid(const char *s);

/* Check and take a parsed list or single-plugin config (OBJ, consumed in
 * every case) read from PATH.  Returns 0 or -EINVAL with *ret_error set. */
int cni_network_from_json(json_object *obj, const char *path, CniNetwork *ret, char **ret_error);
/* Parse TEXT (LEN bytes) as a JSON object; -EBADMSG with *ret_error set. */
int cni_json_parse(const char *text, size_t len, json_object **ret, char **ret_error);
/* Find the network NAME in DIR.  -ENOENT (with *ret_error naming the dir
 * and the networks found there) if there is none, -EINVAL if its file is
 * broken. */
int cni_network_find(const char *dir, const char *name, CniNetwork *ret, char **ret_error);

/* Everything a start on CFG's CNI network (Mode=cni) needs checked before
 * anything is made: CNINetwork= set, the list found and valid, CNIPluginDirectory=,
 * every plugin present, and a plugin with the portMappings capability if
 * the machine has port forwards (PORTS).  Returns 0 (and the network and
 * plugin dirs; either may be NULL when not wanted) or -errno with
 * *ret_error set: what is wrong, where, how to fix it. */
struct MachineConfig;
int cni_network_for_machine(const struct MachineConfig *cfg, const char *machine, bool ports, CniNetwork *ret,
                            char ***ret_plugin_dirs, char **ret_error);

/* ----- What a plugin gets ----- */

typedef enum CniCommand {
        CNI_ADD,
        CNI_DEL,
        CNI_CHECK,
        _CNI_COMMAND_MAX,
} CniCommand;

const char *cni_command_to_string(CniCommand c);

/* Where and how a network is attached to one machine. */
typedef struct CniRuntime {
        char *container_id;   /* CNI_CONTAINERID */
        char *netns;          /* CNI_NETNS: a path, or NULL (a DEL after the namespace is gone) */
        char *ifname;         /* CNI_IFNAME */
        char **plugin_dirs;   /* CNI_PATH, and the only places plugins are run from */
        unsigned timeout_sec; /* per plugin; then it is killed */
        PortForward *ports;   /* runtimeConfig.portMappings */
        size_t n_ports;
} CniRuntime;

void cni_runtime_done(CniRuntime *rt);
/* "a:b:c" into a vector; -EINVAL for an empty or relative entry. */
int cni_plugin_dirs_parse(const char *s, char ***ret);

/* The CNI_* environment (plus PATH) for COMMAND, a NULL-terminated vector. */
char **cni_env_build(CniCommand command, const CniRuntime *rt);
/* The stdin of plugin I of NET: its config with the list's name and
 * cniVersion, PREV_RESULT (may be NULL) as "prevResult", and the runtimeConfig
 * of the capabilities it declares.  A malloc'ed JSON text. */
char *cni_plugin_stdin(const CniNetwork *net, size_t i, json_object *prev_result, const CniRuntime *rt);
/* The "type" of plugin I. */
const char *cni_plugin_type(const CniNetwork *net, size_t i);

/* ----- What ADD returns ----- */

typedef struct CniIP {
        IPNet addr;           /* the address with its prefix length (host bits kept) */
        IPAddr gateway;       /* family 0: none */
} CniIP;

typedef struct CniRoute {
        IPNet dst;
        IPAddr gw;            /* family 0: none */
} CniRoute;

typedef struct CniResult {
        CniIP *ips;
        size_t n_ips;
        CniRoute *routes;
        size_t n_routes;
        char **nameservers;
        char *domain;
        char **search;
        char **options;
} CniResult;

void cni_result_done(CniResult *r);
/* Read a result (1.0.0, 0.4.0 and 0.3.x have the same fields for what berth
 * uses).  -EBADMSG with *ret_error set for anything malformed. */
int cni_result_from_json(json_object *obj, CniResult *ret, char **ret_error);
/* "10.88.0.5 fd00::5" or NULL without addresses. */
char *cni_result_addresses(const CniResult *r);
/* The guest's /etc/resolv.conf for DNS of NETWORK, or NULL without
 * nameservers. */
char *cni_result_resolv_conf(const CniResult *r, const char *network);

/* ----- Running plugins (cni-exec.c) ----- */

/* Find TYPE in DIRS: a regular executable file.  -ENOENT if none. */
int cni_plugin_find(char *const *dirs, const char *type, char **ret_path);
/* Run the whole list: ADD (on failure DEL of everything, in reverse order,
 * before returning the error), DEL with PREV_RESULT (every plugin, even
 * after one failed; the first error is returned), CHECK.  Errors are -errno
 * with *ret_error naming the plugin and what it said. */
int cni_add(const CniNetwork *net, const CniRuntime *rt, json_object **ret_result, char **ret_error);
int cni_del(const CniNetwork *net, const CniRuntime *rt, json_object *prev_result, char **ret_error);
int cni_check(const CniNetwork *net, const CniRuntime *rt, json_object *prev_result, char **ret_error);

/* The cache file in DIRFD: NET and RT as used by ADD, and its RESULT (NULL
 * while ADD runs). */
int cni_cache_write(int dirfd, const CniNetwork *net, const CniRuntime *rt, json_object *result);
/* -ENOENT if there is none. */
int cni_cache_read(int dirfd, CniNetwork *ret_net, CniRuntime *ret_rt, json_object **ret_result,
                   char **ret_error);
/* If DIRFD holds a cache file: DEL what it names (the namespace is gone:
 * CNI_NETNS empty) and remove it.  1 if it did, 0 if there was none,
 * -errno (logged) if DEL failed (the file is removed all the same: a
 * plugin that cannot delete now never will). */
int cni_cache_cleanup(int dirfd, const char *machine);
