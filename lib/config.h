/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Machine configuration: the global berth.conf and a machine's machine.conf,
 * both INI files with systemd-like sections.  Precedence, lowest first:
 * built-in default < global file < machine file < command line.  A bit in
 * MachineConfig.set_mask records each key a higher layer set, so a lower
 * layer applied later can never override it. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices.h"
#include "netaddr.h"

/* inih (Debian's r55) cuts lines at INI_MAX_LINE (200) bytes and parses the
 * rest as a new line, which could smuggle a second key into a long value.
 * We refuse any line of this length or more before inih sees it. */
#define CONFIG_LINE_MAX 199
/* [Network] defaults.  The IPv6 subnet is a ULA prefix spelling "berth" in
 * ASCII (62 65 72 74 68): set one of your own (fdXX:XXXX:XXXX::/64 with
 * random X) where several hosts' machines must not overlap. */
#define CONFIG_DEFAULT_BRIDGE "berth0"
/* 65534 addresses: a fleet of a thousand machines and more fits without
 * configuration (one Linux bridge takes 1023 of them, see Bridge=). */
#define CONFIG_DEFAULT_SUBNET "10.77.0.0/16"
#define CONFIG_DEFAULT_IPV6_SUBNET "fd62:6572:7468::/64"
#define CONFIG_DEFAULT_INTERFACE "host0"
/* MachinesPerBridge=: a Linux bridge numbers its ports 1..1023 (BR_MAX_PORTS
 * less port 0); past that many machines a network spills over to the next
 * bridge (berth0, berth1, ...), each with its own slice of Subnet=. */
#define CONFIG_BRIDGE_PORTS_MAX 1023U
#define CONFIG_PORTS_MAX 64

/* CPUWeight= and IOWeight= as systemd takes them; an unset weight acts as
 * CONFIG_WEIGHT_DEFAULT. */
#define CONFIG_WEIGHT_MIN UINT64_C(1)
#define CONFIG_WEIGHT_DEFAULT UINT64_C(100)
#define CONFIG_WEIGHT_MAX UINT64_C(10000)

/* A config file larger than this is refused outright. */
#define CONFIG_FILE_MAX (64 * 1024)

/* [Security] PrivateUsers= when no layer sets it: every machine gets a user
 * namespace (its root is an unprivileged host UID) unless told otherwise. */
#define CONFIG_DEFAULT_PRIVATE_USERS true

typedef enum NetworkMode {
        NETWORK_MODE_NONE,    /* own network namespace, loopback only */
        NETWORK_MODE_HOST,    /* share the host's network namespace */
        NETWORK_MODE_BRIDGE,  /* a veth pair on a berth bridge, with address, NAT and DHCP */
        NETWORK_MODE_MACVLAN, /* a macvlan on a host interface (Link=); the LAN configures it */
        NETWORK_MODE_IPVLAN,  /* an ipvlan (L2) on a host interface (Link=) */
        NETWORK_MODE_CNI,     /* a CNI network (CNINetwork=), made by CNI plugins (cni.h) */
        _NETWORK_MODE_MAX,
        _NETWORK_MODE_INVALID = -22, /* -EINVAL */
} NetworkMode;

const char *network_mode_to_string(NetworkMode m);

/* How the rootfs's files get owners inside a user namespace (nspawn's
 * --private-users-ownership=): an idmapped mount, or a one-time chown of
 * the tree into the machine's range. */
typedef enum Ownership {
        OWNERSHIP_AUTO,  /* map where the filesystem has idmapped mounts, else chown */
        OWNERSHIP_MAP,
        OWNERSHIP_CHOWN,
        _OWNERSHIP_MAX,
        _OWNERSHIP_INVALID = -22, /* -EINVAL */
} Ownership;

const char *ownership_to_string(Ownership o);
Ownership ownership_from_string(const char *s);
NetworkMode network_mode_from_string(const char *s);

typedef enum ConfigKey {
        CONFIG_MACHINE_INIT,
        CONFIG_MACHINE_HOSTNAME,
        CONFIG_MACHINE_POWEROFF_SIGNAL,
        CONFIG_MACHINE_REBOOT_SIGNAL,
        CONFIG_MACHINE_BOOT,
        CONFIG_MACHINE_SCRATCH_DIRECTORY,
        CONFIG_EXEC_COMMAND,
        CONFIG_EXEC_ENVIRONMENT,
        CONFIG_EXEC_WORKING_DIRECTORY,
        CONFIG_EXEC_USER,
        CONFIG_NETWORK_MODE,
        CONFIG_NETWORK_BRIDGE,
        CONFIG_NETWORK_SUBNET,
        CONFIG_NETWORK_IPV6_SUBNET,
        CONFIG_NETWORK_INTERFACE,
        CONFIG_NETWORK_LINK,
        CONFIG_NETWORK_PORT,
        CONFIG_NETWORK_ADDRESS_FILTER,
        CONFIG_NETWORK_MACHINES_PER_BRIDGE,
        CONFIG_NETWORK_CNI_NETWORK,
        CONFIG_NETWORK_CNI_CONFIG_DIRECTORY,
        CONFIG_NETWORK_CNI_PLUGIN_DIRECTORY,
        CONFIG_NETWORK_CNI_TIMEOUT_SEC,
        CONFIG_RESOURCES_MEMORY_MAX,
        CONFIG_RESOURCES_MEMORY_HIGH,
        CONFIG_RESOURCES_TASKS_MAX,
        CONFIG_RESOURCES_CPU_WEIGHT,
        CONFIG_RESOURCES_CPU_QUOTA,
        CONFIG_RESOURCES_IO_WEIGHT,
        CONFIG_SECURITY_PRIVATE_USERS,
        CONFIG_SECURITY_PRIVATE_USERS_OWNERSHIP,
        CONFIG_FILES_BIND,
        CONFIG_FILES_BIND_READ_ONLY,
        CONFIG_FILES_TEMPORARY_FILE_SYSTEM,
        CONFIG_IMPORT_MAX_SIZE,
        CONFIG_IMPORT_DEFAULT_REGISTRY,
        CONFIG_DEVICES_ALLOW,
        _CONFIG_KEY_MAX,
} ConfigKey;

#define CONFIG_KEY_BIT(k) (UINT64_C(1) << (k))
#define CONFIG_FILES_MASK                                                                         \
        (CONFIG_KEY_BIT(CONFIG_FILES_BIND) | CONFIG_KEY_BIT(CONFIG_FILES_BIND_READ_ONLY) |        \
         CONFIG_KEY_BIT(CONFIG_FILES_TEMPORARY_FILE_SYSTEM))

typedef struct MachineConfig {
        /* [Machine] */
        char *init;            /* absolute path inside the rootfs; default "/sbin/init" */
        char *hostname;        /* NULL: the machine's name */
        int poweroff_signal;   /* 0: chosen from the init (see machine_config_poweroff_signal) */
        int reboot_signal;     /* 0: chosen from the init */
        bool boot;             /* default true: PID 1 is Init; false: berth's minimal init runs [Exec] Command */
        char *scratch_directory; /* host dir for the changes of ephemeral runs; NULL: a tmpfs */
        /* [Exec]: the machine's main program when Boot=no (an application image) */
        char **command;        /* argv; NULL: none */
        char **environment;    /* "NAME=value" entries; the key may be repeated */
        char *working_directory; /* absolute path inside the machine; NULL: "/" */
        char *user;            /* name or number, "user:group" or "uid:gid"; NULL: root */
        /* [Network] */
        NetworkMode network_mode; /* default NETWORK_MODE_BRIDGE */
        char *bridge;          /* default CONFIG_DEFAULT_BRIDGE */
        IPNet subnet;          /* IPv4 subnet of the bridge; default CONFIG_DEFAULT_SUBNET */
        IPNet ipv6_subnet;     /* ULA /64 (or other) of the bridge; default CONFIG_DEFAULT_IPV6_SUBNET */
        char *interface;       /* the machine's side; default "host0" */
        char *link;            /* host interface for macvlan/ipvlan; NULL = unset */
        PortForward *ports;    /* Port=, a space-separated list */
        size_t n_ports;
        bool address_filter;   /* default true: on the bridge, only the machine's own MAC and addresses */
        unsigned machines_per_bridge; /* MachinesPerBridge=, 1..CONFIG_BRIDGE_PORTS_MAX (the default) */
        char *cni_network;     /* CNINetwork=: the network list's "name"; NULL = unset */
        char *cni_config_dir;  /* CNIConfigDirectory=; NULL: CNI_DEFAULT_CONFIG_DIR */
        char *cni_plugin_dirs; /* CNIPluginDirectory=, ':'-separated; NULL: CNI_DEFAULT_PLUGIN_DIRS */
        unsigned cni_timeout_sec; /* CNITimeoutSec=, per plugin run; 0: CNI_DEFAULT_TIMEOUT_SEC */
        /* [Resources], with systemd.resource-control(5)'s syntax and ranges.
         * For the last four UINT64_MAX (the default) means unset: nothing is
         * asked of systemd, and direct mode leaves the kernel's default. */
        uint64_t memory_max;   /* bytes; UINT64_MAX = no limit (default) */
        uint64_t tasks_max;    /* UINT64_MAX = no limit; default 16384 */
        uint64_t memory_high;  /* bytes; UINT64_MAX = no throttling ("infinity") */
        uint64_t cpu_weight;   /* CONFIG_WEIGHT_MIN..MAX; UINT64_MAX = "default" */
        uint64_t cpu_quota_per_sec_usec; /* CPU time per second of wall time (systemd's
                                          * CPUQuotaPerSecUSec: N% is N * 10000); UINT64_MAX = none */
        uint64_t io_weight;    /* CONFIG_WEIGHT_MIN..MAX; UINT64_MAX = "default" */
        /* [Security] */
        bool private_users;    /* default CONFIG_DEFAULT_PRIVATE_USERS; false = privileged machine */
        Ownership ownership;   /* PrivateUsersOwnership=, default OWNERSHIP_AUTO */
        /* [Files]: each entry as written, checked by binds.h; the key may be
         * repeated, an empty value drops the entries before it */
        char **binds;          /* Bind=SRC[:DST[:OPTIONS]] */
        char **binds_ro;       /* BindReadOnly=, the same, read-only */
        char **tmpfs;          /* TemporaryFileSystem=DST[:OPTIONS] */
        /* [Import]: not a machine's setting but how machines are made, so only
         * berth.conf has it; never written to machine.conf, and not compared
         * by machine_config_equal(). */
        uint64_t import_max_size; /* cap on an import's unpacked size; default UNPACK_MAX_SIZE_DEFAULT,
                                   * UINT64_MAX = none */
        char *import_default_registry; /* registry of a reference without one (berth pull); NULL: docker.io */

        /* [Devices] */
        DeviceAllow *devices;  /* Allow=, repeated: added to the built-in list (devices.h) */
        size_t n_devices;

        uint64_t set_mask;     /* CONFIG_KEY_BIT()s set by a higher-precedence layer */
} MachineConfig;

/* Where a layer comes from; decides which keys are allowed in it. */
typedef enum ConfigSource {
        CONFIG_SOURCE_GLOBAL,  /* berth.conf: defaults for all machines; no [Machine] Hostname= */
        CONFIG_SOURCE_MACHINE, /* machine.conf */
} ConfigSource;

/* Fill with built-in defaults. set_mask = 0. */
void machine_config_init(MachineConfig *c);
void machine_config_done(MachineConfig *c);
/* Empty [Devices] Allow=. */
void machine_config_clear_devices(MachineConfig *c);
/* Append A (its name then belongs to C) to [Devices] Allow=, unchecked. */
void machine_config_append_device(MachineConfig *c, DeviceAllow a);
/* A deep copy of SRC into DST (which holds nothing). */
void machine_config_copy(MachineConfig *dst, const MachineConfig *src);
/* Same values (set_mask is not compared). */
bool machine_config_equal(const MachineConfig *a, const MachineConfig *b);

/* Parse TEXT (a whole file's contents, NUL-terminated, LEN bytes) named
 * FILENAME (for messages) as a layer of precedence SOURCE into C.  Keys whose
 * bit is already in c->set_mask are parsed (so errors are still reported) but
 * not applied.  Keys this layer does set are added to c->set_mask only when
 * MARK is true.  Returns 0, or -EINVAL with *ret_error set to a malloc'ed
 * "FILENAME:LINE: Key=Value: reason; how to fix" message.  On error C is
 * left unchanged. */
int machine_config_parse_text(MachineConfig *c, const char *text, size_t len, const char *filename,
                              ConfigSource source, bool mark, char **ret_error);

/* The same from a file.  A missing file is not an error when MISSING_OK.
 * Refuses files over CONFIG_FILE_MAX and non-regular files. */
int machine_config_parse_file(MachineConfig *c, const char *path, ConfigSource source, bool mark,
                              bool missing_ok, char **ret_error);

/* Set one key from the command line ("Section.Key=value" or "Key=value" when
 * unambiguous), marking it so files cannot override it. */
int machine_config_set_from_cli(MachineConfig *c, const char *assignment, char **ret_error);
/* The same, with WHERE starting the error message instead of "--set" (""
 * for none: the caller's log prefix says where). */
int machine_config_assign(MachineConfig *c, const char *assignment, const char *where, char **ret_error);
/* The key NAME ("Key" when unambiguous, or "Section.Key") names: 0, or
 * -EINVAL with *ret_error ("WHERE NAME: reason; hint", WHERE as above). */
int machine_config_key_from_name(const char *name, const char *where, ConfigKey *ret, char **ret_error);
/* Key K's value in C as machine.conf would write it (a repeatable key's
 * entries joined by spaces), malloc'ed; NULL when it has none (unset). */
char *machine_config_format_key(const MachineConfig *c, ConfigKey k);

/* Words as Command= takes them: separated by spaces, each bare or in double
 * quotes with \\ \" \n \t \xNN escapes.  parse returns -EINVAL for bad
 * quoting or no word at all; format quotes only where needed, and always
 * escapes ';' and '#' so a value never looks like a comment. */
int config_words_parse(const char *s, char ***ret);
char *config_words_format(char *const *words);

/* Add the --device options of a start, LIST (","-separated, each
 * "PATH|CLASS[:ACCESS][:privileged]"), to C's [Devices] Allow= lines, as
 * the command line sets keys.  Returns 0 or -EINVAL with *ret_error set. */
int machine_config_add_devices(MachineConfig *c, const char *list, char **ret_error);

/* Serialize the keys in MASK back to INI text (malloc'ed) for machine.conf.
 * Keys only berth.conf may set ([Import]) are never written. */
char *machine_config_format(const MachineConfig *c, uint64_t mask);

/* What C's network is called: its bridge (Mode=bridge), CNI network
 * (Mode=cni), host link (macvlan, ipvlan); NULL for none and host. */
const char *machine_config_network_name(const MachineConfig *c);

/* The command line's --network MODE (a Mode= value) or cni:NAME, as the
 * "Section.Key=value" assignments it stands for (Network.Mode=, and for
 * cni:NAME Network.CNINetwork=), appended to *SET.  Returns 0 or -EINVAL
 * with *ret_error set. */
int machine_config_network_option(const char *arg, char ***set, char **ret_error);
