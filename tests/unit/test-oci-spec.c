/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/oci-spec: what berth-oci takes from a bundle's config.json, and the
 * malformed and hostile configs it refuses as a whole, naming the field. */
#include <sched.h>
#include <seccomp.h>
#include <sys/resource.h>

#include "oci-spec.h"
#include "tap.h"
#include "util.h"

/* What podman and containerd write, trimmed to the fields we act on. */
static const char good_config[] =
        "{\"ociVersion\":\"1.0.2-dev\","
        " \"process\":{\"terminal\":true,\"user\":{\"uid\":1000,\"gid\":100,\"additionalGids\":[10,20]},"
        "  \"args\":[\"/bin/sh\",\"-c\",\"exit 3\"],\"env\":[\"PATH=/bin\",\"TERM=xterm\"],\"cwd\":\"/home\","
        "  \"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\"],\"effective\":[\"CAP_KILL\"],"
        "   \"permitted\":[\"CAP_KILL\"],\"ambient\":[]},"
        "  \"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":512}],"
        "  \"noNewPrivileges\":true,\"oomScoreAdj\":-500},"
        " \"root\":{\"path\":\"rootfs\",\"readonly\":true},"
        " \"hostname\":\"box\","
        " \"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
        "  {\"destination\":\"/run\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"tmpcopyup\",\"size=64m\"]},"
        "  {\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"/tmp/hosts\",\"options\":[\"rbind\",\"ro\"]}],"
        " \"hooks\":{\"prestart\":[{\"path\":\"/bin/true\",\"args\":[\"true\"],\"timeout\":5}],"
        "  \"poststop\":[{\"path\":\"/bin/true\"}]},"
        " \"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\"},"
        " \"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"network\",\"path\":\"/proc/1/ns/net\"},"
        "   {\"type\":\"user\"}],"
        "  \"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
        "  \"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
        "  \"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"],"
        "  \"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229,\"fileMode\":438}],"
        "  \"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
        "     {\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":229,\"access\":\"rw\"}],"
        "   \"memory\":{\"limit\":67108864},\"pids\":{\"limit\":100}},"
        "  \"cgroupsPath\":\"system.slice:libpod:abc\","
        "  \"sysctl\":{\"net.ipv4.ping_group_range\":\"0 0\"},"
        "  \"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
        "   \"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_NO_SUCH\"],"
        "   \"syscalls\":[{\"names\":[\"read\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},"
        "     {\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","
        "      \"args\":[{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]}]}}}";

static void test_good(void) {
        OciSpec s = {};
        _cleanup_free_ char *err = NULL;
        int r = oci_spec_parse(good_config, strlen(good_config), &s, &err);
        if (!TEST_ASSERT(r == 0, "parses a podman-like config"))
                tap_diag("%s", err);
        if (r < 0)
                return;
        TEST_ASSERT(s.process.terminal && s.process.uid == 1000 && s.process.gid == 100 && s.process.n_groups == 2 &&
                            s.process.groups[1] == 20, "process.user");
        TEST_ASSERT(strv_length(s.process.args) == 3 && streq(s.process.cwd, "/home"), "process args and cwd");
        TEST_ASSERT(s.process.has_caps && s.process.caps.bounding == ((UINT64_C(1) << 5) | (UINT64_C(1) << 0)) &&
                            s.process.caps.effective == (UINT64_C(1) << 5),
                    "capabilities as bit sets");
        TEST_ASSERT(s.process.n_rlimits == 1 && s.process.rlimits[0].resource == RLIMIT_NOFILE &&
                            s.process.rlimits[0].soft == 512, "rlimits");
        TEST_ASSERT(s.process.no_new_privileges && s.process.has_oom_score_adj && s.process.oom_score_adj == -500,
                    "noNewPrivileges, oomScoreAdj");
        TEST_ASSERT_STREQ(s.root_path, "rootfs", "root.path as written");
        TEST_ASSERT(s.root_readonly && streq_ptr(s.hostname, "box"), "root.readonly, hostname");
        TEST_ASSERT(s.n_mounts == 3 && streq(s.mounts[2].source, "/tmp/hosts") &&
                            strv_contains(s.mounts[1].options, "tmpcopyup"), "mounts");
        TEST_ASSERT(s.ns[OCI_NS_PID].wanted && !s.ns[OCI_NS_PID].path && streq_ptr(s.ns[OCI_NS_NET].path, "/proc/1/ns/net") &&
                            !s.ns[OCI_NS_IPC].wanted, "namespaces, with a path to join");
        TEST_ASSERT(s.n_uid_maps == 1 && s.uid_maps[0].host_id == 100000 && s.uid_maps[0].size == 65536, "uidMappings");
        TEST_ASSERT(strv_length(s.masked_paths) == 1 && strv_length(s.readonly_paths) == 1, "masked and read-only paths");
        TEST_ASSERT(s.n_devices == 1 && s.devices[0].major == 10 && s.devices[0].mode == 0666, "devices");
        TEST_ASSERT(s.n_device_rules == 2 && !s.device_rules[0].allow && s.device_rules[0].type == 'a' &&
                            s.device_rules[1].minor == 229, "device rules");
        TEST_ASSERT(s.memory_limit == 64u << 20 && s.pids_limit == 100, "memory and pids limits");
        TEST_ASSERT(s.resources.has_memory && s.resources.has_pids && !s.resources.has_cpu_shares,
                    "resources: what is set and what is not");
        TEST_ASSERT_STREQ(oci_spec_annotation(&s, "io.kubernetes.cri.container-type"), "sandbox", "annotations");
        TEST_ASSERT(!oci_spec_annotation(&s, "io.kubernetes"), "an annotation is found by its whole key");
        TEST_ASSERT_STREQ(s.cgroups_path, "system.slice:libpod:abc", "cgroupsPath");
        TEST_ASSERT(strv_length(s.sysctl) == 1 && streq(s.sysctl[0], "net.ipv4.ping_group_range=0 0"), "sysctl");
        TEST_ASSERT(s.seccomp && s.seccomp->default_action == SCMP_ACT_ERRNO(38) && s.seccomp->n_arches == 1 &&
                            s.seccomp->n_rules == 2 && s.seccomp->rules[1].n_args == 1 &&
                            s.seccomp->rules[1].args[0].op == SCMP_CMP_EQ, "seccomp; an unknown arch is skipped");
        TEST_ASSERT(s.n_hooks[OCI_HOOK_PRESTART] == 1 && s.hooks[OCI_HOOK_PRESTART][0].timeout == 5 &&
                            s.n_hooks[OCI_HOOK_POSTSTOP] == 1 && s.n_hooks[OCI_HOOK_POSTSTART] == 0, "hooks");
        oci_spec_done(&s);
}

static void bad(const char *desc, const char *json, const char *want) {
        OciSpec s = {};
        char *err = NULL;
        int r = oci_spec_parse(json, strlen(json), &s, &err);
        if (!TEST_ASSERT(r < 0 && err && strstr(err, want), "refuses %s", desc))
                tap_diag("r=%d err=%s", r, err ?: "(none)");
        free(err);
        if (r >= 0)
                oci_spec_done(&s);
}

#define HEAD "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},"
#define PROC "\"process\":{\"args\":[\"sh\"]}"

static void test_bad(void) {
        bad("a config that is no JSON", "{\"ociVersion\":", "not a JSON object");
        bad("a JSON array", "[1]", "not a JSON object");
        bad("trailing garbage", HEAD PROC "} x", "not a JSON object");
        bad("an annotation that is no string", HEAD PROC ",\"annotations\":{\"org.berth.profile\":1}}",
            "annotations.org.berth.profile: must be a string");
        bad("a CPU shares of 1", HEAD PROC ",\"linux\":{\"resources\":{\"cpu\":{\"shares\":1}}}}",
            "linux.resources.cpu.shares: 1 is below");
        bad("a missing ociVersion", "{" PROC ",\"root\":{\"path\":\"r\"}}", "ociVersion");
        bad("a missing process", HEAD "\"hostname\":\"x\"}", "process: missing");
        bad("empty args", HEAD "\"process\":{\"args\":[]}}", "process.args");
        bad("args of the wrong type", HEAD "\"process\":{\"args\":\"sh\"}}", "process.args: must be an array");
        bad("a number among args", HEAD "\"process\":{\"args\":[\"sh\",1]}}", "process.args[1]: must be a string");
        bad("a relative cwd", HEAD "\"process\":{\"args\":[\"sh\"],\"cwd\":\"home\"}}", "process.cwd");
        bad("env without '='", HEAD "\"process\":{\"args\":[\"sh\"],\"env\":[\"PATH\"]}}", "process.env[0]");
        bad("a negative uid", HEAD "\"process\":{\"args\":[\"sh\"],\"user\":{\"uid\":-1}}}", "process.user.uid");
        bad("a uid as a string", HEAD "\"process\":{\"args\":[\"sh\"],\"user\":{\"uid\":\"0\"}}}", "process.user.uid");
        bad("an unknown capability", HEAD "\"process\":{\"args\":[\"sh\"],\"capabilities\":{\"bounding\":[\"CAP_FLY\"]}}}",
            "CAP_FLY");
        bad("an unknown rlimit", HEAD "\"process\":{\"args\":[\"sh\"],\"rlimits\":[{\"type\":\"RLIMIT_X\",\"soft\":1,\"hard\":1}]}}",
            "RLIMIT_X");
        bad("soft above hard", HEAD "\"process\":{\"args\":[\"sh\"],\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":2,\"hard\":1}]}}",
            "soft limit");
        bad("oomScoreAdj out of range", HEAD "\"process\":{\"args\":[\"sh\"],\"oomScoreAdj\":5000}}", "oomScoreAdj");
        bad("root.path with ..", "{\"ociVersion\":\"1\",\"root\":{\"path\":\"../etc\"}," PROC "}", "root.path");
        bad("a relative mount destination", HEAD PROC ",\"mounts\":[{\"destination\":\"proc\",\"type\":\"proc\"}]}",
            "mounts[0].destination");
        bad("a mount destination with ..", HEAD PROC ",\"mounts\":[{\"destination\":\"/a/../../etc\",\"type\":\"tmpfs\"}]}",
            "contains \"..\"");
        bad("a mount on /", HEAD PROC ",\"mounts\":[{\"destination\":\"/\",\"type\":\"tmpfs\"}]}", "root.path, not a mount");
        bad("an unknown namespace", HEAD PROC ",\"linux\":{\"namespaces\":[{\"type\":\"time2\"}]}}", "time2");
        bad("a namespace twice", HEAD PROC ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}", "twice");
        bad("a relative namespace path", HEAD PROC ",\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"x\"}]}}",
            "not an absolute path");
        bad("maps without a user namespace",
            HEAD PROC ",\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}}", "user namespace");
        bad("a new user namespace without maps", HEAD PROC ",\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}",
            "uidMappings");
        bad("a map past the last ID", HEAD PROC ",\"linux\":{\"namespaces\":[{\"type\":\"user\"}],"
            "\"uidMappings\":[{\"containerID\":0,\"hostID\":4294967290,\"size\":100}]}}", "past the last ID");
        bad("a relative masked path", HEAD PROC ",\"linux\":{\"maskedPaths\":[\"proc/kcore\"]}}", "maskedPaths[0]");
        bad("a device outside /dev", HEAD PROC ",\"linux\":{\"devices\":[{\"path\":\"/etc/x\",\"type\":\"c\"}]}}", "below /dev");
        bad("a device of an unknown type", HEAD PROC ",\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"q\"}]}}",
            "linux.devices[0].type");
        bad("bad device access", HEAD PROC ",\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}}}",
            "access");
        bad("a cgroupsPath with ..", HEAD PROC ",\"linux\":{\"cgroupsPath\":\"/a/../../b\"}}", "cgroupsPath");
        bad("a sysctl with a path", HEAD PROC ",\"linux\":{\"sysctl\":{\"../../x\":\"1\"}}}", "sysctl");
        bad("a sysctl of the wrong type", HEAD PROC ",\"linux\":{\"sysctl\":{\"kernel.x\":1}}}", "must be a string");
        bad("an unknown seccomp action", HEAD PROC ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_FLY\"}}}",
            "SCMP_ACT_FLY");
        bad("a seccomp arg index past 5", HEAD PROC ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
            "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":9,\"value\":1,"
            "\"op\":\"SCMP_CMP_EQ\"}]}]}}}", "index");
        bad("a relative hook path", HEAD PROC ",\"hooks\":{\"prestart\":[{\"path\":\"true\"}]}}", "hooks.prestart[0].path");
        bad("hooks of the wrong type", HEAD PROC ",\"hooks\":{\"poststop\":{}}}", "hooks.poststop");
        bad("a NUL in a string", HEAD "\"process\":{\"args\":[\"s\\u0000h\"]}}", "NUL");
}

static void test_huge(void) {
        /* 5000 args: more than anyone needs, refused before anything is copied. */
        _cleanup_free_ char *json = xstrdup(HEAD "\"process\":{\"args\":[\"a\"");
        for (int i = 0; i < 5000; i++)
                strextendf(&json, ",\"a\"");
        strextendf(&json, "]}}");
        bad("5000 args", json, "more than the 4096");

        _cleanup_free_ char *deep = NULL;
        for (int i = 0; i < 100; i++)
                strextendf(&deep, "[");
        _cleanup_free_ char *nested = xasprintf(HEAD PROC ",\"x\":%s}", deep);
        bad("JSON nested 100 deep", nested, "not a JSON object");

        size_t big = OCI_SPEC_MAX_SIZE + 1;
        char *huge = xmalloc(big + 1);
        memset(huge, ' ', big);
        huge[0] = '{';
        huge[big - 1] = '}';
        huge[big] = 0;
        OciSpec s = {};
        char *err = NULL;
        int r = oci_spec_parse(huge, big, &s, &err);
        TEST_ASSERT(r == -E2BIG && err, "refuses a config over %u bytes", OCI_SPEC_MAX_SIZE);
        free(err);
        free(huge);
}

static void test_process(void) {
        static const char p[] = "{\"terminal\":true,\"args\":[\"/bin/sh\"],\"env\":[\"A=1\"],\"cwd\":\"/\","
                                "\"user\":{\"uid\":0,\"gid\":0}}";
        OciProcess proc = {};
        char *err = NULL;
        int r = oci_process_parse(p, strlen(p), &proc, &err);
        TEST_ASSERT(r == 0 && proc.terminal && streq(proc.args[0], "/bin/sh"), "parses an exec --process file");
        oci_process_done(&proc);
        free(err);
        err = NULL;
        r = oci_process_parse("{\"args\":[]}", 11, &proc, &err);
        TEST_ASSERT(r < 0 && err && strstr(err, "process.args"), "refuses an exec without args");
        free(err);
}

/* update --resources: runc's LinuxResources, 0 "unchanged", -1 "unlimited". */
static void test_resources(void) {
        static const char u[] = "{\"memory\":{\"limit\":-1},\"pids\":{\"limit\":0},"
                                "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000}}";
        OciResources r = {};
        char *err = NULL;
        int k = oci_resources_parse(u, strlen(u), &r, &err);
        TEST_ASSERT(k == 0 && r.has_memory && r.memory_limit == UINT64_MAX && !r.has_pids, "memory -1, pids 0");
        TEST_ASSERT(r.has_cpu_shares && r.cpu_shares == 512 && r.cpu_quota == 50000 && r.cpu_period == 100000, "cpu");
        static const char *const bad_ones[][2] = {
                { "{\"memory\":{\"limit\":\"1g\"}}", "memory.limit: must be an integer" },
                { "{\"cpu\":{\"shares\":1}}", "cpu.shares: 1 is below" },
                { "{\"cpu\":{\"period\":10}}", "cpu.period: 10 is below" },
                { "{\"pids\":{\"limit\":-2}}", "pids.limit: -2 is out of range" },
                { "[1]", "not a JSON object" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_ones); i++) {
                err = NULL;
                k = oci_resources_parse(bad_ones[i][0], strlen(bad_ones[i][0]), &r, &err);
                TEST_ASSERT(k < 0 && err && strstr(err, bad_ones[i][1]), "update refuses %s (%s)", bad_ones[i][0],
                            err ?: "no error");
                free(err);
        }
}

static void test_names(void) {
        TEST_ASSERT(oci_ns_flag(OCI_NS_NET) == CLONE_NEWNET && streq(oci_ns_name(OCI_NS_NET), "network"),
                    "namespace names and flags");
        TEST_ASSERT_STREQ(oci_hook_name(OCI_HOOK_CREATE_RUNTIME), "createRuntime", "hook names");
}

int main(void) {
        test_good();
        test_bad();
        test_huge();
        test_process();
        test_resources();
        test_names();
        return tap_finish();
}
