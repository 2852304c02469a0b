/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <ini.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>

/* Spelled with its directory: the build's generated config.h sits earlier
 * on the include path and would be picked up by a bare "config.h". */
#include "lib/config.h"
#include "binds.h"
#include "tap.h"
#include "unpack-limit.h"
#include "util.h"

/* Every key a machine.conf can hold ([Import] is berth.conf's alone). */
#define ALL_KEYS                                                                                    \
        ((CONFIG_KEY_BIT(_CONFIG_KEY_MAX) - 1) & ~CONFIG_KEY_BIT(CONFIG_IMPORT_MAX_SIZE) &          \
         ~CONFIG_KEY_BIT(CONFIG_IMPORT_DEFAULT_REGISTRY))

static bool config_equal(const MachineConfig *a, const MachineConfig *b) {
        return machine_config_equal(a, b) && a->set_mask == b->set_mask;
}

static void config_copy(MachineConfig *dst, const MachineConfig *src) {
        machine_config_copy(dst, src);
}

static int parse(MachineConfig *c, const char *text, ConfigSource source, bool mark, char **ret_error) {
        return machine_config_parse_text(c, text, strlen(text), "test.conf", source, mark, ret_error);
}

/* Parse TEXT into a fresh config as a machine file; must succeed. */
static bool parse_good(MachineConfig *c, const char *desc, const char *text) {
        _cleanup_free_ char *error = NULL;

        machine_config_init(c);
        int r = parse(c, text, CONFIG_SOURCE_MACHINE, true, &error);
        if (!TEST_ASSERT(r == 0 && !error, "%s", desc)) {
                tap_diag("r=%d error=%s", r, error ?: "(null)");
                return false;
        }
        return true;
}

/* Parse LEN bytes of TEXT as SOURCE into a fresh config; must fail with
 * -EINVAL, leave the config untouched, and give a message that contains
 * every string in the NULL-terminated list after DESC. */
static void parse_bad_full(const char *desc, const char *text, size_t len, ConfigSource source, ...) {
        _cleanup_free_ char *error = NULL;
        MachineConfig c, before;
        va_list ap;
        bool ok = true;

        machine_config_init(&c);
        config_copy(&before, &c);

        int r = machine_config_parse_text(&c, text, len, "test.conf", source, true, &error);
        ok = r == -EINVAL && error && config_equal(&c, &before);

        va_start(ap, source);
        for (const char *s; ok && (s = va_arg(ap, const char *));)
                ok = strstr(error, s);
        va_end(ap);

        if (!TEST_ASSERT(ok, "refuses %s", desc))
                tap_diag("r=%d error=%s", r, error ?: "(null)");
        else
                tap_diag("%s", error);

        machine_config_done(&c);
        machine_config_done(&before);
}

#define parse_bad(desc, text, ...) \
        parse_bad_full(desc, text, strlen(text), CONFIG_SOURCE_MACHINE, __VA_ARGS__, NULL)

static void test_defaults(void) {
        MachineConfig c;

        machine_config_init(&c);
        TEST_ASSERT_STREQ(c.init, "/sbin/init", "default Init= is /sbin/init");
        TEST_ASSERT(!c.hostname, "default Hostname= is unset (the machine's name)");
        TEST_ASSERT(c.poweroff_signal == 0 && c.reboot_signal == 0, "default signals are 'auto'");
        TEST_ASSERT(c.network_mode == NETWORK_MODE_BRIDGE, "default network mode is bridge");
        TEST_ASSERT_STREQ(c.bridge, "berth0", "default Bridge= is berth0");
        TEST_ASSERT_STREQ(c.interface, "host0", "default Interface= is host0");
        TEST_ASSERT(!c.link && c.n_ports == 0, "default Link= and Port= are empty");
        TEST_ASSERT(c.address_filter, "default AddressFilter= is yes");
        TEST_ASSERT(c.machines_per_bridge == 1023, "default MachinesPerBridge= is 1023");
        TEST_ASSERT(c.memory_max == UINT64_MAX, "default MemoryMax= is infinity");
        TEST_ASSERT(c.tasks_max == 16384, "default TasksMax= is 16384");
        TEST_ASSERT(c.memory_high == UINT64_MAX && c.cpu_weight == UINT64_MAX &&
                            c.cpu_quota_per_sec_usec == UINT64_MAX && c.io_weight == UINT64_MAX,
                    "MemoryHigh=, CPUWeight=, CPUQuota=, IOWeight= are unset by default");
        TEST_ASSERT(c.private_users == CONFIG_DEFAULT_PRIVATE_USERS && c.private_users,
                    "default PrivateUsers= is CONFIG_DEFAULT_PRIVATE_USERS (true)");
        TEST_ASSERT(c.set_mask == 0, "default set_mask is empty");

        /* Parsing nothing changes nothing. */
        MachineConfig d;
        machine_config_init(&d);
        _cleanup_free_ char *error = NULL;
        int r = parse(&d, "", CONFIG_SOURCE_MACHINE, true, &error);
        TEST_ASSERT(r == 0 && config_equal(&c, &d),
                    "an empty file leaves the defaults");
        r = parse(&d, "# comment\n; comment\n\n   \n[Machine]\n", CONFIG_SOURCE_MACHINE, true, &error);
        TEST_ASSERT(r == 0 && config_equal(&c, &d),
                    "comments, blank lines and an empty section leave the defaults");
        machine_config_done(&c);
        machine_config_done(&d);
}

static void test_network_mode_strings(void) {
        TEST_ASSERT_STREQ(network_mode_to_string(NETWORK_MODE_NONE), "none", "network_mode_to_string(NONE)");
        TEST_ASSERT_STREQ(network_mode_to_string(NETWORK_MODE_HOST), "host", "network_mode_to_string(HOST)");
        TEST_ASSERT(!network_mode_to_string(_NETWORK_MODE_MAX) &&
                            !network_mode_to_string(_NETWORK_MODE_INVALID),
                    "network_mode_to_string() of an invalid mode is NULL");
        TEST_ASSERT(network_mode_from_string("host") == NETWORK_MODE_HOST &&
                            network_mode_from_string("none") == NETWORK_MODE_NONE,
                    "network_mode_from_string() of valid names");
        TEST_ASSERT(network_mode_from_string("Host") == _NETWORK_MODE_INVALID &&
                            network_mode_from_string("") == _NETWORK_MODE_INVALID &&
                            network_mode_from_string(NULL) == _NETWORK_MODE_INVALID,
                    "network_mode_from_string() refuses other strings");
}

static void test_good_values(void) {
        MachineConfig c;

        if (parse_good(&c, "parses every key",
                       "[Machine]\n"
                       "Init=/usr/lib/systemd/systemd\n"
                       "Hostname=web-1.example\n"
                       "PoweroffSignal=SIGRTMIN+4\n"
                       "RebootSignal=INT\n"
                       "ScratchDirectory=/var/tmp/scratch\n"
                       "Boot=no\n"
                       "[Exec]\n"
                       "Command=/bin/sh -c \"exit 7\"\n"
                       "Environment=A=1\n"
                       "Environment=\"B=two words\"\n"
                       "WorkingDirectory=/srv\n"
                       "User=app:app\n"
                       "[Network]\n"
                       "Mode=host\n"
                       "Bridge=br-lab\n"
                       "Subnet=10.88.0.0/16\n"
                       "IPv6Subnet=fd00:1:2:3::/64\n"
                       "Interface=eth0\n"
                       "Link=enp1s0\n"
                       "Port=tcp:8080:80 udp:53 2222:22\n"
                       "CNINetwork=podman\n"
                       "CNIConfigDirectory=/etc/cni/net.d\n"
                       "CNIPluginDirectory=/usr/lib/cni:/opt/cni/bin\n"
                       "CNITimeoutSec=10\n"
                       "AddressFilter=no\n"
                       "MachinesPerBridge=8\n"
                       "[Resources]\n"
                       "MemoryMax=512M\n"
                       "MemoryHigh=384M\n"
                       "TasksMax=100\n"
                       "CPUWeight=200\n"
                       "CPUQuota=150%\n"
                       "IOWeight=10000\n"
                       "[Security]\n"
                       "PrivateUsers=yes\n"
                       "PrivateUsersOwnership=chown\n"
                       "[Files]\n"
                       "Bind=/srv/data\n"
                       "BindReadOnly=/etc/ssl:/etc/ssl\n"
                       "TemporaryFileSystem=/scratch\n"
                       "[Devices]\n"
                       "Allow=/dev/kvm rw\n"
                       "Allow=/dev/mem r privileged\n")) {
                TEST_ASSERT(!c.boot, "Boot=no applied");
                TEST_ASSERT(strv_length(c.command) == 3 && streq(c.command[2], "exit 7"), "Command= split into words");
                TEST_ASSERT(strv_length(c.environment) == 2 && streq(c.environment[1], "B=two words"),
                            "Environment= repeated appends");
                TEST_ASSERT_STREQ(c.working_directory, "/srv", "WorkingDirectory= applied");
                TEST_ASSERT_STREQ(c.user, "app:app", "User= applied");
                TEST_ASSERT_STREQ(c.init, "/usr/lib/systemd/systemd", "Init= applied");
                TEST_ASSERT_STREQ(c.scratch_directory, "/var/tmp/scratch", "ScratchDirectory= applied");
                TEST_ASSERT_STREQ(c.hostname, "web-1.example", "Hostname= applied");
                TEST_ASSERT(c.poweroff_signal == SIGRTMIN + 4, "PoweroffSignal=SIGRTMIN+4 applied");
                TEST_ASSERT(c.reboot_signal == SIGINT, "RebootSignal=INT applied");
                TEST_ASSERT(c.network_mode == NETWORK_MODE_HOST, "Mode=host applied");
                TEST_ASSERT_STREQ(c.bridge, "br-lab", "Bridge= applied");
                TEST_ASSERT(c.subnet.prefixlen == 16 && c.ipv6_subnet.prefixlen == 64, "Subnet=, IPv6Subnet= applied");
                TEST_ASSERT(streq_ptr(c.interface, "eth0") && streq_ptr(c.link, "enp1s0"), "Interface=, Link= applied");
                TEST_ASSERT(c.n_ports == 3 && c.ports[0].protocol == PORT_TCP && c.ports[0].host_port == 8080 &&
                                    c.ports[0].guest_port == 80 && c.ports[1].protocol == PORT_UDP &&
                                    c.ports[1].host_port == 53 && c.ports[1].guest_port == 53 &&
                                    c.ports[2].protocol == PORT_TCP && c.ports[2].guest_port == 22,
                            "Port= applied");
                TEST_ASSERT(!c.address_filter, "AddressFilter=no applied");
                TEST_ASSERT(c.machines_per_bridge == 8, "MachinesPerBridge=8 applied");
                TEST_ASSERT(streq_ptr(c.cni_network, "podman") && streq_ptr(c.cni_config_dir, "/etc/cni/net.d") &&
                                    streq_ptr(c.cni_plugin_dirs, "/usr/lib/cni:/opt/cni/bin") &&
                                    c.cni_timeout_sec == 10,
                            "CNINetwork=, CNIConfigDirectory=, CNIPluginDirectory=, CNITimeoutSec= applied");
                TEST_ASSERT(c.memory_max == UINT64_C(512) << 20, "MemoryMax=512M applied");
                TEST_ASSERT(c.tasks_max == 100, "TasksMax=100 applied");
                TEST_ASSERT(c.memory_high == UINT64_C(384) << 20, "MemoryHigh=384M applied");
                TEST_ASSERT(c.cpu_weight == 200, "CPUWeight=200 applied");
                TEST_ASSERT(c.cpu_quota_per_sec_usec == 1500000, "CPUQuota=150%% is 1.5 s of CPU per second");
                TEST_ASSERT(c.io_weight == 10000, "IOWeight=10000 (the maximum) applied");
                TEST_ASSERT(c.private_users, "PrivateUsers=yes applied");
                TEST_ASSERT(c.ownership == OWNERSHIP_CHOWN, "PrivateUsersOwnership=chown applied");
                TEST_ASSERT(c.n_devices == 2 && streq(c.devices[0].name, "/dev/kvm") &&
                                    c.devices[0].access == (DEVICE_ACCESS_READ | DEVICE_ACCESS_WRITE) &&
                                    !c.devices[0].privileged && streq(c.devices[1].name, "/dev/mem") &&
                                    c.devices[1].access == DEVICE_ACCESS_READ && c.devices[1].privileged,
                            "Allow= repeated appends, with access and acknowledgement");
                TEST_ASSERT(c.set_mask == ALL_KEYS, "every key is marked");
        }
        machine_config_done(&c);

        if (parse_good(&c, "parses the other spellings",
                       "[Machine]\r\n"
                       "Init = /bin/sh ; a comment\r\n"
                       "PoweroffSignal=auto\r\n"
                       "RebootSignal=15\r\n"
                       "[Network]\r\n"
                       "Mode=none\r\n"
                       "[Resources]\r\n"
                       "MemoryMax=infinity\r\n"
                       "MemoryHigh=infinity\r\n"
                       "TasksMax=infinity\r\n"
                       "CPUWeight=default\r\n"
                       "CPUQuota=\r\n"
                       "IOWeight=1\r\n"
                       "[Security]\r\n"
                       "PrivateUsers=off\r\n")) {
                TEST_ASSERT_STREQ(c.init, "/bin/sh", "spaces around '=' and an inline comment are dropped");
                TEST_ASSERT(c.poweroff_signal == 0, "PoweroffSignal=auto is 0");
                TEST_ASSERT(c.reboot_signal == SIGTERM, "RebootSignal=15 is SIGTERM");
                TEST_ASSERT(c.network_mode == NETWORK_MODE_NONE, "Mode=none");
                TEST_ASSERT(c.memory_max == UINT64_MAX && c.tasks_max == UINT64_MAX && c.memory_high == UINT64_MAX,
                            "'infinity' for the three limits");
                TEST_ASSERT(c.cpu_weight == UINT64_MAX && c.cpu_quota_per_sec_usec == UINT64_MAX,
                            "CPUWeight=default and an empty CPUQuota= are unset");
                TEST_ASSERT(c.io_weight == 1, "IOWeight=1 (the minimum)");
                TEST_ASSERT(!c.private_users, "PrivateUsers=off");
        }
        machine_config_done(&c);

        if (parse_good(&c, "CPUQuota= with decimals, MemoryHigh= in bytes",
                       "[Resources]\nCPUQuota=12.5%\nMemoryHigh=1000\n")) {
                TEST_ASSERT(c.cpu_quota_per_sec_usec == 125000, "CPUQuota=12.5%% is 125 ms per second");
                TEST_ASSERT(c.memory_high == 1000, "MemoryHigh=1000 is 1000 bytes");
        }
        machine_config_done(&c);

        if (parse_good(&c, "CPUQuota= at its bounds", "[Resources]\nCPUQuota=21474836.47%\n"))
                TEST_ASSERT(c.cpu_quota_per_sec_usec == UINT64_C(2147483647) * 100,
                            "CPUQuota=21474836.47%% (systemd's largest) is kept exactly");
        machine_config_done(&c);
        if (parse_good(&c, "the smallest CPUQuota=", "[Resources]\nCPUQuota=0.01%\n"))
                TEST_ASSERT(c.cpu_quota_per_sec_usec == 100, "CPUQuota=0.01%% is 100 us per second");
        machine_config_done(&c);

        if (parse_good(&c, "accepts a UTF-8 byte order mark", "\xef\xbb\xbf[Resources]\nMemoryMax=1G\n"))
                TEST_ASSERT(c.memory_max == UINT64_C(1) << 30, "MemoryMax=1G after a BOM");
        machine_config_done(&c);

        if (parse_good(&c, "a file without a final newline", "[Resources]\nTasksMax=7"))
                TEST_ASSERT(c.tasks_max == 7, "TasksMax=7 on the unterminated last line");
        machine_config_done(&c);
}

static void test_bad_values(void) {
        parse_bad("an empty Init=", "[Machine]\nInit=\n", "test.conf:2: Init=: must not be empty",
                  "absolute path");
        parse_bad("a relative Init=", "[Machine]\nInit=sbin/init\n", "test.conf:2:", "not an absolute path",
                  "expected an absolute path like /sbin/init");
        parse_bad("Init= with '..'", "[Machine]\nInit=/sbin/../../bin/sh\n", "'..' path component");
        parse_bad("Init= with whitespace", "[Machine]\nInit=/sbin/my init\n", "whitespace");
        parse_bad("Init= with a control byte", "[Machine]\nInit=/sbin/\x01init\n", "non-printable",
                  "Init=/sbin/\\x01init");
        parse_bad("Init= with non-ASCII", "[Machine]\nInit=/sbin/\xc3\xa9\n", "non-ASCII");
        parse_bad("Init= naming a directory", "[Machine]\nInit=/sbin/\n", "must name a file");
        parse_bad("Hostname= with '/'", "[Machine]\nHostname=a/b\n", "Hostname=a/b: contains '/'");
        parse_bad("Hostname= with a leading '-'", "[Machine]\nHostname=-x\n", "must not start with");
        parse_bad("an empty Hostname=", "[Machine]\nHostname=\n", "must not be empty");
        parse_bad("a 65-character Hostname=",
                  "[Machine]\nHostname=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                  "longer than 64");
        parse_bad("an unknown signal", "[Machine]\nPoweroffSignal=SIGFOO\n", "not a known signal",
                  "expected a signal like");
        parse_bad("signal 0", "[Machine]\nRebootSignal=0\n", "not a known signal");
        parse_bad("signal 65", "[Machine]\nRebootSignal=65\n", "not a known signal");
        parse_bad("SIGKILL", "[Machine]\nPoweroffSignal=SIGKILL\n", "cannot be caught");
        parse_bad("SIGSTOP", "[Machine]\nRebootSignal=STOP\n", "cannot be caught");
        parse_bad("a libc-reserved signal", "[Machine]\nRebootSignal=32\n", "reserved");
        parse_bad("a huge RTMIN offset", "[Machine]\nPoweroffSignal=RTMIN+2147483647\n",
                  "not a known signal");
        parse_bad("RTMIN+ past RTMAX", "[Machine]\nPoweroffSignal=SIGRTMIN+99\n", "not a known signal");
        parse_bad("a relative ScratchDirectory=", "[Machine]\nScratchDirectory=tmp\n", "not an absolute path");
        parse_bad("ScratchDirectory=/", "[Machine]\nScratchDirectory=/\n", "not be the root directory");
        parse_bad("a ScratchDirectory= with ..", "[Machine]\nScratchDirectory=/a/../b\n", "'..' path component");
        parse_bad("a bridge name too long for Linux", "[Network]\nBridge=a-very-long-bridge\n", "not a valid interface name");
        parse_bad("an interface name with a slash", "[Network]\nInterface=a/b\n", "not a valid interface name");
        parse_bad("a subnet with host bits", "[Network]\nSubnet=10.77.0.1/24\n", "host bits set");
        parse_bad("an IPv6 subnet in Subnet=", "[Network]\nSubnet=fd00::/64\n", "not an IPv4 subnet");
        parse_bad("a /31 subnet", "[Network]\nSubnet=10.0.0.0/31\n", "prefix length from 8 to 30");
        parse_bad("a subnet without prefix", "[Network]\nIPv6Subnet=fd00::\n", "lacks a prefix length");
        parse_bad("port 0", "[Network]\nPort=tcp:0:80\n", "ports from 1 to 65535");
        parse_bad("port 65536", "[Network]\nPort=65536\n", "ports from 1 to 65535");
        parse_bad("an unknown protocol", "[Network]\nPort=sctp:1:2\n", "ports from 1 to 65535");
        parse_bad("one host port twice", "[Network]\nPort=8080:80 tcp:8080:81\n", "one host port twice");
        parse_bad("MachinesPerBridge= past a bridge's ports", "[Network]\nMachinesPerBridge=1024\n",
                  "MachinesPerBridge=1024: is not a number from 1 to 1023", "expected how many machines");
        parse_bad("MachinesPerBridge=0", "[Network]\nMachinesPerBridge=0\n",
                  "MachinesPerBridge=0: is not a number from 1 to 1023", "expected how many machines");
        parse_bad("a non-boolean AddressFilter=", "[Network]\nAddressFilter=maybe\n",
                  "AddressFilter=maybe: is not a boolean", "expected 'yes'");
        parse_bad("a CNI network name with a '/'", "[Network]\nCNINetwork=a/b\n",
                  "CNINetwork=a/b: is not a valid CNI network name");
        parse_bad("a CNI network name starting with '.'", "[Network]\nCNINetwork=.x\n", "not a valid CNI network name");
        parse_bad("a relative CNIConfigDirectory=", "[Network]\nCNIConfigDirectory=net.d\n", "not an absolute path");
        parse_bad("a relative CNIPluginDirectory= entry", "[Network]\nCNIPluginDirectory=/usr/lib/cni:bin\n",
                  "':'-separated list");
        parse_bad("a CNIPluginDirectory= with '..'", "[Network]\nCNIPluginDirectory=/usr/lib/../../tmp\n",
                  "':'-separated list");
        parse_bad("CNITimeoutSec=0", "[Network]\nCNITimeoutSec=0\n", "from 1 to 3600");
        parse_bad("an unknown network mode", "[Network]\nMode=nat\n",
                  "Mode=nat: is not a known network mode",
                  "expected 'bridge', 'none', 'host', 'macvlan', 'ipvlan' or 'cni' (with CNINetwork=)");
        parse_bad("a non-size MemoryMax=", "[Resources]\nMemoryMax=lots\n", "not a valid size",
                  "expected a size like 512M or 'infinity'");
        parse_bad("a lower-case size suffix", "[Resources]\nMemoryMax=512m\n", "not a valid size");
        parse_bad("MemoryMax=0", "[Resources]\nMemoryMax=0\n", "greater than 0");
        parse_bad("an overflowing MemoryMax=", "[Resources]\nMemoryMax=99999999999T\n", "too large");
        parse_bad("TasksMax=0", "[Resources]\nTasksMax=0\n", "at least 1");
        parse_bad("a negative TasksMax=", "[Resources]\nTasksMax=-1\n", "not a number");
        parse_bad("an overflowing TasksMax=", "[Resources]\nTasksMax=99999999999999999999\n", "too large");
        parse_bad("MemoryHigh=0", "[Resources]\nMemoryHigh=0\n", "MemoryHigh=0: must be greater than 0");
        parse_bad("a MemoryHigh= percentage", "[Resources]\nMemoryHigh=50%\n", "not a valid size",
                  "expected a size like 384M or 'infinity'");
        parse_bad("CPUWeight=0", "[Resources]\nCPUWeight=0\n", "CPUWeight=0: is out of range",
                  "expected a number from 1 to 10000 (100 is the default share) or 'default'");
        parse_bad("CPUWeight=10001", "[Resources]\nCPUWeight=10001\n", "out of range");
        parse_bad("CPUWeight=idle", "[Resources]\nCPUWeight=idle\n", "not a number");
        parse_bad("an empty CPUWeight=", "[Resources]\nCPUWeight=\n", "not a number");
        parse_bad("IOWeight=0", "[Resources]\nIOWeight=0\n", "IOWeight=0: is out of range");
        parse_bad("an overflowing IOWeight=", "[Resources]\nIOWeight=99999999999999999999\n", "out of range");
        parse_bad("a negative IOWeight=", "[Resources]\nIOWeight=-5\n", "not a number");
        parse_bad("CPUQuota= without '%'", "[Resources]\nCPUQuota=50\n", "CPUQuota=50: is not a percentage",
                  "expected a percentage of one CPU like 50% or 200% (two CPUs), or empty for no quota");
        parse_bad("CPUQuota=0%", "[Resources]\nCPUQuota=0%\n", "must be greater than 0%");
        parse_bad("CPUQuota=0.00%", "[Resources]\nCPUQuota=0.00%\n", "must be greater than 0%");
        parse_bad("CPUQuota= with three decimals", "[Resources]\nCPUQuota=1.125%\n", "at most two decimals");
        parse_bad("CPUQuota= with a bare dot", "[Resources]\nCPUQuota=5.%\n", "at most two decimals");
        parse_bad("CPUQuota= with a sign", "[Resources]\nCPUQuota=-5%\n", "at most two decimals");
        parse_bad("CPUQuota=%", "[Resources]\nCPUQuota=%\n", "at most two decimals");
        parse_bad("CPUQuota= past systemd's bound", "[Resources]\nCPUQuota=21474837%\n", "too large");
        parse_bad("a huge CPUQuota=", "[Resources]\nCPUQuota=99999999999999999999%\n", "too large");
        parse_bad("an unknown PrivateUsersOwnership=", "[Security]\nPrivateUsersOwnership=shift\n",
                  "not a known ownership mode", "expected 'auto', 'map' or 'chown'");
        parse_bad("a non-boolean PrivateUsers=", "[Security]\nPrivateUsers=maybe\n", "not a boolean",
                  "expected 'yes' or 'no'");
}

static void test_structure(void) {
        parse_bad("an unknown key", "[Machine]\nInit=/sbin/init\nFoo=bar\n",
                  "test.conf:3: Foo=bar: unknown key", "Init=, Hostname=");
        parse_bad("a key in the wrong case", "[Machine]\ninit=/sbin/init\n", "did you mean Init=?");
        parse_bad("a key in the wrong section", "[Network]\nInit=/sbin/init\n", "belongs in [Machine]");
        parse_bad("an unknown section", "[Machine]\n[Foo]\n", "test.conf:2: [Foo]: unknown section",
                  "[Machine], [Exec], [Network], [Resources], [Security]");
        parse_bad("a Command= with an open quote", "[Exec]\nCommand=/bin/sh \"-c\n", "not a list of words");
        parse_bad("a Command= whose escaped form would not fit a line",
                  "[Exec]\nCommand=/bin/\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee"
                  "\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee"
                  "\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\n",
                  "too long");
        parse_bad("a relative Command=", "[Exec]\nCommand=sh -c true\n", "absolute path");
        parse_bad("an Environment= without a name", "[Exec]\nEnvironment==x\n", "valid variable name");
        parse_bad("two words in one Environment=", "[Exec]\nEnvironment=A=1 B=2\n", "one NAME=value word");
        parse_bad("a User= with a slash", "[Exec]\nUser=../x\n", "cannot have");
        parse_bad("a duplicate Command=", "[Exec]\nCommand=/a\nCommand=/b\n", "already set on line 2");
        parse_bad_full("Command= in the global file", "[Exec]\nCommand=/a\n", strlen("[Exec]\nCommand=/a\n"),
                       CONFIG_SOURCE_GLOBAL, "not allowed in the global configuration", NULL);
        parse_bad("a section in the wrong case", "[machine]\nInit=/sbin/init\n", "test.conf:1: [machine]");
        parse_bad("a key before any section", "Init=/sbin/init\n[Machine]\n",
                  "test.conf:1: Init=/sbin/init: assignment outside of any section", "[Machine]");
        parse_bad("a duplicate key", "[Machine]\nInit=/a\n\nInit=/b\n", "test.conf:4: Init=/b:",
                  "already set on line 2");
        parse_bad("a duplicate key in a repeated section",
                  "[Resources]\nTasksMax=1\n[Resources]\nTasksMax=1\n", "test.conf:4:",
                  "already set on line 2");
        parse_bad("a line without '='", "[Machine]\nInit\n", "test.conf:2: syntax error",
                  "expected 'Key=Value' or '[Section]'");
        parse_bad("an unterminated section header", "[Machine\nInit=/a\n", "test.conf:1: syntax error");
        parse_bad("an empty key name", "[Machine]\n=x\n", "test.conf:2:", "missing key name");
        parse_bad("text after a section header", "[Machine] Init=/bin/sh\n", "test.conf:1:",
                  "unexpected text after the section header");
        /* inih reports the first error line; the message must belong to it. */
        parse_bad("a syntax error before a bad value", "[Machine]\ngarbage\nInit=relative\n",
                  "test.conf:2: syntax error");
        parse_bad("a bad value before a syntax error", "[Machine]\nInit=relative\ngarbage\n",
                  "test.conf:2: Init=relative");
        /* Without the check inih would stop at the NUL and ignore the rest. */
        static const char nul[] = "[Machine]\nInit=/a\0\n[Security]\nPrivateUsers=yes\n";
        parse_bad_full("a NUL byte", nul, sizeof nul - 1, CONFIG_SOURCE_MACHINE, "test.conf:2:", "NUL byte",
                       NULL);
}

static void test_leading_whitespace(void) {
        MachineConfig c;

        parse_bad("an indented line after a key (continuation)",
                  "[Machine]\nInit=/sbin/init\n  PrivateUsers=no\n", "test.conf:3:",
                  "starts with whitespace");
        parse_bad("a tab-indented line", "[Security]\n\tPrivateUsers=yes\n", "test.conf:2:",
                  "starts with whitespace");
        parse_bad("an indented section header", "[Machine]\nInit=/a\n [Security]\n", "test.conf:3:",
                  "starts with whitespace");
        if (parse_good(&c, "accepts whitespace-only lines", "[Machine]\n   \n\t\nInit=/a\n \r\n"))
                TEST_ASSERT_STREQ(c.init, "/a", "Init= after whitespace-only lines");
        machine_config_done(&c);
}

static int smuggle_handler(void *userdata, const char *section, const char *key, const char *value) {
        unsigned *n = userdata;

        if (streq(section, "Security") && streq(key, "PrivateUsers") && streq(value, "no"))
                (*n)++;
        return 1;
}

/* inih (r55) reads at most 199 bytes of a line, including its '\n', and
 * parses whatever is left as a line of its own. */
static void test_long_lines(void) {
        char line[512], text[1024];
        MachineConfig c;

        /* 198 bytes + '\n' = 199: the longest line inih reads whole. */
        memcpy(line, "Init=/", 6);
        memset(line + 6, 'a', 198 - 6);
        line[198] = 0;
        snprintf(text, sizeof text, "[Machine]\n%s\n[Network]\nMode=host\n", line);
        if (parse_good(&c, "accepts a 199-byte line (198 bytes + newline)", text)) {
                TEST_ASSERT(strlen(c.init) == 198 - 5, "Init= from the 199-byte line is complete");
                TEST_ASSERT(c.network_mode == NETWORK_MODE_HOST, "the line after it is parsed normally");
        }
        machine_config_done(&c);

        /* 199 bytes + '\n' = 200. */
        line[198] = 'a';
        line[199] = 0;
        snprintf(text, sizeof text, "[Machine]\n%s\n", line);
        parse_bad("a 200-byte line (199 bytes + newline)", text, "test.conf:2:", "line is 199 bytes long",
                  "limit is 198 bytes");

        /* "\r\n" line ends: the '\r' counts, as inih keeps it in the buffer. */
        line[198] = 0;
        snprintf(text, sizeof text, "[Machine]\r\n%s\r\n", line);
        parse_bad("a 198-byte line ending in \"\\r\\n\"", text, "test.conf:2:", "limit is 198 bytes");

        /* The attack: a comment whose first 199 bytes fill inih's buffer, so
         * that its tail would be read as "PrivateUsers=no". */
        memset(line, 'x', sizeof line);
        line[0] = ';';
        strcpy(line + 199, "PrivateUsers=no");
        snprintf(text, sizeof text, "[Security]\n%s\n", line);

        /* Show that raw inih does fall for it, so that this test proves
         * something; only a diagnostic, as another inih may not. */
        unsigned smuggled = 0;
        (void) ini_parse_string(text, smuggle_handler, &smuggled);
        tap_diag("raw inih %s the smuggled PrivateUsers=no", smuggled ? "sees" : "does not see");

        _cleanup_free_ char *error = NULL;
        machine_config_init(&c);
        c.private_users = true;
        int r = parse(&c, text, CONFIG_SOURCE_MACHINE, true, &error);
        TEST_ASSERT(r == -EINVAL && error && strstr(error, "test.conf:2:") && strstr(error, "limit is 198"),
                    "refuses a long line whose tail looks like PrivateUsers=no");
        tap_diag("%s", error ?: "(null)");
        TEST_ASSERT(c.private_users && c.set_mask == 0, "the smuggled PrivateUsers=no is not applied");
        machine_config_done(&c);

        char *big = xmalloc(CONFIG_FILE_MAX + 2);
        memset(big, '\n', CONFIG_FILE_MAX + 1);
        big[CONFIG_FILE_MAX + 1] = 0;
        parse_bad_full("text over CONFIG_FILE_MAX", big, CONFIG_FILE_MAX + 1, CONFIG_SOURCE_MACHINE,
                       "more than the limit of 65536 bytes", NULL);
        free(big);
}

static void test_escaping(void) {
        _cleanup_free_ char *error = NULL;
        MachineConfig c;
        char text[256];

        machine_config_init(&c);
        int r = parse(&c, "[Machine]\nInit=/\x1b]0;pwned\x07\x1b[2J\n", CONFIG_SOURCE_MACHINE, true, &error);
        TEST_ASSERT(r == -EINVAL && error && !strchr(error, '\x1b') && !strchr(error, '\x07') &&
                            strstr(error, "Init=/\\x1b]0"),
                    "terminal escapes in a value are shown as \\xNN");
        tap_diag("%s", error ?: "(null)");
        free(error);
        error = NULL;

        memset(text, 0, sizeof text);
        strcpy(text, "[Network]\nMode=");
        memset(text + strlen(text), 'z', 150);
        r = parse(&c, text, CONFIG_SOURCE_MACHINE, true, &error);
        TEST_ASSERT(r == -EINVAL && error && strstr(error, "zzz...: is not a known network mode") &&
                            strlen(error) < 200,
                    "a long value is cut short in the message");
        tap_diag("%s", error ?: "(null)");
        free(error);
        error = NULL;

        r = parse(&c, "[Ma\x1b[31mchine]\n", CONFIG_SOURCE_MACHINE, true, &error);
        TEST_ASSERT(r == -EINVAL && error && !strchr(error, '\x1b') && strstr(error, "[Ma\\x1b[31mchine]"),
                    "terminal escapes in a section name are shown as \\xNN");
        free(error);
        error = NULL;

        r = parse(&c, "[Machine]\nIn\x1bit=x\n", CONFIG_SOURCE_MACHINE, true, &error);
        TEST_ASSERT(r == -EINVAL && error && !strchr(error, '\x1b') && strstr(error, "In\\x1bit=x"),
                    "terminal escapes in a key are shown as \\xNN");
        machine_config_done(&c);
}

static void test_global(void) {
        MachineConfig c;
        _cleanup_free_ char *error = NULL;

        parse_bad_full("Hostname= in the global file", "[Machine]\nHostname=web\n",
                       strlen("[Machine]\nHostname=web\n"), CONFIG_SOURCE_GLOBAL,
                       "test.conf:2: Hostname=web: not allowed in the global configuration", "machine.conf",
                       NULL);
        parse_bad_full("Port= in the global file", "[Network]\nPort=80\n", strlen("[Network]\nPort=80\n"),
                       CONFIG_SOURCE_GLOBAL, "not allowed in the global configuration", NULL);
        machine_config_init(&c);
        int r = parse(&c, "[Machine]\nInit=/bin/init\n[Security]\nPrivateUsers=yes\n", CONFIG_SOURCE_GLOBAL,
                      false, &error);
        TEST_ASSERT(r == 0 && streq(c.init, "/bin/init") && c.private_users && c.set_mask == 0,
                    "the global file sets other keys, unmarked when mark is false");
        machine_config_done(&c);

        /* [Import] MaxSize=: berth.conf's alone. */
        TEST_ASSERT(c.import_max_size == UNPACK_MAX_SIZE_DEFAULT, "default [Import] MaxSize= is 64G");
        machine_config_init(&c);
        r = parse(&c, "[Import]\nMaxSize=2G\n", CONFIG_SOURCE_GLOBAL, false, &error);
        TEST_ASSERT(r == 0 && c.import_max_size == UINT64_C(2) << 30, "[Import] MaxSize=2G in the global file");
        r = parse(&c, "[Import]\nMaxSize=infinity\n", CONFIG_SOURCE_GLOBAL, false, &error);
        TEST_ASSERT(r == 0 && c.import_max_size == UINT64_MAX, "[Import] MaxSize=infinity: no cap");
        _cleanup_free_ char *text = machine_config_format(&c, CONFIG_KEY_BIT(CONFIG_IMPORT_MAX_SIZE));
        TEST_ASSERT_STREQ(text, "", "[Import] is never written to machine.conf");
        machine_config_done(&c);
        parse_bad_full("MaxSize=0 in the global file", "[Import]\nMaxSize=0\n", strlen("[Import]\nMaxSize=0\n"),
                       CONFIG_SOURCE_GLOBAL, "must be greater than 0", "like 100G", NULL);
        parse_bad("[Import] MaxSize= in machine.conf", "[Import]\nMaxSize=1G\n",
                  "test.conf:2: MaxSize=1G: only allowed in the global berth.conf", "--max-size");
        machine_config_init(&c);
        free(error);
        error = NULL;
        TEST_ASSERT(machine_config_set_from_cli(&c, "Import.MaxSize=1G", &error) == -EINVAL && error &&
                            strstr(error, "not a machine setting") && c.import_max_size == UNPACK_MAX_SIZE_DEFAULT,
                    "--set Import.MaxSize= is refused");
        machine_config_done(&c);

        /* [Import] DefaultRegistry=: berth.conf's alone, a registry. */
        free(error);
        error = NULL;
        machine_config_init(&c);
        TEST_ASSERT(c.import_default_registry == NULL, "no [Import] DefaultRegistry= by default (docker.io)");
        r = parse(&c, "[Import]\nDefaultRegistry=registry.example:5000\n", CONFIG_SOURCE_GLOBAL, false, &error);
        TEST_ASSERT(r == 0 && streq_ptr(c.import_default_registry, "registry.example:5000"),
                    "[Import] DefaultRegistry= in the global file");
        MachineConfig copy;
        machine_config_copy(&copy, &c);
        TEST_ASSERT(streq_ptr(copy.import_default_registry, "registry.example:5000"), "it is copied");
        machine_config_done(&copy);
        machine_config_done(&c);
        parse_bad_full("DefaultRegistry= with a path", "[Import]\nDefaultRegistry=a.example/x\n",
                       strlen("[Import]\nDefaultRegistry=a.example/x\n"), CONFIG_SOURCE_GLOBAL, "is not a registry",
                       "like docker.io", NULL);
        parse_bad("[Import] DefaultRegistry= in machine.conf", "[Import]\nDefaultRegistry=a.example\n",
                  "test.conf:2: DefaultRegistry=a.example: only allowed in the global berth.conf",
                  "image reference");
}

static void test_precedence(void) {
        _cleanup_free_ char *error = NULL;
        MachineConfig c;
        int r;

        machine_config_init(&c);

        /* Order of application: command line, machine file, global file. */
        r = machine_config_set_from_cli(&c, "TasksMax=10", &error);
        TEST_ASSERT(r == 0 && c.tasks_max == 10, "CLI sets TasksMax=10");
        r = parse(&c,
                  "[Machine]\nInit=/machine/init\n"
                  "[Resources]\nTasksMax=20\nMemoryMax=1G\n",
                  CONFIG_SOURCE_MACHINE, true, &error);
        TEST_ASSERT(r == 0, "machine file parses");
        r = parse(&c,
                  "[Machine]\nInit=/global/init\nPoweroffSignal=SIGTERM\n"
                  "[Network]\nMode=host\n"
                  "[Resources]\nTasksMax=30\nMemoryMax=2G\n",
                  CONFIG_SOURCE_GLOBAL, false, &error);
        TEST_ASSERT(r == 0, "global file parses");

        TEST_ASSERT(c.tasks_max == 10, "CLI beats machine and global files");
        TEST_ASSERT(c.memory_max == UINT64_C(1) << 30, "machine file beats global file");
        TEST_ASSERT_STREQ(c.init, "/machine/init", "machine Init= beats global Init=");
        TEST_ASSERT(c.network_mode == NETWORK_MODE_HOST && c.poweroff_signal == SIGTERM,
                    "global file beats defaults");
        TEST_ASSERT(c.tasks_max == 10 && c.private_users == CONFIG_DEFAULT_PRIVATE_USERS,
                    "defaults remain where nobody set a key");
        TEST_ASSERT(c.set_mask == (CONFIG_KEY_BIT(CONFIG_RESOURCES_TASKS_MAX) |
                                   CONFIG_KEY_BIT(CONFIG_RESOURCES_MEMORY_MAX) |
                                   CONFIG_KEY_BIT(CONFIG_MACHINE_INIT)),
                    "set_mask holds the CLI and machine keys, not the unmarked global ones");

        /* A protected key is still validated. */
        MachineConfig before;
        config_copy(&before, &c);
        free(error);
        error = NULL;
        r = parse(&c, "[Resources]\nTasksMax=0\n", CONFIG_SOURCE_GLOBAL, false, &error);
        TEST_ASSERT(r == -EINVAL && error && strstr(error, "TasksMax=0") && config_equal(&c, &before),
                    "a bad value for a key set by a higher layer is still an error");
        machine_config_done(&before);
        machine_config_done(&c);
}

static void test_unchanged_on_error(void) {
        _cleanup_free_ char *error = NULL;
        MachineConfig c, before;

        machine_config_init(&c);
        (void) machine_config_set_from_cli(&c, "Hostname=keep", NULL);
        config_copy(&before, &c);

        int r = parse(&c,
                      "[Machine]\nInit=/new/init\n[Network]\nMode=host\n"
                      "[Resources]\nTasksMax=0\n",
                      CONFIG_SOURCE_MACHINE, true, &error);
        TEST_ASSERT(r == -EINVAL && error && strstr(error, "test.conf:6:"),
                    "an error on the last line fails");
        TEST_ASSERT(config_equal(&c, &before),
                    "nothing before the bad line was applied, set_mask untouched");

        TEST_ASSERT(machine_config_set_from_cli(&c, "Init=relative", NULL) == -EINVAL &&
                            config_equal(&c, &before),
                    "a bad --set leaves the config unchanged (NULL ret_error allowed)");
        machine_config_done(&before);
        machine_config_done(&c);
}

static void test_cli(void) {
        MachineConfig c;
        char *error = NULL;

        machine_config_init(&c);
        TEST_ASSERT(machine_config_set_from_cli(&c, "Machine.Init=/x", &error) == 0 && !error &&
                            streq(c.init, "/x") && c.set_mask == CONFIG_KEY_BIT(CONFIG_MACHINE_INIT),
                    "--set Machine.Init=/x");
        TEST_ASSERT(machine_config_set_from_cli(&c, "Init=/y", &error) == 0 && streq(c.init, "/y"),
                    "--set Init=/y: a bare key, and the last --set wins");
        TEST_ASSERT(machine_config_set_from_cli(&c, "Network.Mode=host", &error) == 0 &&
                            c.network_mode == NETWORK_MODE_HOST,
                    "--set Network.Mode=host");
        TEST_ASSERT(machine_config_set_from_cli(&c, "Hostname=box", &error) == 0 && streq(c.hostname, "box"),
                    "--set Hostname=box");

        MachineConfig before;
        config_copy(&before, &c);

        static const struct {
                const char *assignment;
                const char *expect;
        } bad[] = {
                { "Foo=1", "--set Foo=1: unknown key; known keys are Machine.Init=" },
                { "Machine.Mode=host",
                  "--set Machine.Mode=host: Mode= belongs in [Network], not [Machine]; "
                  "write Network.Mode=" },
                { "Bogus.Init=/x", "--set Bogus.Init=/x: unknown section [Bogus]" },
                { "Init", "--set Init: expected Key=Value" },
                { "TasksMax=0", "--set TasksMax=0: must be at least 1" },
                { "CPUWeight=0", "--set CPUWeight=0: is out of range; expected a number from 1 to 10000" },
                { "Resources.CPUQuota=fast", "--set Resources.CPUQuota=fast: is not a percentage" },
                { "IOWeight=heavy", "--set IOWeight=heavy: is not a number" },
                { "MemoryHigh=1Q", "--set MemoryHigh=1Q: is not a valid size" },
                { "Init=/sbin/a ;b", "contains whitespace" },
                { "Init= /sbin/init", "not an absolute path" },
                { "PrivateUsers=", "is not a boolean" },
                { "Machine.Init=/a/../b", "--set Machine.Init=/a/../b: contains a '..' path component" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = machine_config_set_from_cli(&c, bad[i].assignment, &error);
                bool ok = r == -EINVAL && error && strstr(error, bad[i].expect) && config_equal(&c, &before);
                if (!TEST_ASSERT(ok, "--set %s is refused", bad[i].assignment))
                        tap_diag("r=%d error=%s", r, error ?: "(null)");
                else
                        tap_diag("%s", error);
                free(error);
                error = NULL;
        }

        /* A value too long for a machine.conf line could never be read back. */
        char long_init[300] = "Init=/";
        memset(long_init + 6, 'a', 250);
        long_init[256] = 0;
        TEST_ASSERT(machine_config_set_from_cli(&c, long_init, &error) == -EINVAL && error &&
                            strstr(error, "too long") && config_equal(&c, &before),
                    "--set with a value too long for a config line is refused");
        free(error);

        machine_config_done(&before);
        machine_config_done(&c);
}

static void test_format(void) {
        MachineConfig c, d;
        _cleanup_free_ char *error = NULL;

        machine_config_init(&c);
        free(c.init);
        c.init = xstrdup("/usr/lib/systemd/systemd");
        c.hostname = xstrdup("web-1");
        c.poweroff_signal = SIGRTMIN + 4;
        c.reboot_signal = SIGINT;
        c.network_mode = NETWORK_MODE_HOST;
        c.cni_network = xstrdup("podman");
        c.cni_plugin_dirs = xstrdup("/usr/lib/cni:/opt/cni/bin");
        c.cni_timeout_sec = 5;
        c.memory_max = UINT64_C(3) << 29; /* 1.5G: written as 1536M */
        c.tasks_max = UINT64_MAX;
        c.memory_high = UINT64_C(1) << 30;
        c.cpu_weight = 50;
        c.cpu_quota_per_sec_usec = 2000000;
        c.io_weight = 10000;
        c.private_users = true;
        c.boot = false;
        c.command = strv_append(strv_append(NULL, "/bin/sh"), "-c");
        c.command = strv_append(c.command, "echo \"a b\";\tx#\\");
        c.environment = strv_append(strv_append(NULL, "PATH=/bin"), "X=a b");
        c.working_directory = xstrdup("/srv");
        c.user = xstrdup("1000:1000");
        c.devices = xcalloc(2, sizeof *c.devices);
        c.devices[c.n_devices++] = (DeviceAllow) { xstrdup("/dev/dri/renderD128"), DEVICE_ACCESS_ALL, false };
        c.devices[c.n_devices++] = (DeviceAllow) { xstrdup("block-loop"), DEVICE_ACCESS_READ, true };

        _cleanup_free_ char *text = machine_config_format(&c, ALL_KEYS);
        TEST_ASSERT_STREQ(text,
                          "[Machine]\n"
                          "Init=/usr/lib/systemd/systemd\n"
                          "Hostname=web-1\n"
                          "PoweroffSignal=SIGRTMIN+4\n"
                          "RebootSignal=SIGINT\n"
                          "ScratchDirectory=\n"
                          "Boot=no\n"
                          "\n"
                          "[Exec]\n"
                          "Command=/bin/sh -c \"echo \\\"a b\\\"\\x3b\\x09x\\x23\\\\\"\n"
                          "Environment=PATH=/bin\n"
                          "Environment=\"X=a b\"\n"
                          "WorkingDirectory=/srv\n"
                          "User=1000:1000\n"
                          "\n"
                          "[Network]\n"
                          "Mode=host\n"
                          "Bridge=berth0\n"
                          "Subnet=10.77.0.0/16\n"
                          "IPv6Subnet=fd62:6572:7468::/64\n"
                          "Interface=host0\n"
                          "Link=\n"
                          "Port=\n"
                          "AddressFilter=yes\n"
                          "MachinesPerBridge=1023\n"
                          "CNINetwork=podman\n"
                          "CNIConfigDirectory=\n"
                          "CNIPluginDirectory=/usr/lib/cni:/opt/cni/bin\n"
                          "CNITimeoutSec=5\n"
                          "\n"
                          "[Resources]\n"
                          "MemoryMax=1536M\n"
                          "MemoryHigh=1G\n"
                          "TasksMax=infinity\n"
                          "CPUWeight=50\n"
                          "CPUQuota=200%\n"
                          "IOWeight=10000\n"
                          "\n"
                          "[Security]\n"
                          "PrivateUsers=yes\n"
                          "PrivateUsersOwnership=auto\n"
                          "\n"
                          "[Files]\n"
                          "Bind=\n"
                          "BindReadOnly=\n"
                          "TemporaryFileSystem=\n"
                          "\n"
                          "[Devices]\n"
                          "Allow=/dev/dri/renderD128 rwm\n"
                          "Allow=block-loop r privileged\n",
                          "machine_config_format() writes every key in table order");

        machine_config_init(&d);
        TEST_ASSERT(parse(&d, text, CONFIG_SOURCE_MACHINE, true, &error) == 0, "the formatted text parses");
        c.set_mask = ALL_KEYS;
        TEST_ASSERT(config_equal(&c, &d), "format/parse round trip gives the same config");
        machine_config_done(&d);

        /* Odd values: bytes not a multiple of 1K, a plain signal number. */
        c.memory_max = 1000;
        c.tasks_max = 1;
        c.memory_high = UINT64_MAX;
        c.cpu_weight = UINT64_MAX;
        c.cpu_quota_per_sec_usec = 125000;
        c.io_weight = UINT64_MAX;
        c.poweroff_signal = 0;
        c.reboot_signal = SIGRTMAX;
        c.private_users = false;
        c.network_mode = NETWORK_MODE_NONE;
        free(text);
        text = machine_config_format(&c, ALL_KEYS);
        machine_config_init(&d);
        TEST_ASSERT(parse(&d, text, CONFIG_SOURCE_MACHINE, true, &error) == 0 && config_equal(&c, &d),
                    "round trip of MemoryMax=1000, TasksMax=1, PoweroffSignal=auto, RebootSignal=SIGRTMAX");
        machine_config_done(&d);
        TEST_ASSERT(strstr(text, "\nMemoryHigh=infinity\n") && strstr(text, "\nCPUWeight=default\n") &&
                            strstr(text, "\nCPUQuota=12.50%\n") && strstr(text, "\nIOWeight=default\n"),
                    "unset MemoryHigh=, CPUWeight=, IOWeight= and a fractional CPUQuota= are written readably");

        /* An unset CPUQuota= is written empty, and read back as unset. */
        c.cpu_quota_per_sec_usec = UINT64_MAX;
        free(text);
        text = machine_config_format(&c, CONFIG_KEY_BIT(CONFIG_RESOURCES_CPU_QUOTA));
        TEST_ASSERT_STREQ(text, "[Resources]\nCPUQuota=\n", "an unset CPUQuota= is written empty");
        machine_config_init(&d);
        TEST_ASSERT(parse(&d, text, CONFIG_SOURCE_MACHINE, true, &error) == 0 &&
                            d.cpu_quota_per_sec_usec == UINT64_MAX,
                    "and reads back as unset");
        machine_config_done(&d);

        free(text);
        text = machine_config_format(&c, CONFIG_KEY_BIT(CONFIG_RESOURCES_TASKS_MAX));
        TEST_ASSERT_STREQ(text, "[Resources]\nTasksMax=1\n", "only keys in the mask are written");
        free(text);
        text = machine_config_format(&c, 0);
        TEST_ASSERT_STREQ(text, "", "an empty mask writes nothing");
        machine_config_done(&c);

        machine_config_init(&c);
        free(text);
        text = machine_config_format(&c, CONFIG_KEY_BIT(CONFIG_MACHINE_HOSTNAME));
        TEST_ASSERT_STREQ(text, "", "an unset Hostname= is not written");
        machine_config_done(&c);

        /* What --set accepts can be written and read back. */
        machine_config_init(&c);
        (void) machine_config_set_from_cli(&c, "Init=/sbin/x;y", NULL);
        (void) machine_config_set_from_cli(&c, "MemoryMax=1024K", NULL);
        (void) machine_config_set_from_cli(&c, "CPUQuota=0.5%", NULL);
        (void) machine_config_set_from_cli(&c, "Resources.CPUWeight=1", NULL);
        free(text);
        text = machine_config_format(&c, c.set_mask);
        machine_config_init(&d);
        TEST_ASSERT(parse(&d, text, CONFIG_SOURCE_MACHINE, true, &error) == 0 && config_equal(&c, &d),
                    "round trip of --set Init=/sbin/x;y MemoryMax=1024K CPUQuota=0.5%% CPUWeight=1");
        TEST_ASSERT(c.cpu_quota_per_sec_usec == 5000 && c.cpu_weight == 1, "--set CPUQuota=0.5%% CPUWeight=1");
        machine_config_done(&d);
        machine_config_done(&c);
}

static void test_file(void) {
        char dir[] = "/tmp/test-config.XXXXXX", path[64];
        char *error = NULL;
        MachineConfig c;
        int r;

        if (!mkdtemp(dir)) {
                TEST_ASSERT(false, "mkdtemp: %m");
                return;
        }
        snprintf(path, sizeof path, "%s/machine.conf", dir);

        machine_config_init(&c);
        r = machine_config_parse_file(&c, path, CONFIG_SOURCE_MACHINE, true, true, &error);
        TEST_ASSERT(r == 0 && !error && c.set_mask == 0, "a missing file is fine with missing_ok");
        r = machine_config_parse_file(&c, path, CONFIG_SOURCE_MACHINE, true, false, &error);
        TEST_ASSERT(r == -ENOENT && error && strstr(error, path), "a missing file is an error otherwise");
        tap_diag("%s", error ?: "(null)");
        free(error);

        FILE *f = fopen(path, "we");
        fputs("[Resources]\nTasksMax=42\n", f);
        fclose(f);
        r = machine_config_parse_file(&c, path, CONFIG_SOURCE_MACHINE, true, false, &error);
        TEST_ASSERT(r == 0 && c.tasks_max == 42, "a file is parsed");

        f = fopen(path, "we");
        fputs("[Resources]\nTasksMax=none\n", f);
        fclose(f);
        r = machine_config_parse_file(&c, path, CONFIG_SOURCE_MACHINE, true, false, &error);
        TEST_ASSERT(r == -EINVAL && error && strstr(error, path) && strstr(error, ".conf:2: TasksMax=none"),
                    "errors in a file name its path and line");
        tap_diag("%s", error ?: "(null)");
        free(error);

        f = fopen(path, "we");
        for (int i = 0; i < CONFIG_FILE_MAX / 10 + 1; i++)
                fputs("#########\n", f);
        fclose(f);
        r = machine_config_parse_file(&c, path, CONFIG_SOURCE_MACHINE, true, false, &error);
        TEST_ASSERT(r == -EFBIG && error, "a file over CONFIG_FILE_MAX is refused");
        free(error);

        r = machine_config_parse_file(&c, dir, CONFIG_SOURCE_MACHINE, true, false, &error);
        TEST_ASSERT(r == -EISDIR && error, "a directory is refused");
        free(error);

        r = machine_config_parse_file(&c, "/dev/null", CONFIG_SOURCE_MACHINE, true, false, &error);
        TEST_ASSERT(r == -EBADFD && error && strstr(error, "not a regular file"), "a device is refused");
        free(error);

        char fifo[80];
        snprintf(fifo, sizeof fifo, "%s/fifo", dir);
        if (mkfifo(fifo, 0600) == 0) {
                r = machine_config_parse_file(&c, fifo, CONFIG_SOURCE_MACHINE, true, false, &error);
                TEST_ASSERT(r == -EBADFD && error, "a FIFO is refused without blocking");
                free(error);
                (void) unlink(fifo);
        }

        TEST_ASSERT(c.tasks_max == 42, "failed parses left the config alone");
        machine_config_done(&c);
        (void) unlink(path);
        (void) rmdir(dir);
}

/* [Files]: Bind=, BindReadOnly=, TemporaryFileSystem= (binds.h). */
static void test_files(void) {
        MachineConfig c;
        if (parse_good(&c, "[Files] keys parse",
                       "[Files]\n"
                       "Bind=/srv/db\n"
                       "Bind=/home/ci/work:/src:idmap,norbind\n"
                       "Bind=/var/cache/apt::ro\n"
                       "BindReadOnly=/etc/ssl/certs:/etc/ssl/certs:noidmap\n"
                       "TemporaryFileSystem=/scratch:mode=1777,size=64m\n"
                       "TemporaryFileSystem=/var/tmp\n")) {
                TEST_ASSERT(strv_length(c.binds) == 3 && streq(c.binds[1], "/home/ci/work:/src:idmap,norbind"),
                            "Bind= repeated appends, kept as written");
                TEST_ASSERT(strv_length(c.binds_ro) == 1, "BindReadOnly= applied");
                TEST_ASSERT(strv_length(c.tmpfs) == 2, "TemporaryFileSystem= repeated appends");
                _cleanup_free_ char *text = machine_config_format(&c, c.set_mask);
                MachineConfig back;
                if (parse_good(&back, "[Files] formatted text parses back", text)) {
                        TEST_ASSERT(machine_config_equal(&c, &back), "[Files] survives format and parse");
                        machine_config_done(&back);
                }
                machine_config_done(&c);
        }
        if (parse_good(&c, "an empty Bind= drops the earlier ones", "[Files]\nBind=/a\nBind=\nBind=/b:/c\n")) {
                TEST_ASSERT(strv_length(c.binds) == 1 && streq(c.binds[0], "/b:/c"), "only the last Bind= kept");
                machine_config_done(&c);
        }

        BindSpec b;
        const char *reason;
        TEST_ASSERT(bind_spec_parse("/x", false, &b, &reason) == 0 && streq(b.destination, "/x") && b.recursive &&
                            !b.read_only && b.idmap == BIND_IDMAP_ROOT,
                    "DST defaults to SRC; rbind and rootidmap by default");
        bind_spec_done(&b);
        TEST_ASSERT(bind_spec_parse("/x:/y:rw", true, &b, &reason) == 0 && b.read_only,
                    "BindReadOnly= stays read-only whatever the options say");
        bind_spec_done(&b);
        TEST_ASSERT(bind_spec_parse("/x:/y:idmap", false, &b, &reason) == 0 && b.idmap == BIND_IDMAP_ID,
                    "idmap option");
        bind_spec_done(&b);
        TEST_ASSERT(bind_spec_parse("/a\\:b:/c\\\\d:ro", false, &b, &reason) == 0 && streq(b.source, "/a:b") &&
                            streq(b.destination, "/c\\d") && b.read_only,
                    "\\: is a ':' of a path and \\\\ a backslash (as nspawn takes them)");
        bind_spec_done(&b);
        TEST_ASSERT(bind_spec_parse("/a\\:b", false, &b, &reason) == 0 && streq(b.destination, "/a:b"),
                    "an escaped ':' in SRC, DST defaulting to it");
        bind_spec_done(&b);
        TEST_ASSERT(bind_spec_parse("/a:/b:ro:x", false, &b, &reason) == -EINVAL && strstr(reason, "\\:"),
                    "a fourth field is refused, saying how to write a ':'");
        _cleanup_free_ char *esc = bind_path_escape("/a:b\\c");
        TEST_ASSERT(streq(esc, "/a\\:b\\\\c"), "bind_path_escape() escapes ':' and '\\' (got %s)", esc);
        TmpfsSpec t;
        TEST_ASSERT(tmpfs_spec_parse("/t\\:1:mode=0700", &t, &reason) == 0 && streq(t.destination, "/t:1") &&
                            streq(t.mode, "0700"),
                    "an escaped ':' in a tmpfs destination");
        tmpfs_spec_done(&t);

        parse_bad("a relative Bind= source", "[Files]\nBind=src:/src\n", "test.conf:2: Bind=src:/src:",
                  "not absolute", "expected SRC[:DST[:OPTIONS]]");
        parse_bad("a relative Bind= destination", "[Files]\nBind=/src:src\n", "not absolute");
        parse_bad("a Bind= with ..", "[Files]\nBind=/src:/a/../proc\n", "'..' component");
        parse_bad("a Bind= over /proc", "[Files]\nBind=/src:/proc\n", "/proc, /sys, /dev");
        parse_bad("a Bind= below /sys", "[Files]\nBind=/src://sys/kernel\n", "/proc, /sys, /dev");
        parse_bad("a Bind= below /dev", "[Files]\nBindReadOnly=/dev/sda:/dev/sda\n", "/proc, /sys, /dev");
        parse_bad("a Bind= over /run/host", "[Files]\nBind=/src:/run/host/x\n", "/run/host");
        parse_bad("a Bind= over /", "[Files]\nBind=/src:/\n", "root directory");
        parse_bad("a Bind= with an unknown option", "[Files]\nBind=/src:/src:bogus\n", "unknown option");
        parse_bad("a Bind= with two idmap options", "[Files]\nBind=/a:/b:idmap,noidmap\n", "two options of one kind");
        parse_bad("a Bind= with empty options", "[Files]\nBind=/a:/b:\n", "empty list of options");
        parse_bad("a Bind= with a fourth field", "[Files]\nBind=/a:/b:ro:x\n", "more than SRC:DST:OPTIONS");
        parse_bad("a TemporaryFileSystem= over /dev", "[Files]\nTemporaryFileSystem=/dev/shm\n", "/proc, /sys, /dev");
        parse_bad("a TemporaryFileSystem= with a bad mode", "[Files]\nTemporaryFileSystem=/t:mode=999\n",
                  "unknown or malformed option");
        parse_bad("a TemporaryFileSystem= with a bad size", "[Files]\nTemporaryFileSystem=/t:size=1x\n",
                  "unknown or malformed option");

        char *err = NULL;
        machine_config_init(&c);
        TEST_ASSERT(machine_config_set_from_cli(&c, "Files.Bind=/a:/b:noidmap", &err) == 0 &&
                            strv_length(c.binds) == 1,
                    "--set Files.Bind= works");
        TEST_ASSERT(machine_config_set_from_cli(&c, "Bind=/a:/proc/x", &err) < 0 && err && strstr(err, "/proc"),
                    "--set Bind= over /proc refused");
        free(err);
        machine_config_done(&c);
}

/* [Devices] Allow=: the safe list, the acknowledgement, strict words. */
/* What the fuzzers found: a cleared list must stay set through machine.conf,
 * and a value machine.conf cannot keep (trailing blanks) is refused. */
static void test_list_round_trips(void) {
        static const char *const cleared[] = { "Devices.Allow=", "Files.Bind=", "Files.BindReadOnly=",
                                                "Files.TemporaryFileSystem=" };
        for (size_t i = 0; i < ELEMENTSOF(cleared); i++) {
                MachineConfig c, back;
                machine_config_init(&c);
                machine_config_init(&back);
                _cleanup_free_ char *error = NULL, *error2 = NULL;
                int r = machine_config_set_from_cli(&c, cleared[i], &error);
                _cleanup_free_ char *text = r < 0 ? NULL : machine_config_format(&c, c.set_mask);
                int r2 = text ? machine_config_parse_text(&back, text, strlen(text), "back.conf", CONFIG_SOURCE_MACHINE,
                                                          true, &error2)
                              : -EINVAL;
                TEST_ASSERT(r == 0 && r2 == 0 && back.set_mask == c.set_mask && machine_config_equal(&c, &back),
                            "%s (a cleared list) is written as an empty key and parses back set", cleared[i]);
                machine_config_done(&c);
                machine_config_done(&back);
        }
        static const char *const blanks[] = { "Files.Bind=/srv/a ", "Files.Bind=/srv/a:/b\t",
                                              "Files.TemporaryFileSystem=/scratch ",
                                              /* inih reads " ;" as the start of a comment */
                                              "Files.Bind=/~/Bind=/~/Hnamep ;H/H", "Files.BindReadOnly=/a:/b ;c",
                                              "Files.TemporaryFileSystem=/a ;b" };
        for (size_t i = 0; i < ELEMENTSOF(blanks); i++) {
                MachineConfig c;
                machine_config_init(&c);
                _cleanup_free_ char *error = NULL;
                TEST_ASSERT(machine_config_set_from_cli(&c, blanks[i], &error) == -EINVAL && error,
                            "a path ending in a blank or holding ' ;' is refused (%zu)", i);
                machine_config_done(&c);
        }
}

static void test_devices(void) {
        static const struct {
                const char *value;
                const char *name;
                unsigned access;
                bool privileged;
        } good[] = {
                { "/dev/kvm", "/dev/kvm", DEVICE_ACCESS_ALL, false },
                { "/dev/net/tun rw", "/dev/net/tun", DEVICE_ACCESS_READ | DEVICE_ACCESS_WRITE, false },
                { "/dev/dri/renderD128 r", "/dev/dri/renderD128", DEVICE_ACCESS_READ, false },
                { "/dev/ttyUSB0 wr", "/dev/ttyUSB0", DEVICE_ACCESS_READ | DEVICE_ACCESS_WRITE, false },
                { "/dev/ttyACM12 m", "/dev/ttyACM12", DEVICE_ACCESS_MKNOD, false },
                { "/dev/snd/pcmC0D0p", "/dev/snd/pcmC0D0p", DEVICE_ACCESS_ALL, false },
                { "char-drm rw", "char-drm", DEVICE_ACCESS_READ | DEVICE_ACCESS_WRITE, false },
                { "/dev/sda rw privileged", "/dev/sda", DEVICE_ACCESS_READ | DEVICE_ACCESS_WRITE, true },
                { "/dev/mem privileged r", "/dev/mem", DEVICE_ACCESS_READ, true },
                { "block-loop privileged", "block-loop", DEVICE_ACCESS_ALL, true },
                { "/dev/kvm  rw   privileged", "/dev/kvm", DEVICE_ACCESS_READ | DEVICE_ACCESS_WRITE, true },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                DeviceAllow a = {};
                const char *reason = NULL;
                int r = device_allow_parse(good[i].value, &a, &reason);
                TEST_ASSERT(r == 0 && streq_ptr(a.name, good[i].name) && a.access == good[i].access &&
                                    a.privileged == good[i].privileged,
                            "Allow=%s parses", good[i].value);
                if (r < 0)
                        tap_diag("%s", reason);
                free(a.name);
        }

        static const struct {
                const char *value, *reason;
        } bad[] = {
                { "", "names no device" },
                { "/dev/sda", "privileged device" },
                { "/dev/sda rw", "add the word 'privileged'" },
                { "/dev/mem r", "privileged device" },
                { "/dev/kvm2", "privileged device" },
                { "/dev/ttyUSB", "privileged device" },
                { "/dev/ttyUSBx", "privileged device" },
                { "/dev/dri/by-path/x", "privileged device" },
                { "char-misc", "privileged device" },
                { "block-sd rw", "privileged device" },
                { "/etc/passwd privileged", "below /dev/" },
                { "/dev/", "below /dev/" },
                { "dev/kvm", "below /dev/" },
                { "/dev/../etc/shadow privileged", "'..' component" },
                { "/dev/./kvm", "'.' or '..' component" },
                { "/dev//kvm", "empty" },
                { "/dev/kvm/", "empty" },
                { "/dev/kv$m privileged", "not allowed in a device path" },
                { "/dev/pts/0 privileged", "berth makes in every machine" },
                { "/dev/console privileged", "berth makes in every machine" },
                { "/dev/shm/x privileged", "berth makes in every machine" },
                { "char- privileged", "not a device class" },
                { "char-a/b privileged", "not a device class" },
                { "/dev/kvm rx", "neither an access" },
                { "/dev/kvm rr", "repeats a letter" },
                { "/dev/kvm r w", "more than one access word" },
                { "/dev/sda privileged privileged", "twice" },
                { "/dev/kvm:rw", "not allowed in a device path" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                DeviceAllow a = {};
                const char *reason = NULL;
                int r = device_allow_parse(bad[i].value, &a, &reason);
                if (!TEST_ASSERT(r == -EINVAL && reason && strstr(reason, bad[i].reason) && !a.name,
                                 "Allow=%s is refused: %s", bad[i].value, bad[i].reason))
                        tap_diag("r=%d reason=%s", r, reason ?: "(null)");
                free(a.name);
        }

        MachineConfig c;
        if (parse_good(&c, "an empty Allow= clears the lines above it",
                       "[Devices]\nAllow=/dev/kvm\nAllow=\nAllow=/dev/fuse rw\n"))
                TEST_ASSERT(c.n_devices == 1 && streq(c.devices[0].name, "/dev/fuse"), "only /dev/fuse is left");
        machine_config_done(&c);
        parse_bad_full("a device allowed twice", "[Devices]\nAllow=/dev/kvm\nAllow=/dev/kvm r\n",
                       strlen("[Devices]\nAllow=/dev/kvm\nAllow=/dev/kvm r\n"), CONFIG_SOURCE_MACHINE,
                       "test.conf:3:", "already allows", NULL);
        parse_bad_full("a privileged device without acknowledgement",
                       "[Devices]\nAllow=/dev/sda rw\n", strlen("[Devices]\nAllow=/dev/sda rw\n"),
                       CONFIG_SOURCE_MACHINE, "test.conf:2: Allow=/dev/sda rw: is a privileged device",
                       "berth.machine(5)", NULL);

        /* berth.conf may allow a device for every machine; a machine's own
         * Allow= lines replace those (a higher layer). */
        machine_config_init(&c);
        _cleanup_free_ char *error = NULL;
        TEST_ASSERT(parse(&c, "[Devices]\nAllow=/dev/fuse\n", CONFIG_SOURCE_MACHINE, true, &error) == 0 &&
                            parse(&c, "[Devices]\nAllow=/dev/kvm\n", CONFIG_SOURCE_GLOBAL, false, &error) == 0 &&
                            c.n_devices == 1 && streq(c.devices[0].name, "/dev/fuse"),
                    "machine.conf's Allow= lines win over berth.conf's");
        machine_config_done(&c);

        machine_config_init(&c);
        TEST_ASSERT(machine_config_set_from_cli(&c, "Devices.Allow=/dev/kvm rw", &error) == 0 &&
                            machine_config_set_from_cli(&c, "Allow=/dev/net/tun", &error) == 0 && c.n_devices == 2,
                    "--set Devices.Allow= and Allow= append");
        machine_config_done(&c);

        _cleanup_free_ char *opt = device_allow_from_option("/dev/sda:rw:privileged");
        TEST_ASSERT_STREQ(opt, "/dev/sda rw privileged", "--device PATH:ACCESS:privileged is an Allow= value");
}

/* --network MODE|cni:NAME: the --set assignments it stands for. */
static void test_network_option(void) {
        static const struct {
                const char *arg;
                const char *want; /* the assignments, joined by ' ', or NULL: refused */
        } cases[] = {
                { "cni:podman", "Network.Mode=cni Network.CNINetwork=podman" },
                { "bridge", "Network.Mode=bridge" },
                { "none", "Network.Mode=none" },
                { "macvlan", "Network.Mode=macvlan" },
                { "cni", NULL },        /* Mode=cni needs a network */
                { "cni:", NULL },
                { "cni:a/b", NULL },
                { "cni:../x", NULL },
                { "nat", NULL },
                { "", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_strv_free_ char **set = NULL;
                _cleanup_free_ char *error = NULL, *joined = NULL;
                int r = machine_config_network_option(cases[i].arg, &set, &error);
                for (char **a = set; a && *a; a++)
                        strextendf(&joined, "%s%s", joined ? " " : "", *a);
                if (cases[i].want)
                        TEST_ASSERT(r == 0 && streq_ptr(joined, cases[i].want), "--network %s is %s", cases[i].arg,
                                    cases[i].want);
                else
                        TEST_ASSERT(r == -EINVAL && error && strstr(error, "--network") && !set,
                                    "--network '%s' is refused (%s)", cases[i].arg, error ?: "no message");
        }
        /* What it gives is what --set takes. */
        _cleanup_strv_free_ char **set = NULL;
        _cleanup_free_ char *error = NULL;
        MachineConfig c;
        machine_config_init(&c);
        bool ok = machine_config_network_option("cni:podman", &set, &error) == 0;
        for (char **a = set; ok && a && *a; a++)
                ok = machine_config_set_from_cli(&c, *a, &error) == 0;
        TEST_ASSERT(ok && c.network_mode == NETWORK_MODE_CNI && streq_ptr(c.cni_network, "podman"),
                    "--network cni:podman sets Mode=cni and CNINetwork=podman");
        machine_config_done(&c);
}

int main(void) {
        test_defaults();
        test_network_mode_strings();
        test_good_values();
        test_bad_values();
        test_structure();
        test_leading_whitespace();
        test_long_lines();
        test_escaping();
        test_global();
        test_precedence();
        test_unchanged_on_error();
        test_cli();
        test_format();
        test_file();
        test_files();
        test_devices();
        test_list_round_trips();
        test_network_option();

        return tap_finish();
}
