/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/cni.h: finding network lists, what plugins get (stdin, environment),
 * reading their results (1.0.0, 0.4.0, malformed), the cache, and running
 * real plugin programs (small scripts) through a list: chaining, DEL of
 * everything after a failure, a plugin that hangs, one that is missing. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "cni.h"
#include "config.h"
#include "fs.h"
#include "tap.h"
#include "util.h"

static void write_file(const char *dir, const char *name, const char *text, mode_t mode) {
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        if (dfd < 0 || write_file_atomic_at(dfd, name, text, strlen(text), mode) < 0)
                abort();
}

static json_object *parse(const char *text) {
        json_object *o = NULL;
        _cleanup_free_ char *err = NULL;
        if (cni_json_parse(text, strlen(text), &o, &err) < 0)
                abort();
        return o;
}

static void test_names(void) {
        TEST_ASSERT(cni_network_name_is_valid("podman") && cni_network_name_is_valid("k8s-pod_net.1"),
                    "network names: letters, digits, '-', '_', '.'");
        TEST_ASSERT(!cni_network_name_is_valid("") && !cni_network_name_is_valid("-x") &&
                            !cni_network_name_is_valid("a/b") && !cni_network_name_is_valid("a b") &&
                            !cni_network_name_is_valid(".."),
                    "network names: not empty, no '/', no space, not starting with '-' or '.'");
        TEST_ASSERT(cni_plugin_type_is_valid("bridge") && cni_plugin_type_is_valid("host-local"),
                    "plugin types: plain file names");
        TEST_ASSERT(!cni_plugin_type_is_valid("../bin/sh") && !cni_plugin_type_is_valid("/bin/sh") &&
                            !cni_plugin_type_is_valid("..") && !cni_plugin_type_is_valid(".hidden") &&
                            !cni_plugin_type_is_valid("a/b") && !cni_plugin_type_is_valid("") &&
                            !cni_plugin_type_is_valid("a\nb"),
                    "plugin types: no path, no '..', no hidden file, no control character");

        _cleanup_strv_free_ char **dirs = NULL;
        TEST_ASSERT(cni_plugin_dirs_parse("/usr/lib/cni:/opt/cni/bin", &dirs) == 0 && strv_length(dirs) == 2 &&
                            streq(dirs[1], "/opt/cni/bin"),
                    "plugin dirs: a ':'-separated list");
        char **bad = NULL;
        TEST_ASSERT(cni_plugin_dirs_parse("/usr/lib/cni:bin", &bad) == -EINVAL && !bad &&
                            cni_plugin_dirs_parse("", &bad) == -EINVAL && cni_plugin_dirs_parse(":", &bad) == -EINVAL &&
                            cni_plugin_dirs_parse("/a/../b", &bad) == -EINVAL,
                    "plugin dirs: relative, empty and '..' entries are refused");
}

static void test_find(const char *tmp) {
        _cleanup_free_ char *dir = xasprintf("%s/net.d", tmp);
        if (mkdir(dir, 0755) < 0)
                abort();
        write_file(dir, "10-a.conflist",
                   "{\"cniVersion\":\"1.0.0\",\"name\":\"a\",\"plugins\":[{\"type\":\"bridge\"},"
                   "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}",
                   0644);
        /* The same name later in file order: the first wins, as in libcni. */
        write_file(dir, "20-a.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"a\",\"plugins\":[{\"type\":\"x\"}]}", 0644);
        write_file(dir, "30-single.conf",
                   "{\"cniVersion\":\"0.4.0\",\"name\":\"single\",\"type\":\"macvlan\",\"master\":\"eth0\"}", 0644);
        write_file(dir, "05-broken.conflist", "{\"cniVersion\":", 0644);
        write_file(dir, "40-old.conf", "{\"cniVersion\":\"0.2.0\",\"name\":\"old\",\"type\":\"bridge\"}", 0644);
        write_file(dir, "50-escape.conflist",
                   "{\"cniVersion\":\"1.0.0\",\"name\":\"escape\",\"plugins\":[{\"type\":\"../../bin/sh\"}]}", 0644);
        write_file(dir, "60-empty.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"empty\",\"plugins\":[]}", 0644);
        write_file(dir, "70-check.conflist",
                   "{\"cniVersion\":\"1.0.0\",\"name\":\"nocheck\",\"disableCheck\":true,\"plugins\":[{\"type\":\"b\"}]}",
                   0644);
        write_file(dir, "README", "{\"cniVersion\":\"1.0.0\",\"name\":\"readme\",\"type\":\"x\"}", 0644);

        CniNetwork n = CNI_NETWORK_INIT;
        _cleanup_free_ char *err = NULL;
        int r = cni_network_find(dir, "a", &n, &err);
        TEST_ASSERT(r == 0 && n.n_plugins == 2 && streq(n.version, "1.0.0") && n.port_mappings &&
                            strstr(n.path, "10-a.conflist") && streq_ptr(cni_plugin_type(&n, 1), "portmap"),
                    "a .conflist is found by name, the first in file order (got %d %s)", r, err ?: "");
        cni_network_done(&n);

        r = cni_network_find(dir, "single", &n, &err);
        TEST_ASSERT(r == 0 && n.n_plugins == 1 && streq(n.version, "0.4.0") && !n.port_mappings &&
                            streq_ptr(cni_plugin_type(&n, 0), "macvlan"),
                    "a single plugin's .conf becomes a list of one (got %d)", r);
        cni_network_done(&n);

        r = cni_network_find(dir, "nocheck", &n, &err);
        TEST_ASSERT(r == 0 && n.disable_check, "\"disableCheck\" is read");
        cni_network_done(&n);

        free(TAKE_PTR(err));
        r = cni_network_find(dir, "nope", &n, &err);
        TEST_ASSERT(r == -ENOENT && err && strstr(err, "no CNI network named nope") && strstr(err, dir) &&
                            strstr(err, "a, ") && !strstr(err, "readme"),
                    "a missing network: -ENOENT, naming the dir and the networks there (%s)", err ?: "");
        free(TAKE_PTR(err));
        r = cni_network_find(dir, "old", &n, &err);
        TEST_ASSERT(r == -EINVAL && err && strstr(err, "0.2.0 is not supported"), "cniVersion 0.2.0 is refused (%s)",
                    err ?: "");
        free(TAKE_PTR(err));
        r = cni_network_find(dir, "escape", &n, &err);
        TEST_ASSERT(r == -EINVAL && err && strstr(err, "not a plain plugin file name"),
                    "a plugin type with a path is refused (%s)", err ?: "");
        free(TAKE_PTR(err));
        r = cni_network_find(dir, "empty", &n, &err);
        TEST_ASSERT(r == -EINVAL && err && strstr(err, "1 to 32 plugins"), "an empty plugin list is refused");
        /* What a start checks first. */
        _cleanup_free_ char *bin = xasprintf("%s/findbin", tmp);
        if (mkdir(bin, 0755) < 0)
                abort();
        write_file(bin, "bridge", "#!/bin/sh\n", 0755);
        MachineConfig cfg;
        machine_config_init(&cfg);
        cfg.network_mode = NETWORK_MODE_CNI;
        cfg.cni_config_dir = xstrdup(dir);
        cfg.cni_plugin_dirs = xstrdup(bin);
        free(TAKE_PTR(err));
        r = cni_network_for_machine(&cfg, "web", false, NULL, NULL, &err);
        TEST_ASSERT(r == -EINVAL && err && strstr(err, "Mode=cni needs CNINetwork=") &&
                            strstr(err, "berth set web Network.CNINetwork=NAME"),
                    "a start without CNINetwork= says how to set it (%s)", err ?: "");
        cfg.cni_network = xstrdup("a");
        free(TAKE_PTR(err));
        r = cni_network_for_machine(&cfg, "web", false, NULL, NULL, &err);
        TEST_ASSERT(r == -ENOENT && err && strstr(err, "plugin portmap is not an executable file in"),
                    "a start with a plugin missing names it (%s)", err ?: "");
        write_file(bin, "portmap", "#!/bin/sh\n", 0755);
        free(TAKE_PTR(err));
        char **dirs = NULL;
        r = cni_network_for_machine(&cfg, "web", true, &n, &dirs, &err);
        TEST_ASSERT(r == 0 && n.n_plugins == 2 && strv_length(dirs) == 1, "with every plugin there it passes");
        cni_network_done(&n);
        strv_free(dirs);
        free(cfg.cni_network);
        cfg.cni_network = xstrdup("single");
        write_file(bin, "macvlan", "#!/bin/sh\n", 0755);
        free(TAKE_PTR(err));
        r = cni_network_for_machine(&cfg, "web", true, NULL, NULL, &err);
        TEST_ASSERT(r == -EINVAL && err && strstr(err, "portMappings"),
                    "port forwards need a plugin with the portMappings capability (%s)", err ?: "");
        machine_config_done(&cfg);

        free(TAKE_PTR(err));
        _cleanup_free_ char *none = xasprintf("%s/none", tmp);
        r = cni_network_find(none, "a", &n, &err);
        TEST_ASSERT(r == -ENOENT && err && strstr(err, "CNIConfigDirectory="), "a missing dir says how to set it");
}

static const char result_100[] =
        "{\"cniVersion\":\"1.0.0\","
        "\"interfaces\":[{\"name\":\"cni0\",\"mac\":\"00:11:22:33:44:55\"},"
        "{\"name\":\"host0\",\"mac\":\"00:11:22:33:44:66\",\"sandbox\":\"/proc/1/ns/net\"}],"
        "\"ips\":[{\"interface\":1,\"address\":\"10.88.0.5/16\",\"gateway\":\"10.88.0.1\"},"
        "{\"interface\":1,\"address\":\"fd00::5/64\"}],"
        "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.88.0.1\"},{\"dst\":\"::/0\"}],"
        "\"dns\":{\"nameservers\":[\"10.88.0.1\",\"fd00::1\"],\"domain\":\"lab\",\"search\":[\"a.lab\",\"b.lab\"],"
        "\"options\":[\"ndots:2\"]}}";

/* 0.4.0 results carry "version" in each IP. */
static const char result_040[] =
        "{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/x\"}],"
        "\"ips\":[{\"version\":\"4\",\"interface\":0,\"address\":\"10.98.0.2/24\",\"gateway\":\"10.98.0.1\"}],"
        "\"dns\":{}}";

static void test_results(void) {
        _cleanup_json_ json_object *o = parse(result_100);
        CniResult r = {};
        _cleanup_free_ char *err = NULL;
        TEST_ASSERT(cni_result_from_json(o, &r, &err) == 0 && r.n_ips == 2 && r.n_routes == 2 &&
                            r.ips[0].addr.prefixlen == 16 && r.ips[0].gateway.family == AF_INET &&
                            r.ips[1].addr.addr.family == AF_INET6 && r.ips[1].gateway.family == 0 &&
                            r.routes[1].gw.family == 0 && strv_length(r.nameservers) == 2,
                    "a 1.0.0 result: addresses with prefixes, gateways, routes, DNS");
        _cleanup_free_ char *addrs = cni_result_addresses(&r);
        TEST_ASSERT_STREQ(addrs, "10.88.0.5 fd00::5", "its addresses, for status");
        _cleanup_free_ char *resolv = cni_result_resolv_conf(&r, "podman");
        TEST_ASSERT_STREQ(resolv,
                          "# Written by berth at boot: DNS of CNI network podman.\n"
                          "nameserver 10.88.0.1\nnameserver fd00::1\ndomain lab\nsearch a.lab b.lab\n"
                          "options ndots:2\n",
                          "its resolv.conf");
        cni_result_done(&r);

        _cleanup_json_ json_object *o4 = parse(result_040);
        TEST_ASSERT(cni_result_from_json(o4, &r, &err) == 0 && r.n_ips == 1 && r.ips[0].addr.prefixlen == 24 &&
                            !r.nameservers && !cni_result_resolv_conf(&r, "x"),
                    "a 0.4.0 result; empty DNS gives no resolv.conf");
        cni_result_done(&r);

        _cleanup_json_ json_object *empty = parse("{\"cniVersion\":\"1.0.0\"}");
        _cleanup_free_ char *none = NULL;
        TEST_ASSERT(cni_result_from_json(empty, &r, &err) == 0 && r.n_ips == 0 && !(none = cni_result_addresses(&r)),
                    "a result without addresses (a plugin that only sets up links)");
        cni_result_done(&r);

        static const struct {
                const char *json;
                const char *why;
        } bad[] = {
                { "{\"ips\":{}}", "\"ips\" is not a list" },
                { "{\"ips\":[{\"address\":\"10.0.0.1\"}]}", "no valid \"address\"" },
                { "{\"ips\":[{\"address\":\"10.0.0.1/33\"}]}", "no valid \"address\"" },
                { "{\"ips\":[{\"address\":\"banana/24\"}]}", "no valid \"address\"" },
                { "{\"ips\":[{\"address\":7}]}", "no valid \"address\"" },
                { "{\"ips\":[\"10.0.0.1/24\"]}", "no valid \"address\"" },
                { "{\"ips\":[{\"address\":\"10.0.0.1/24\",\"gateway\":\"x\"}]}", "invalid \"gateway\"" },
                { "{\"routes\":[{\"gw\":\"10.0.0.1\"}]}", "no valid \"dst\"" },
                { "{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":1}]}", "invalid \"gw\"" },
                { "{\"dns\":[]}", "\"dns\" is not an object" },
                { "{\"dns\":{\"nameservers\":[\"evil\"]}}", "not an IP address" },
                { "{\"dns\":{\"nameservers\":[\"1.1.1.1\\nnameserver 6.6.6.6\"]}}", "not one of short strings" },
                { "{\"dns\":{\"search\":\"a\"}}", "not one of short strings" },
                { "{\"dns\":{\"domain\":\"a\\nb\"}}", "invalid \"domain\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_json_ json_object *b = parse(bad[i].json);
                free(TAKE_PTR(err));
                int k = cni_result_from_json(b, &r, &err);
                TEST_ASSERT(k == -EBADMSG && err && strstr(err, bad[i].why) && r.n_ips == 0,
                            "malformed result %s is refused: %s", bad[i].json, err ?: "no message");
        }

        json_object *j = NULL;
        free(TAKE_PTR(err));
        TEST_ASSERT(cni_json_parse("not json", 8, &j, &err) == -EBADMSG && err, "text that is not JSON is refused");
        free(TAKE_PTR(err));
        TEST_ASSERT(cni_json_parse("[1]", 3, &j, &err) == -EBADMSG, "a JSON array is not a result");
        free(TAKE_PTR(err));
        TEST_ASSERT(cni_json_parse("{} {}", 5, &j, &err) == -EBADMSG, "nor two objects");
}

static void test_plugin_input(void) {
        CniNetwork n = CNI_NETWORK_INIT;
        _cleanup_free_ char *err = NULL;
        json_object *list = parse("{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"plugins\":["
                                  "{\"type\":\"bridge\",\"name\":\"other\",\"cniVersion\":\"0.1.0\","
                                  "\"prevResult\":{\"x\":1},\"bridge\":\"br0\"},"
                                  "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}");
        if (cni_network_from_json(list, "test", &n, &err) < 0)
                abort();
        PortForward ports[] = { { PORT_TCP, 8080, 80 }, { PORT_UDP, 5353, 53 } };
        CniRuntime rt = { .container_id = xstrdup("berth-web"), .netns = xstrdup("/proc/7/fd/9"),
                          .ifname = xstrdup("host0"), .ports = ports, .n_ports = 2 };
        rt.plugin_dirs = strv_append(strv_append(NULL, "/usr/lib/cni"), "/opt/cni/bin");

        _cleanup_free_ char *in0 = cni_plugin_stdin(&n, 0, NULL, &rt);
        TEST_ASSERT_STREQ(in0, "{\"type\":\"bridge\",\"name\":\"net\",\"cniVersion\":\"1.0.0\",\"bridge\":\"br0\"}",
                          "plugin 1 gets the list's name and version, no prevResult of its own, no runtimeConfig");
        _cleanup_json_ json_object *prev = parse("{\"cniVersion\":\"1.0.0\",\"ips\":[]}");
        _cleanup_free_ char *in1 = cni_plugin_stdin(&n, 1, prev, &rt);
        TEST_ASSERT_STREQ(in1,
                          "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true},\"cniVersion\":\"1.0.0\","
                          "\"name\":\"net\",\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[]},"
                          "\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,"
                          "\"protocol\":\"tcp\"},{\"hostPort\":5353,\"containerPort\":53,\"protocol\":\"udp\"}]}}",
                          "plugin 2 gets prevResult and, asking for it, runtimeConfig.portMappings");

        _cleanup_strv_free_ char **env = cni_env_build(CNI_DEL, &rt);
        _cleanup_free_ char *joined = NULL;
        for (char **e = env; *e; e++)
                strextendf(&joined, "%s%s", joined ? "|" : "", *e);
        TEST_ASSERT_STREQ(joined,
                          "CNI_COMMAND=DEL|CNI_CONTAINERID=berth-web|CNI_NETNS=/proc/7/fd/9|CNI_IFNAME=host0|"
                          "CNI_PATH=/usr/lib/cni:/opt/cni/bin|PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                          "/sbin:/bin",
                          "the environment: CNI_* and a PATH, nothing of ours");
        free(rt.netns);
        rt.netns = NULL;
        strv_free(env);
        env = cni_env_build(CNI_DEL, &rt);
        TEST_ASSERT(strv_contains(env, "CNI_NETNS="), "a DEL after the namespace is gone: CNI_NETNS is empty");

        rt.ports = NULL;
        rt.n_ports = 0;
        cni_runtime_done(&rt);
        cni_network_done(&n);
}

/* A plugin as a shell script: logs "COMMAND type" to LOG, then BODY. */
static void plugin(const char *bin, const char *log, const char *type, const char *body) {
        _cleanup_free_ char *text =
                xasprintf("#!/bin/sh\ninput=$(cat)\necho \"$CNI_COMMAND %s $CNI_IFNAME\" >>%s\n%s\n", type, log, body);
        write_file(bin, type, text, 0755);
}

static int run_add(const char *dir, const char *bin, const char *name, unsigned timeout, json_object **ret,
                   char **ret_err) {
        CniNetwork n = CNI_NETWORK_INIT;
        _cleanup_free_ char *err = NULL;
        if (cni_network_find(dir, name, &n, &err) < 0)
                abort();
        CniRuntime rt = { .container_id = xstrdup("berth-t"), .ifname = xstrdup("eth0"), .timeout_sec = timeout };
        rt.plugin_dirs = strv_append(NULL, bin);
        int r = cni_add(&n, &rt, ret, ret_err);
        cni_runtime_done(&rt);
        cni_network_done(&n);
        return r;
}

static char *slurp(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *s = NULL;
        size_t l;
        if (fd < 0 || read_file_fd(fd, 65536, &s, &l) < 0)
                return xstrdup("");
        return s;
}

static void test_exec(const char *tmp) {
        _cleanup_free_ char *dir = xasprintf("%s/exec.d", tmp), *bin = xasprintf("%s/bin", tmp),
                            *log = xasprintf("%s/log", tmp);
        if (mkdir(dir, 0755) < 0 || mkdir(bin, 0755) < 0)
                abort();
        /* "first" makes a result; "second" passes on its prevResult with an
         * address added, as a chained plugin does. */
        plugin(bin, log, "first", "[ $CNI_COMMAND = ADD ] && echo '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.0.2/24\"}]}'\nexit 0");
        plugin(bin, log, "second",
               "[ $CNI_COMMAND = ADD ] || exit 0\necho \"$input\" | grep -q '\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":\\[{\"address\":\"10.1.0.2/24\"}\\]}' || exit 9\n"
               "echo '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.0.2/24\"},{\"address\":\"fd01::2/64\"}]}'");
        plugin(bin, log, "fails", "[ $CNI_COMMAND = ADD ] || exit 0\necho '{\"code\":7,\"msg\":\"no can do\",\"details\":\"really\"}'\nexit 1");
        plugin(bin, log, "garbage", "[ $CNI_COMMAND = ADD ] || exit 0\necho '{\"ips\":'");
        plugin(bin, log, "stderr", "[ $CNI_COMMAND = ADD ] || exit 0\necho 'panic: oops' >&2\nexit 2");
        plugin(bin, log, "hangs", "[ $CNI_COMMAND = ADD ] || exit 0\nexec sleep 60");
        write_file(bin, "notexec", "#!/bin/sh\nexit 0\n", 0644);
        /* Exits before reading its stdin: our write gets EPIPE, not SIGPIPE. */
        write_file(bin, "noread", "#!/bin/sh\n[ $CNI_COMMAND = ADD ] && exit 3\nexit 0\n", 0755);
        const char *lists[][2] = {
                { "good", "\"first\"},{\"type\":\"second\"" },
                { "failing", "\"first\"},{\"type\":\"fails\"" },
                { "garbled", "\"first\"},{\"type\":\"garbage\"" },
                { "crashing", "\"first\"},{\"type\":\"stderr\"" },
                { "hanging", "\"first\"},{\"type\":\"hangs\"" },
                { "missing", "\"first\"},{\"type\":\"nosuch\"" },
                { "notexec", "\"first\"},{\"type\":\"notexec\"" },
                { "noread", "\"first\"},{\"type\":\"noread\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                _cleanup_free_ char *text = xasprintf("{\"cniVersion\":\"1.0.0\",\"name\":\"%s\",\"plugins\":[{\"type\":%s}]}",
                                                      lists[i][0], lists[i][1]);
                _cleanup_free_ char *file = xasprintf("%s.conflist", lists[i][0]);
                write_file(dir, file, text, 0644);
        }

        json_object *res = NULL;
        _cleanup_free_ char *err = NULL;
        int r = run_add(dir, bin, "good", 5, &res, &err);
        CniResult parsed = {};
        TEST_ASSERT(r == 0 && res && cni_result_from_json(res, &parsed, &err) == 0 && parsed.n_ips == 2,
                    "ADD chains the result of one plugin into the next (got %d: %s)", r, err ?: "");
        cni_result_done(&parsed);
        if (res)
                json_object_put(res);
        _cleanup_free_ char *l = slurp(log);
        TEST_ASSERT_STREQ(l, "ADD first eth0\nADD second eth0\n", "ADD runs the plugins in list order");
        (void) unlink(log);

        static const struct {
                const char *list;
                const char *why;
                int r;
        } fails[] = {
                { "failing", "plugin fails (", -EIO },
                { "failing", "ADD failed: error 7: no can do (really)", -EIO },
                { "garbled", "plugin garbage (", -EBADMSG },
                { "garbled", "ADD returned a malformed result", -EBADMSG },
                { "crashing", "ADD failed: exit status 2: panic: oops", -EIO },
                { "missing", "plugin nosuch: no executable nosuch in", -ENOENT },
                { "notexec", "plugin notexec: no executable", -ENOENT },
                { "noread", "ADD failed: exit status 3 without an error message", -EIO },
        };
        for (size_t i = 0; i < ELEMENTSOF(fails); i++) {
                free(TAKE_PTR(err));
                res = NULL;
                r = run_add(dir, bin, fails[i].list, 5, &res, &err);
                TEST_ASSERT(r == fails[i].r && !res && err && strstr(err, fails[i].why), "list %s: %s (%s)",
                            fails[i].list, fails[i].why, err ?: "no message");
                free(l);
                l = slurp(log);
                /* Everything is undone, in reverse order; a missing plugin's DEL fails too. */
                TEST_ASSERT(strstr(l, "DEL first eth0\n") && (l[strlen(l) - 1] == '\n') &&
                                    streq(strstr(l, "DEL first eth0\n"), "DEL first eth0\n"),
                            "list %s: a failed ADD ends with a DEL of the whole list, the first plugin last", fails[i].list);
                (void) unlink(log);
        }

        free(TAKE_PTR(err));
        uint64_t start = (uint64_t) time(NULL);
        r = run_add(dir, bin, "hanging", 1, &res, &err);
        TEST_ASSERT(r == -ETIME && err && strstr(err, "plugin hangs") && strstr(err, "did not finish within 1s"),
                    "a plugin that hangs is killed at the timeout (%s)", err ?: "");
        TEST_ASSERT((uint64_t) time(NULL) - start < 5, "and not waited for longer");
        free(l);
        l = slurp(log);
        TEST_ASSERT(strstr(l, "DEL hangs eth0\nDEL first eth0\n") != NULL, "then the list is DEL'd");
        (void) unlink(log);
}

static void test_cache(const char *tmp) {
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, tmp);
        CniNetwork n = CNI_NETWORK_INIT;
        _cleanup_free_ char *err = NULL;
        json_object *list = parse("{\"cniVersion\":\"0.4.0\",\"name\":\"net\",\"plugins\":[{\"type\":\"bridge\"}]}");
        if (cni_network_from_json(list, "/etc/cni/net.d/net.conflist", &n, &err) < 0)
                abort();
        PortForward ports[] = { { PORT_UDP, 5353, 53 } };
        CniRuntime rt = { .container_id = xstrdup("berth-web"), .netns = xstrdup("/proc/7/fd/9"),
                          .ifname = xstrdup("host0"), .timeout_sec = 7 };
        rt.ports = xcalloc(1, sizeof *rt.ports);
        rt.ports[0] = ports[0];
        rt.n_ports = 1;
        rt.plugin_dirs = strv_append(NULL, "/usr/lib/cni");
        _cleanup_json_ json_object *result = parse(result_040);
        TEST_ASSERT(cni_cache_write(dfd, &n, &rt, result) == 0, "the cache is written");
        struct stat st;
        TEST_ASSERT(fstatat(dfd, CNI_CACHE_FILE, &st, 0) == 0 && (st.st_mode & 07777) == 0600, "root's only (0600)");

        CniNetwork n2 = CNI_NETWORK_INIT;
        CniRuntime rt2 = {};
        json_object *res2 = NULL;
        int r = cni_cache_read(dfd, &n2, &rt2, &res2, &err);
        TEST_ASSERT(r == 0 && streq(n2.name, "net") && streq(n2.version, "0.4.0") && n2.n_plugins == 1 &&
                            streq(n2.path, "/etc/cni/net.d/net.conflist") && streq(rt2.container_id, "berth-web") &&
                            streq(rt2.ifname, "host0") && streq_ptr(rt2.netns, "/proc/7/fd/9") &&
                            rt2.timeout_sec == 7 && rt2.n_ports == 1 && rt2.ports[0].protocol == PORT_UDP &&
                            rt2.ports[0].host_port == 5353 && strv_length(rt2.plugin_dirs) == 1 && res2 &&
                            json_object_equal(res2, result),
                    "and read back the same: the list, runtime, ports and result DEL needs (got %d)", r);
        if (res2)
                json_object_put(res2);
        cni_network_done(&n2);
        cni_runtime_done(&rt2);

        write_file(tmp, CNI_CACHE_FILE, "{\"network\":1}", 0600);
        free(TAKE_PTR(err));
        TEST_ASSERT(cni_cache_read(dfd, &n2, &rt2, &res2, &err) == -EBADMSG && err, "a broken cache is refused");
        (void) unlinkat(dfd, CNI_CACHE_FILE, 0);
        free(TAKE_PTR(err));
        TEST_ASSERT(cni_cache_read(dfd, &n2, &rt2, &res2, &err) == -ENOENT, "no cache: -ENOENT");
        TEST_ASSERT(cni_cache_cleanup(dfd, "web") == 0, "cleanup without a cache does nothing");
        cni_runtime_done(&rt);
        cni_network_done(&n);
}

int main(void) {
        char tmpl[] = "/tmp/test-cni.XXXXXX";
        if (!mkdtemp(tmpl))
                return EXIT_FAILURE;
        test_names();
        test_find(tmpl);
        test_results();
        test_plugin_input();
        test_exec(tmpl);
        test_cache(tmpl);
        (void) rm_rf_at(AT_FDCWD, tmpl);
        return tap_finish();
}
