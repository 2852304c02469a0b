/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ini.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "binds.h"
#include "cni.h"
#include "config.h"
#include "image-ref.h"
#include "name.h"
#include "unpack-limit.h"
#include "util.h"

#define CONFIG_DEFAULT_INIT "/sbin/init"
#define CONFIG_DEFAULT_TASKS_MAX UINT64_C(16384)

/* How much of a key or value from the input is echoed back in a message.
 * Enough to recognise it, not enough for hostile input to flood a terminal. */
#define ECHO_KEY_MAX 40
#define ECHO_VALUE_MAX 60

/* Longer than any signal spelling ("SIGRTMIN+30" is 11 bytes), and short
 * enough that no RTMIN+/RTMAX- offset in it can overflow an int. */
#define SIGNAL_SPELLING_MAX 15

_Static_assert(_CONFIG_KEY_MAX <= 64, "set_mask has 64 bits");

static const char *const network_mode_table[_NETWORK_MODE_MAX] = {
        [NETWORK_MODE_NONE] = "none",
        [NETWORK_MODE_HOST] = "host",
        [NETWORK_MODE_BRIDGE] = "bridge",
        [NETWORK_MODE_MACVLAN] = "macvlan",
        [NETWORK_MODE_IPVLAN] = "ipvlan",
        [NETWORK_MODE_CNI] = "cni",
};

const char *network_mode_to_string(NetworkMode m) {
        if (m < 0 || m >= _NETWORK_MODE_MAX)
                return NULL;
        return network_mode_table[m];
}

NetworkMode network_mode_from_string(const char *s) {
        if (!s)
                return _NETWORK_MODE_INVALID;
        for (NetworkMode m = 0; m < _NETWORK_MODE_MAX; m++)
                if (streq(s, network_mode_table[m]))
                        return m;
        return _NETWORK_MODE_INVALID;
}

static const char *const ownership_table[_OWNERSHIP_MAX] = {
        [OWNERSHIP_AUTO] = "auto",
        [OWNERSHIP_MAP] = "map",
        [OWNERSHIP_CHOWN] = "chown",
};

const char *ownership_to_string(Ownership o) {
        if (o < 0 || o >= _OWNERSHIP_MAX)
                return NULL;
        return ownership_table[o];
}

Ownership ownership_from_string(const char *s) {
        if (!s)
                return _OWNERSHIP_INVALID;
        for (Ownership o = 0; o < _OWNERSHIP_MAX; o++)
                if (streq(s, ownership_table[o]))
                        return o;
        return _OWNERSHIP_INVALID;
}

/* Make input safe to print: bytes outside printable ASCII become \xNN and a
 * backslash is doubled, so that the output is unambiguous and cannot carry
 * terminal escape sequences.  Long input is cut at MAX bytes and marked. */
static char *echo_escape(const char *s, size_t max) {
        size_t l = strnlen(s, max + 1);
        bool cut = l > max;
        if (cut)
                l = max;

        char *buf = xmalloc(l * 4 + sizeof("...")), *p = buf;
        for (size_t i = 0; i < l; i++) {
                unsigned char ch = (unsigned char) s[i];
                if (ch == '\\') {
                        *p++ = '\\';
                        *p++ = '\\';
                } else if (ch < 0x20 || ch >= 0x7f)
                        p += sprintf(p, "\\x%02x", ch);
                else
                        *p++ = (char) ch;
        }
        if (cut)
                p = stpcpy(p, "...");
        *p = 0;
        return buf;
}

/* ----- Value parsers and formatters -----
 * A parser either stores the value into C and returns 0, or leaves C alone
 * and returns -EINVAL with a static reason.  A formatter returns the value in
 * a form its parser reads back to the same setting, or NULL if there is
 * nothing to write. */

typedef int (*ConfigParseFunc)(MachineConfig *c, const char *value, const char **ret_reason);
typedef char *(*ConfigFormatFunc)(const MachineConfig *c);
typedef char **(*ConfigFormatListFunc)(const MachineConfig *c);

static int fail(const char **ret_reason, const char *reason) {
        *ret_reason = reason;
        return -EINVAL;
}

/* An absolute path as a configuration value: ASCII without whitespace (the
 * INI syntax would strip or cut it), no ".." component. */
static int check_abs_path(const char *value, const char **ret_reason) {
        if (isempty(value))
                return fail(ret_reason, "must not be empty");
        if (value[0] != '/')
                return fail(ret_reason, "is not an absolute path");

        /* No whitespace at all: the INI syntax strips it at the ends and
         * " ;" starts a comment, so such a path would not survive being
         * written to machine.conf and read back. */
        for (const char *p = value; *p; p++) {
                unsigned char ch = (unsigned char) *p;
                if (ch == ' ' || ch == '\t')
                        return fail(ret_reason, "contains whitespace");
                if (ch < 0x21 || ch >= 0x7f)
                        return fail(ret_reason, "contains a non-printable or non-ASCII byte");
        }

        if (path_has_dotdot(value))
                return fail(ret_reason, "contains a '..' path component");
        return 0;
}

static int parse_init(MachineConfig *c, const char *value, const char **ret_reason) {
        if (check_abs_path(value, ret_reason) < 0)
                return -EINVAL;
        if (value[strlen(value) - 1] == '/')
                return fail(ret_reason, "ends with '/', but must name a file");

        free(c->init);
        c->init = xstrdup(value);
        return 0;
}

static char *format_init(const MachineConfig *c) {
        return c->init ? xstrdup(c->init) : NULL;
}

static int parse_hostname(MachineConfig *c, const char *value, const char **ret_reason) {
        const char *reason;

        if (machine_name_validate(value, &reason) < 0)
                return fail(ret_reason, reason);

        free(c->hostname);
        c->hostname = xstrdup(value);
        return 0;
}

static char *format_hostname(const MachineConfig *c) {
        return c->hostname ? xstrdup(c->hostname) : NULL;
}

static int parse_signal(const char *value, int *ret, const char **ret_reason) {
        if (isempty(value))
                return fail(ret_reason, "must not be empty");
        if (streq(value, "auto")) {
                *ret = 0;
                return 0;
        }

        /* Besides rejecting nonsense early, the length bound keeps the
         * RTMIN+/RTMAX- offset signal_from_string() adds far from int
         * overflow. */
        if (strlen(value) > SIGNAL_SPELLING_MAX)
                return fail(ret_reason, "is not a known signal");

        int sig = signal_from_string(value);
        if (sig <= 0 || sig >= _NSIG)
                return fail(ret_reason, "is not a known signal");
        if (sig == SIGKILL || sig == SIGSTOP)
                return fail(ret_reason, "cannot be caught by init, so it could never shut down cleanly");
        /* Between the classic signals and SIGRTMIN lie the ones the C library
         * keeps for itself; init cannot use them. */
        if (sig > SIGSYS && sig < SIGRTMIN)
                return fail(ret_reason, "is reserved by the C library");

        *ret = sig;
        return 0;
}

static char *format_signal(int sig) {
        char buf[16];

        if (sig == 0)
                return xstrdup("auto");
        return xstrdup(signal_to_string(sig, buf));
}

static int parse_poweroff_signal(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_signal(value, &c->poweroff_signal, ret_reason);
}

static char *format_poweroff_signal(const MachineConfig *c) {
        return format_signal(c->poweroff_signal);
}

static int parse_reboot_signal(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_signal(value, &c->reboot_signal, ret_reason);
}

static char *format_reboot_signal(const MachineConfig *c) {
        return format_signal(c->reboot_signal);
}

static int parse_scratch_directory(MachineConfig *c, const char *value, const char **ret_reason) {
        if (isempty(value)) {
                free(c->scratch_directory);
                c->scratch_directory = NULL;
                return 0;
        }
        if (check_abs_path(value, ret_reason) < 0)
                return -EINVAL;
        if (streq(value, "/"))
                return fail(ret_reason, "must not be the root directory");
        free(c->scratch_directory);
        c->scratch_directory = xstrdup(value);
        return 0;
}

static char *format_scratch_directory(const MachineConfig *c) {
        return xstrdup(c->scratch_directory ?: "");
}

static int parse_boot(MachineConfig *c, const char *value, const char **ret_reason) {
        int r = parse_boolean(value);
        if (r < 0)
                return fail(ret_reason, "is not a boolean");
        c->boot = r;
        return 0;
}

static char *format_boot(const MachineConfig *c) {
        return xstrdup(c->boot ? "yes" : "no");
}

/* ----- Words (Command=, Environment=) ----- */

int config_words_parse(const char *s, char ***ret) {
        _cleanup_strv_free_ char **words = NULL;
        size_t len = strlen(s);
        _cleanup_free_ char *buf = xmalloc(len + 1);

        for (const char *p = s;;) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        break;
                char *o = buf;
                if (*p == '"') {
                        for (p++;; p++) {
                                if (!*p)
                                        return -EINVAL; /* no closing quote */
                                if (*p == '"')
                                        break;
                                if (*p != '\\') {
                                        *o++ = *p;
                                        continue;
                                }
                                p++;
                                switch (*p) {
                                case '\\':
                                case '"':
                                        *o++ = *p;
                                        break;
                                case 'n':
                                        *o++ = '\n';
                                        break;
                                case 't':
                                        *o++ = '\t';
                                        break;
                                case 'x': {
                                        int h = unhexchar(p[1]), l = h < 0 ? -1 : unhexchar(p[2]);
                                        /* A NUL cannot be part of an argument. */
                                        if (l < 0 || (h | l) == 0)
                                                return -EINVAL;
                                        *o++ = (char) (h << 4 | l);
                                        p += 2;
                                        break;
                                }
                                default:
                                        return -EINVAL;
                                }
                        }
                        p++;
                        /* "a"b is ambiguous: a closing quote must end the word. */
                        if (*p && *p != ' ' && *p != '\t')
                                return -EINVAL;
                } else {
                        for (; *p && *p != ' ' && *p != '\t'; p++) {
                                if (*p == '"' || *p == '\\')
                                        return -EINVAL;
                                *o++ = *p;
                        }
                }
                *o = 0;
                words = strv_append(words, buf);
        }
        if (!words)
                return -EINVAL;
        *ret = TAKE_PTR(words);
        return 0;
}

static bool word_is_bare(const char *w) {
        if (!*w)
                return false;
        for (const char *p = w; *p; p++) {
                unsigned char ch = (unsigned char) *p;
                if (ch <= ' ' || ch >= 0x7f || ch == '"' || ch == '\\' || ch == ';' || ch == '#')
                        return false;
        }
        return true;
}

char *config_words_format(char *const *words) {
        char *s = xstrdup("");
        for (char *const *w = words; w && *w; w++) {
                if (w != words)
                        strextendf(&s, " ");
                if (word_is_bare(*w)) {
                        strextendf(&s, "%s", *w);
                        continue;
                }
                strextendf(&s, "\"");
                for (const char *p = *w; *p; p++) {
                        unsigned char ch = (unsigned char) *p;
                        if (ch == '"' || ch == '\\')
                                strextendf(&s, "\\%c", ch);
                        else if (ch < ' ' || ch >= 0x7f || ch == ';' || ch == '#')
                                strextendf(&s, "\\x%02x", ch);
                        else
                                strextendf(&s, "%c", ch);
                }
                strextendf(&s, "\"");
        }
        return s;
}

/* Formatting may escape bytes (one becomes four): the line written back
 * must still be within CONFIG_LINE_MAX. */
static bool words_fit(const char *key, char *const *words) {
        _cleanup_free_ char *f = config_words_format(words);
        return strlen(key) + 1 + strlen(f) < CONFIG_LINE_MAX;
}

static int parse_command(MachineConfig *c, const char *value, const char **ret_reason) {
        char **words;
        if (config_words_parse(value, &words) < 0)
                return fail(ret_reason, "is not a list of words (check the quoting)");
        if (!words_fit("Command", words)) {
                strv_free(words);
                return fail(ret_reason, "is too long to be stored in a configuration file");
        }
        if (words[0][0] != '/') {
                strv_free(words);
                return fail(ret_reason, "must start with an absolute path");
        }
        strv_free(c->command);
        c->command = words;
        return 0;
}

static char *format_command(const MachineConfig *c) {
        return c->command ? config_words_format(c->command) : NULL;
}

static bool env_name_valid(const char *s, size_t n) {
        if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                      (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

static int parse_environment(MachineConfig *c, const char *value, const char **ret_reason) {
        _cleanup_strv_free_ char **words = NULL;
        if (config_words_parse(value, &words) < 0 || strv_length(words) != 1)
                return fail(ret_reason, "is not one NAME=value word (check the quoting)");
        if (!words_fit("Environment", words))
                return fail(ret_reason, "is too long to be stored in a configuration file");
        const char *eq = strchr(words[0], '=');
        if (!eq || !env_name_valid(words[0], (size_t) (eq - words[0])))
                return fail(ret_reason, "does not start with a valid variable name and '='");
        c->environment = strv_append(c->environment, words[0]);
        return 0;
}

static char **format_environment(const MachineConfig *c) {
        char **l = NULL;
        for (char **e = c->environment; e && *e; e++) {
                char *const one[] = { *e, NULL };
                _cleanup_free_ char *w = config_words_format(one);
                l = strv_append(l, w);
        }
        return l;
}

static int parse_working_directory(MachineConfig *c, const char *value, const char **ret_reason) {
        const char *reason = NULL;
        MachineConfig scratch = { .init = NULL };
        /* The same rules as Init=: an absolute, printable path without "..". */
        if (parse_init(&scratch, value, &reason) < 0 && !(reason && streq(reason, "ends with '/', but must name a file")))
                return fail(ret_reason, reason);
        free(scratch.init);
        free(c->working_directory);
        c->working_directory = xstrdup(value);
        return 0;
}

static char *format_working_directory(const MachineConfig *c) {
        return c->working_directory ? xstrdup(c->working_directory) : NULL;
}

static int parse_user(MachineConfig *c, const char *value, const char **ret_reason) {
        if (isempty(value))
                return fail(ret_reason, "must not be empty");
        /* Names as passwd allows them, an optional ":group": no spaces, no '/'. */
        for (const char *p = value; *p; p++) {
                unsigned char ch = (unsigned char) *p;
                if (!(isalnum(ch) || ch == '_' || ch == '-' || ch == '.' || ch == ':' || ch == '$'))
                        return fail(ret_reason, "contains a character a user or group name cannot have");
        }
        if (strchr(value, ':') != strrchr(value, ':') || value[0] == ':' || value[strlen(value) - 1] == ':')
                return fail(ret_reason, "is not USER or USER:GROUP");
        free(c->user);
        c->user = xstrdup(value);
        return 0;
}

static char *format_user(const MachineConfig *c) {
        return c->user ? xstrdup(c->user) : NULL;
}

static int parse_network_mode(MachineConfig *c, const char *value, const char **ret_reason) {
        NetworkMode m = network_mode_from_string(value);
        if (m < 0)
                return fail(ret_reason, "is not a known network mode");
        c->network_mode = m;
        return 0;
}

static char *format_network_mode(const MachineConfig *c) {
        const char *s = network_mode_to_string(c->network_mode);
        return s ? xstrdup(s) : NULL;
}

static int parse_cni_network(MachineConfig *c, const char *value, const char **ret_reason) {
        if (isempty(value)) {
                free(c->cni_network);
                c->cni_network = NULL;
                return 0;
        }
        if (!cni_network_name_is_valid(value))
                return fail(ret_reason, "is not a valid CNI network name");
        free(c->cni_network);
        c->cni_network = xstrdup(value);
        return 0;
}

static char *format_cni_network(const MachineConfig *c) {
        return xstrdup(c->cni_network ?: "");
}

static int parse_cni_config_dir(MachineConfig *c, const char *value, const char **ret_reason) {
        if (isempty(value)) {
                free(c->cni_config_dir);
                c->cni_config_dir = NULL;
                return 0;
        }
        if (check_abs_path(value, ret_reason) < 0)
                return -EINVAL;
        free(c->cni_config_dir);
        c->cni_config_dir = xstrdup(value);
        return 0;
}

static char *format_cni_config_dir(const MachineConfig *c) {
        return xstrdup(c->cni_config_dir ?: "");
}

static int parse_cni_plugin_dirs(MachineConfig *c, const char *value, const char **ret_reason) {
        if (isempty(value)) {
                free(c->cni_plugin_dirs);
                c->cni_plugin_dirs = NULL;
                return 0;
        }
        _cleanup_strv_free_ char **dirs = NULL;
        if (cni_plugin_dirs_parse(value, &dirs) < 0)
                return fail(ret_reason, "is not a ':'-separated list of up to 16 absolute paths");
        for (char **d = dirs; *d; d++)
                if (check_abs_path(*d, ret_reason) < 0)
                        return -EINVAL;
        free(c->cni_plugin_dirs);
        c->cni_plugin_dirs = xstrdup(value);
        return 0;
}

static char *format_cni_plugin_dirs(const MachineConfig *c) {
        return xstrdup(c->cni_plugin_dirs ?: "");
}

static int parse_cni_timeout(MachineConfig *c, const char *value, const char **ret_reason) {
        unsigned t;
        if (safe_atou(value, &t) < 0 || t < 1 || t > 3600)
                return fail(ret_reason, "is not a number of seconds from 1 to 3600");
        c->cni_timeout_sec = t;
        return 0;
}

static char *format_cni_timeout(const MachineConfig *c) {
        return c->cni_timeout_sec ? xasprintf("%u", c->cni_timeout_sec) : NULL;
}

static int parse_ifname(char **field, const char *value, bool allow_empty, const char **ret_reason) {
        if (isempty(value) && allow_empty) {
                free(*field);
                *field = NULL;
                return 0;
        }
        if (!ifname_is_valid(value))
                return fail(ret_reason, "is not a valid interface name");
        free(*field);
        *field = xstrdup(value);
        return 0;
}

static int parse_bridge(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_ifname(&c->bridge, value, false, ret_reason);
}

static char *format_bridge(const MachineConfig *c) {
        return c->bridge ? xstrdup(c->bridge) : NULL;
}

static int parse_interface(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_ifname(&c->interface, value, false, ret_reason);
}

static char *format_interface(const MachineConfig *c) {
        return c->interface ? xstrdup(c->interface) : NULL;
}

static int parse_link(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_ifname(&c->link, value, true, ret_reason);
}

static char *format_link(const MachineConfig *c) {
        return xstrdup(c->link ?: "");
}

static int parse_subnet(MachineConfig *c, const char *value, const char **ret_reason) {
        return ipnet_parse(value, AF_INET, &c->subnet, ret_reason);
}

static char *format_subnet(const MachineConfig *c) {
        char buf[IPNET_STRLEN];
        return xstrdup(ipnet_format(&c->subnet, buf));
}

static int parse_ipv6_subnet(MachineConfig *c, const char *value, const char **ret_reason) {
        return ipnet_parse(value, AF_INET6, &c->ipv6_subnet, ret_reason);
}

static char *format_ipv6_subnet(const MachineConfig *c) {
        char buf[IPNET_STRLEN];
        return xstrdup(ipnet_format(&c->ipv6_subnet, buf));
}

/* Port=: space-separated forwards; empty means none.  Two forwards of one
 * host port and protocol are refused: only one machine port can answer. */
static int parse_ports(MachineConfig *c, const char *value, const char **ret_reason) {
        _cleanup_free_ PortForward *ports = NULL;
        size_t n = 0;
        _cleanup_free_ char *copy = xstrdup(value);
        char *save = NULL;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                PortForward p;
                if (port_forward_parse(w, &p, ret_reason) < 0)
                        return -EINVAL;
                for (size_t i = 0; i < n; i++)
                        if (ports[i].protocol == p.protocol && ports[i].host_port == p.host_port)
                                return fail(ret_reason, "forwards one host port twice");
                if (n >= CONFIG_PORTS_MAX)
                        return fail(ret_reason, "lists too many ports (at most 64)");
                ports = realloc(ports, (n + 1) * sizeof *ports);
                if (!ports)
                        abort();
                ports[n++] = p;
        }
        free(c->ports);
        c->ports = TAKE_PTR(ports);
        c->n_ports = n;
        return 0;
}

static char *format_ports(const MachineConfig *c) {
        char *s = xstrdup("");
        for (size_t i = 0; i < c->n_ports; i++) {
                char buf[16];
                strextendf(&s, "%s%s", i ? " " : "", port_forward_format(&c->ports[i], buf));
        }
        return s;
}

static int parse_address_filter(MachineConfig *c, const char *value, const char **ret_reason) {
        int r = parse_boolean(value);
        if (r < 0)
                return fail(ret_reason, "is not a boolean");
        c->address_filter = r;
        return 0;
}

static char *format_address_filter(const MachineConfig *c) {
        return xstrdup(c->address_filter ? "yes" : "no");
}

static int parse_machines_per_bridge(MachineConfig *c, const char *value, const char **ret_reason) {
        unsigned n;
        if (safe_atou(value, &n) < 0 || n < 1 || n > CONFIG_BRIDGE_PORTS_MAX)
                return fail(ret_reason, "is not a number from 1 to 1023");
        c->machines_per_bridge = n;
        return 0;
}

static char *format_machines_per_bridge(const MachineConfig *c) {
        return xasprintf("%u", c->machines_per_bridge);
}

/* A size in bytes with an optional K/M/G/T suffix (powers of 1024), or
 * "infinity" (UINT64_MAX), as systemd takes MemoryMax= and MemoryHigh=. */
static int parse_bytes(const char *value, uint64_t *ret, const char **ret_reason) {
        uint64_t v;

        if (streq(value, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }

        int r = parse_size(value, &v);
        if (r == -ERANGE)
                return fail(ret_reason, "is too large");
        if (r < 0)
                return fail(ret_reason, "is not a valid size");
        /* The kernel would accept 0 and then OOM-kill (or throttle) everything; say so now. */
        if (v == 0)
                return fail(ret_reason, "must be greater than 0");
        *ret = v;
        return 0;
}

static char *format_bytes(uint64_t v) {
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = {
                { 'T', 40 }, { 'G', 30 }, { 'M', 20 }, { 'K', 10 },
        };

        if (v == UINT64_MAX)
                return xstrdup("infinity");
        /* Use the largest suffix that represents the value exactly, so that
         * "512M" stays readable and nothing is rounded. */
        for (size_t i = 0; v != 0 && i < ELEMENTSOF(units); i++)
                if ((v & ((UINT64_C(1) << units[i].shift) - 1)) == 0)
                        return xasprintf("%" PRIu64 "%c", v >> units[i].shift, units[i].suffix);
        return xasprintf("%" PRIu64, v);
}

static int parse_memory_max(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_bytes(value, &c->memory_max, ret_reason);
}

static char *format_memory_max(const MachineConfig *c) {
        return format_bytes(c->memory_max);
}

static int parse_memory_high(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_bytes(value, &c->memory_high, ret_reason);
}

static char *format_memory_high(const MachineConfig *c) {
        return format_bytes(c->memory_high);
}

static int parse_tasks_max(MachineConfig *c, const char *value, const char **ret_reason) {
        uint64_t v;

        if (streq(value, "infinity")) {
                c->tasks_max = UINT64_MAX;
                return 0;
        }

        int r = safe_atou64(value, &v);
        if (r == -ERANGE)
                return fail(ret_reason, "is too large");
        if (r < 0)
                return fail(ret_reason, "is not a number");
        if (v == 0)
                return fail(ret_reason, "must be at least 1");
        c->tasks_max = v;
        return 0;
}

static char *format_tasks_max(const MachineConfig *c) {
        if (c->tasks_max == UINT64_MAX)
                return xstrdup("infinity");
        return xasprintf("%" PRIu64, c->tasks_max);
}

/* A weight of CONFIG_WEIGHT_MIN..MAX, or "default" (UINT64_MAX: unset), as
 * systemd takes CPUWeight= and IOWeight=. */
static int parse_weight(const char *value, uint64_t *ret, const char **ret_reason) {
        uint64_t v;

        if (streq(value, "default")) {
                *ret = UINT64_MAX;
                return 0;
        }
        int r = safe_atou64(value, &v);
        if (r < 0 && r != -ERANGE)
                return fail(ret_reason, "is not a number");
        if (r < 0 || v < CONFIG_WEIGHT_MIN || v > CONFIG_WEIGHT_MAX)
                return fail(ret_reason, "is out of range");
        *ret = v;
        return 0;
}

static char *format_weight(uint64_t v) {
        return v == UINT64_MAX ? xstrdup("default") : xasprintf("%" PRIu64, v);
}

static int parse_cpu_weight(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_weight(value, &c->cpu_weight, ret_reason);
}

static char *format_cpu_weight(const MachineConfig *c) {
        return format_weight(c->cpu_weight);
}

static int parse_io_weight(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_weight(value, &c->io_weight, ret_reason);
}

static char *format_io_weight(const MachineConfig *c) {
        return format_weight(c->io_weight);
}

/* CPUQuota=: a percentage of one CPU with up to two decimals, above 100% for
 * more than one CPU, or empty for none: systemd's syntax, whose bound
 * (INT_MAX hundredths of a percent) we keep too.  Stored as systemd's
 * CPUQuotaPerSecUSec: 1% is 10 ms of CPU time per second. */
#define USEC_PER_PERMYRIAD UINT64_C(100)

static int parse_cpu_quota(MachineConfig *c, const char *value, const char **ret_reason) {
        if (isempty(value)) {
                c->cpu_quota_per_sec_usec = UINT64_MAX;
                return 0;
        }

        size_t n = strlen(value);
        if (value[n - 1] != '%')
                return fail(ret_reason, "is not a percentage");
        const char *dot = memchr(value, '.', n - 1);
        size_t int_len = dot ? (size_t) (dot - value) : n - 1;
        size_t frac_len = dot ? n - 2 - int_len : 0;
        if (int_len == 0 || (dot && (frac_len == 0 || frac_len > 2)))
                return fail(ret_reason, "is not a percentage with at most two decimals");
        /* Nine digits are more than the bound below, and cannot overflow on the way. */
        if (int_len > 9)
                return fail(ret_reason, "is too large");

        uint64_t permyriad = 0;
        for (size_t i = 0; i < n - 1; i++) {
                if (value + i == dot)
                        continue;
                if (value[i] < '0' || value[i] > '9')
                        return fail(ret_reason, "is not a percentage with at most two decimals");
                permyriad = permyriad * 10 + (uint64_t) (value[i] - '0');
        }
        for (size_t i = frac_len; i < 2; i++)
                permyriad *= 10;

        if (permyriad == 0)
                return fail(ret_reason, "must be greater than 0%");
        if (permyriad > INT32_MAX)
                return fail(ret_reason, "is too large");
        c->cpu_quota_per_sec_usec = permyriad * USEC_PER_PERMYRIAD;
        return 0;
}

static char *format_cpu_quota(const MachineConfig *c) {
        if (c->cpu_quota_per_sec_usec == UINT64_MAX)
                return xstrdup("");
        uint64_t permyriad = c->cpu_quota_per_sec_usec / USEC_PER_PERMYRIAD;
        if (permyriad % 100 == 0)
                return xasprintf("%" PRIu64 "%%", permyriad / 100);
        return xasprintf("%" PRIu64 ".%02" PRIu64 "%%", permyriad / 100, permyriad % 100);
}

static int parse_private_users(MachineConfig *c, const char *value, const char **ret_reason) {
        int r = parse_boolean(value);
        if (r < 0)
                return fail(ret_reason, "is not a boolean");
        c->private_users = r;
        return 0;
}

static char *format_private_users(const MachineConfig *c) {
        return xstrdup(c->private_users ? "yes" : "no");
}

static int parse_import_max_size(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_bytes(value, &c->import_max_size, ret_reason);
}

static char *format_import_max_size(const MachineConfig *c) {
        return format_bytes(c->import_max_size);
}

static int parse_import_default_registry(MachineConfig *c, const char *value, const char **ret_reason) {
        if (image_ref_registry_valid(value) < 0)
                return fail(ret_reason, "is not a registry");
        free(c->import_default_registry);
        c->import_default_registry = xstrdup(value);
        return 0;
}

static char *format_import_default_registry(const MachineConfig *c) {
        return xstrdup(c->import_default_registry ?: IMAGE_REF_DEFAULT_REGISTRY);
}

static int parse_ownership(MachineConfig *c, const char *value, const char **ret_reason) {
        Ownership o = ownership_from_string(value);
        if (o < 0)
                return fail(ret_reason, "is not a known ownership mode");
        c->ownership = o;
        return 0;
}

static char *format_ownership(const MachineConfig *c) {
        const char *s = ownership_to_string(c->ownership);
        return s ? xstrdup(s) : NULL;
}

/* [Files]: repeatable; an empty value drops what earlier lines (and
 * layers) listed, as systemd's list settings do. */
static int parse_file_list(char ***list, const char *value, bool bind, bool ro, const char **ret_reason) {
        if (isempty(value)) {
                strv_free(*list);
                *list = NULL;
                return 0;
        }
        if (bind) {
                BindSpec b;
                if (bind_spec_parse(value, ro, &b, ret_reason) < 0)
                        return -EINVAL;
                bind_spec_done(&b);
        } else {
                TmpfsSpec t;
                if (tmpfs_spec_parse(value, &t, ret_reason) < 0)
                        return -EINVAL;
                tmpfs_spec_done(&t);
        }
        *list = strv_append(*list, value);
        return 0;
}

static int parse_bind(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_file_list(&c->binds, value, true, false, ret_reason);
}

static int parse_bind_ro(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_file_list(&c->binds_ro, value, true, true, ret_reason);
}

static int parse_tmpfs(MachineConfig *c, const char *value, const char **ret_reason) {
        return parse_file_list(&c->tmpfs, value, false, false, ret_reason);
}

/* An empty list is written as an empty value, which keeps it set. */
static char **format_file_list(char *const *l) {
        return l ? strv_copy(l) : strv_append(NULL, "");
}

static char **format_bind(const MachineConfig *c) {
        return format_file_list(c->binds);
}

static char **format_bind_ro(const MachineConfig *c) {
        return format_file_list(c->binds_ro);
}

static char **format_tmpfs(const MachineConfig *c) {
        return format_file_list(c->tmpfs);
}

void machine_config_append_device(MachineConfig *c, DeviceAllow a) {
        DeviceAllow *n = realloc(c->devices, (c->n_devices + 1) * sizeof *n);
        if (!n)
                abort();
        c->devices = n;
        c->devices[c->n_devices++] = a;
}

/* [Devices] Allow=: one device a line, appended; an empty value clears
 * the list (of this layer and those below it). */
static int parse_device_allow(MachineConfig *c, const char *value, const char **ret_reason) {
        if (isempty(value)) {
                machine_config_clear_devices(c);
                return 0;
        }
        if (c->n_devices >= DEVICE_ALLOW_MAX)
                return fail(ret_reason, "is one device too many (at most 64 Allow= lines)");
        DeviceAllow a;
        int r = device_allow_parse(value, &a, ret_reason);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_devices; i++)
                if (streq(c->devices[i].name, a.name)) {
                        free(a.name);
                        return fail(ret_reason, "names a device an earlier Allow= line already allows");
                }
        machine_config_append_device(c, a);
        return 0;
}

int machine_config_add_devices(MachineConfig *c, const char *list, char **ret_error) {
        _cleanup_free_ char *copy = xstrdup(list);
        char *save = NULL;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                _cleanup_free_ char *value = device_allow_from_option(w);
                _cleanup_free_ char *assignment = xasprintf("Devices.Allow=%s", value);
                int r = machine_config_set_from_cli(c, assignment, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static char **format_device_allow(const MachineConfig *c) {
        char **l = NULL;
        for (size_t i = 0; i < c->n_devices; i++) {
                _cleanup_free_ char *s = device_allow_format(&c->devices[i]);
                l = strv_append(l, s);
        }
        return l;
}

/* ----- The key table -----
 * The one place that knows which keys exist.  Keep each section's keys
 * together: machine_config_format() writes sections in table order. */

typedef struct ConfigTableEntry {
        const char *section;
        const char *key;
        ConfigKey id;
        ConfigParseFunc parse;
        ConfigFormatFunc format;
        bool global_ok;    /* may appear in the global berth.conf */
        const char *hint;  /* how a valid value looks */
        ConfigFormatListFunc format_list; /* set for a key that may be repeated: one line per entry */
        bool global_only;  /* only berth.conf may set it: not a machine's setting */
        bool empty_clears; /* repeatable, and "KEY=" clears the list (of a lower layer too) */
} ConfigTableEntry;

static const ConfigTableEntry config_table[] = {
        { "Machine", "Init", CONFIG_MACHINE_INIT, parse_init, format_init, true,
          "expected an absolute path like /sbin/init" },
        /* Every machine needs its own hostname, so a global default makes no sense. */
        { "Machine", "Hostname", CONFIG_MACHINE_HOSTNAME, parse_hostname, format_hostname, false,
          "expected up to 64 ASCII letters, digits and '-', optionally in labels separated by '.'" },
        { "Machine", "PoweroffSignal", CONFIG_MACHINE_POWEROFF_SIGNAL, parse_poweroff_signal,
          format_poweroff_signal, true,
          "expected a signal like SIGRTMIN+4 or SIGTERM, a number, or 'auto'" },
        { "Machine", "RebootSignal", CONFIG_MACHINE_REBOOT_SIGNAL, parse_reboot_signal, format_reboot_signal,
          true, "expected a signal like SIGRTMIN+5 or SIGINT, a number, or 'auto'" },
        { "Machine", "ScratchDirectory", CONFIG_MACHINE_SCRATCH_DIRECTORY, parse_scratch_directory,
          format_scratch_directory, true, "expected an absolute host path like /var/tmp/berth-scratch, or empty (tmpfs)" },
        { "Machine", "Boot", CONFIG_MACHINE_BOOT, parse_boot, format_boot, true,
          "expected 'yes' (boot Init=) or 'no' (run [Exec] Command= under berth's minimal init)" },
        /* What the machine runs comes with its image: never from the global file. */
        { "Exec", "Command", CONFIG_EXEC_COMMAND, parse_command, format_command, false,
          "expected words like /bin/sh -c \"exit 7\", the first an absolute path" },
        { "Exec", "Environment", CONFIG_EXEC_ENVIRONMENT, parse_environment, NULL, false,
          "expected NAME=value (quote it if it has spaces); repeat the key for more",
          format_environment },
        { "Exec", "WorkingDirectory", CONFIG_EXEC_WORKING_DIRECTORY, parse_working_directory,
          format_working_directory, false, "expected an absolute path like /srv" },
        { "Exec", "User", CONFIG_EXEC_USER, parse_user, format_user, false,
          "expected a user name or number, optionally with :group" },
        { "Network", "Mode", CONFIG_NETWORK_MODE, parse_network_mode, format_network_mode, true,
          "expected 'bridge', 'none', 'host', 'macvlan', 'ipvlan' or 'cni' (with CNINetwork=)" },
        { "Network", "Bridge", CONFIG_NETWORK_BRIDGE, parse_bridge, format_bridge, true,
          "expected an interface name of 1 to 15 characters, like berth0" },
        { "Network", "Subnet", CONFIG_NETWORK_SUBNET, parse_subnet, format_subnet, true,
          "expected an IPv4 network like 10.77.0.0/24 (prefix 8 to 30)" },
        { "Network", "IPv6Subnet", CONFIG_NETWORK_IPV6_SUBNET, parse_ipv6_subnet, format_ipv6_subnet, true,
          "expected an IPv6 network like fd62:6572:7468::/64 (prefix 48 to 120)" },
        { "Network", "Interface", CONFIG_NETWORK_INTERFACE, parse_interface, format_interface, true,
          "expected an interface name of 1 to 15 characters, like host0 or eth0" },
        { "Network", "Link", CONFIG_NETWORK_LINK, parse_link, format_link, true,
          "expected the name of a host interface, like eth0" },
        /* Two machines cannot both own a host port, so there is no global default. */
        { "Network", "Port", CONFIG_NETWORK_PORT, parse_ports, format_ports, false,
          "expected space-separated forwards like tcp:8080:80 udp:5353:53" },
        { "Network", "AddressFilter", CONFIG_NETWORK_ADDRESS_FILTER, parse_address_filter,
          format_address_filter, true,
          "expected 'yes' (send only from the machine's own MAC and addresses) or 'no' (a guest that routes)" },
        { "Network", "MachinesPerBridge", CONFIG_NETWORK_MACHINES_PER_BRIDGE, parse_machines_per_bridge,
          format_machines_per_bridge, true,
          "expected how many machines one bridge takes before the next one is made, 1 to 1023 (the default)" },
        { "Network", "CNINetwork", CONFIG_NETWORK_CNI_NETWORK, parse_cni_network, format_cni_network, true,
          "expected the \"name\" of a CNI network list, like podman, or empty" },
        { "Network", "CNIConfigDirectory", CONFIG_NETWORK_CNI_CONFIG_DIRECTORY, parse_cni_config_dir,
          format_cni_config_dir, true, "expected an absolute path like /etc/cni/net.d, or empty (that default)" },
        { "Network", "CNIPluginDirectory", CONFIG_NETWORK_CNI_PLUGIN_DIRECTORY, parse_cni_plugin_dirs,
          format_cni_plugin_dirs, true,
          "expected absolute paths separated by ':', like /usr/lib/cni:/opt/cni/bin, or empty (that default)" },
        { "Network", "CNITimeoutSec", CONFIG_NETWORK_CNI_TIMEOUT_SEC, parse_cni_timeout, format_cni_timeout, true,
          "expected the seconds a CNI plugin may take, 1 to 3600 (default 30)" },
        { "Resources", "MemoryMax", CONFIG_RESOURCES_MEMORY_MAX, parse_memory_max, format_memory_max, true,
          "expected a size like 512M or 'infinity'" },
        { "Resources", "MemoryHigh", CONFIG_RESOURCES_MEMORY_HIGH, parse_memory_high, format_memory_high, true,
          "expected a size like 384M or 'infinity'" },
        { "Resources", "TasksMax", CONFIG_RESOURCES_TASKS_MAX, parse_tasks_max, format_tasks_max, true,
          "expected a number of at least 1 or 'infinity'" },
        { "Resources", "CPUWeight", CONFIG_RESOURCES_CPU_WEIGHT, parse_cpu_weight, format_cpu_weight, true,
          "expected a number from 1 to 10000 (100 is the default share) or 'default'" },
        { "Resources", "CPUQuota", CONFIG_RESOURCES_CPU_QUOTA, parse_cpu_quota, format_cpu_quota, true,
          "expected a percentage of one CPU like 50% or 200% (two CPUs), or empty for no quota" },
        { "Resources", "IOWeight", CONFIG_RESOURCES_IO_WEIGHT, parse_io_weight, format_io_weight, true,
          "expected a number from 1 to 10000 (100 is the default share) or 'default'" },
        { "Security", "PrivateUsers", CONFIG_SECURITY_PRIVATE_USERS, parse_private_users,
          format_private_users, true, "expected 'yes' or 'no'" },
        { "Security", "PrivateUsersOwnership", CONFIG_SECURITY_PRIVATE_USERS_OWNERSHIP, parse_ownership,
          format_ownership, true, "expected 'auto', 'map' or 'chown'" },
        { "Files", "Bind", CONFIG_FILES_BIND, parse_bind, NULL, true,
          "expected SRC[:DST[:OPTIONS]] with absolute paths, OPTIONS from ro, rbind, norbind, idmap, "
          "rootidmap, noidmap; repeat the key for more",
          format_bind, false, true },
        { "Files", "BindReadOnly", CONFIG_FILES_BIND_READ_ONLY, parse_bind_ro, NULL, true,
          "expected SRC[:DST[:OPTIONS]] with absolute paths, OPTIONS from rbind, norbind, idmap, "
          "rootidmap, noidmap; repeat the key for more",
          format_bind_ro, false, true },
        { "Files", "TemporaryFileSystem", CONFIG_FILES_TEMPORARY_FILE_SYSTEM, parse_tmpfs, NULL, true,
          "expected DST[:OPTIONS] with an absolute path, OPTIONS from ro, mode=OCTAL, size=SIZE; "
          "repeat the key for more",
          format_tmpfs, false, true },
        /* How berth import and create --from-tar unpack: decided before any machine exists. */
        { "Import", "MaxSize", CONFIG_IMPORT_MAX_SIZE, parse_import_max_size, format_import_max_size, true,
          "expected a size like 100G or 'infinity'", NULL, true },
        /* Where berth pull looks for a reference that names no registry. */
        { "Import", "DefaultRegistry", CONFIG_IMPORT_DEFAULT_REGISTRY, parse_import_default_registry,
          format_import_default_registry, true, "expected a host name or address with an optional :PORT, like "
          "docker.io or registry.example:5000", NULL, true },
        { "Devices", "Allow", CONFIG_DEVICES_ALLOW, parse_device_allow, NULL, true,
          "expected a device path below /dev or a class like char-drm, then optionally an access like rw, "
          "and 'privileged' for a device outside the safe list (berth.machine(5)); repeat the key for more",
          format_device_allow, false, true },
};

_Static_assert(ELEMENTSOF(config_table) == _CONFIG_KEY_MAX, "every ConfigKey needs a table entry");

static const ConfigTableEntry *table_lookup(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++)
                if (streq(config_table[i].section, section) && streq(config_table[i].key, key))
                        return config_table + i;
        return NULL;
}

static bool section_is_known(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++)
                if (streq(config_table[i].section, section))
                        return true;
        return false;
}

/* "[Machine], [Network], …" for hints. */
static char *list_sections(void) {
        char *s = NULL;

        for (size_t i = 0; i < ELEMENTSOF(config_table); i++)
                if (i == 0 || !streq(config_table[i - 1].section, config_table[i].section))
                        strextendf(&s, "%s[%s]", s ? ", " : "", config_table[i].section);
        return s;
}

/* "Init=, Hostname=, …" for one section, or "Machine.Init=, …" for all. */
static char *list_keys(const char *section) {
        char *s = NULL;

        for (size_t i = 0; i < ELEMENTSOF(config_table); i++) {
                const ConfigTableEntry *e = config_table + i;
                if (!section)
                        strextendf(&s, "%s%s.%s=", s ? ", " : "", e->section, e->key);
                else if (streq(e->section, section))
                        strextendf(&s, "%s%s=", s ? ", " : "", e->key);
        }
        return s;
}

/* Explain why KEY is not in SECTION (SECTION known), with a hint worded for
 * a file or the command line.  Returns a malloc'ed reason; *ret_hint is
 * malloc'ed too. */
static char *explain_unknown_key(const char *section, const char *key, bool cli, char **ret_hint) {
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++) {
                const ConfigTableEntry *e = config_table + i;
                if (streq(e->key, key)) {
                        *ret_hint = cli ? xasprintf("write %s.%s=", e->section, e->key)
                                        : xasprintf("move it to [%s]", e->section);
                        return xasprintf("%s= belongs in [%s], not [%s]", e->key, e->section, section);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++) {
                const ConfigTableEntry *e = config_table + i;
                if (streq(e->section, section) && strcasecmp(e->key, key) == 0) {
                        *ret_hint = xasprintf("keys are case-sensitive: did you mean %s=?", e->key);
                        return xasprintf("unknown key in [%s]", section);
                }
        }
        _cleanup_free_ char *keys = list_keys(section);
        *ret_hint = xasprintf("known keys in [%s] are %s", section, keys);
        return xasprintf("unknown key in [%s]", section);
}

/* "WHERE: Key=Value: reason; hint" with key and value made safe to print.
 * WHERE is "FILE:LINE:" or "--set". */
static char *assignment_error(const char *where, const char *key, const char *value, const char *reason,
                              const char *hint) {
        _cleanup_free_ char *k = echo_escape(key, ECHO_KEY_MAX), *v = echo_escape(value, ECHO_VALUE_MAX);

        return xasprintf("%s%s%s=%s: %s%s%s", where, *where ? " " : "", k, v, reason, hint ? "; " : "", hint ?: "");
}

/* ----- MachineConfig life cycle ----- */

void machine_config_init(MachineConfig *c) {
        *c = (MachineConfig) {
                .init = xstrdup(CONFIG_DEFAULT_INIT),
                .hostname = NULL,
                .poweroff_signal = 0,
                .reboot_signal = 0,
                .boot = true,
                .network_mode = NETWORK_MODE_BRIDGE,
                .address_filter = true,
                .machines_per_bridge = CONFIG_BRIDGE_PORTS_MAX,
                .bridge = xstrdup(CONFIG_DEFAULT_BRIDGE),
                .interface = xstrdup(CONFIG_DEFAULT_INTERFACE),
                .memory_max = UINT64_MAX,
                .tasks_max = CONFIG_DEFAULT_TASKS_MAX,
                .memory_high = UINT64_MAX,
                .cpu_weight = UINT64_MAX,
                .cpu_quota_per_sec_usec = UINT64_MAX,
                .io_weight = UINT64_MAX,
                .private_users = CONFIG_DEFAULT_PRIVATE_USERS,
                .ownership = OWNERSHIP_AUTO,
                .import_max_size = UNPACK_MAX_SIZE_DEFAULT,
                .set_mask = 0,
        };
        const char *reason;
        if (ipnet_parse(CONFIG_DEFAULT_SUBNET, AF_INET, &c->subnet, &reason) < 0 ||
            ipnet_parse(CONFIG_DEFAULT_IPV6_SUBNET, AF_INET6, &c->ipv6_subnet, &reason) < 0)
                abort(); /* the built-in defaults are constants */
}

void machine_config_clear_devices(MachineConfig *c) {
        for (size_t i = 0; i < c->n_devices; i++)
                free(c->devices[i].name);
        free(c->devices);
        c->devices = NULL;
        c->n_devices = 0;
}

void machine_config_done(MachineConfig *c) {
        free(c->init);
        c->init = NULL;
        free(c->hostname);
        c->hostname = NULL;
        free(c->scratch_directory);
        c->scratch_directory = NULL;
        free(c->bridge);
        c->bridge = NULL;
        free(c->interface);
        c->interface = NULL;
        free(c->link);
        c->link = NULL;
        free(c->cni_network);
        free(c->cni_config_dir);
        free(c->cni_plugin_dirs);
        c->cni_network = c->cni_config_dir = c->cni_plugin_dirs = NULL;
        free(c->ports);
        c->ports = NULL;
        c->n_ports = 0;
        machine_config_clear_devices(c);
        strv_free(c->command);
        c->command = NULL;
        strv_free(c->environment);
        c->environment = NULL;
        free(c->working_directory);
        c->working_directory = NULL;
        free(c->user);
        c->user = NULL;
        free(c->import_default_registry);
        c->import_default_registry = NULL;
        strv_free(c->binds);
        strv_free(c->binds_ro);
        strv_free(c->tmpfs);
        c->binds = c->binds_ro = c->tmpfs = NULL;
}

void machine_config_copy(MachineConfig *dst, const MachineConfig *src) {
        *dst = *src;
        dst->init = src->init ? xstrdup(src->init) : NULL;
        dst->hostname = src->hostname ? xstrdup(src->hostname) : NULL;
        dst->scratch_directory = src->scratch_directory ? xstrdup(src->scratch_directory) : NULL;
        dst->bridge = src->bridge ? xstrdup(src->bridge) : NULL;
        dst->interface = src->interface ? xstrdup(src->interface) : NULL;
        dst->link = src->link ? xstrdup(src->link) : NULL;
        dst->cni_network = src->cni_network ? xstrdup(src->cni_network) : NULL;
        dst->cni_config_dir = src->cni_config_dir ? xstrdup(src->cni_config_dir) : NULL;
        dst->cni_plugin_dirs = src->cni_plugin_dirs ? xstrdup(src->cni_plugin_dirs) : NULL;
        dst->ports = NULL;
        if (src->n_ports > 0) {
                dst->ports = xcalloc(src->n_ports, sizeof *dst->ports);
                memcpy(dst->ports, src->ports, src->n_ports * sizeof *dst->ports);
        }
        dst->devices = NULL;
        if (src->n_devices > 0) {
                dst->devices = xcalloc(src->n_devices, sizeof *dst->devices);
                for (size_t i = 0; i < src->n_devices; i++) {
                        dst->devices[i] = src->devices[i];
                        dst->devices[i].name = xstrdup(src->devices[i].name);
                }
        }
        dst->command = strv_copy(src->command);
        dst->environment = strv_copy(src->environment);
        dst->working_directory = src->working_directory ? xstrdup(src->working_directory) : NULL;
        dst->user = src->user ? xstrdup(src->user) : NULL;
        dst->import_default_registry = src->import_default_registry ? xstrdup(src->import_default_registry) : NULL;
        dst->binds = strv_copy(src->binds);
        dst->binds_ro = strv_copy(src->binds_ro);
        dst->tmpfs = strv_copy(src->tmpfs);
}

static bool devices_equal(const MachineConfig *a, const MachineConfig *b) {
        if (a->n_devices != b->n_devices)
                return false;
        for (size_t i = 0; i < a->n_devices; i++)
                if (!streq(a->devices[i].name, b->devices[i].name) || a->devices[i].access != b->devices[i].access ||
                    a->devices[i].privileged != b->devices[i].privileged)
                        return false;
        return true;
}

bool machine_config_equal(const MachineConfig *a, const MachineConfig *b) {
        return devices_equal(a, b) && streq_ptr(a->init, b->init) && streq_ptr(a->hostname, b->hostname) &&
               streq_ptr(a->scratch_directory, b->scratch_directory) && a->poweroff_signal == b->poweroff_signal && a->reboot_signal == b->reboot_signal &&
               a->network_mode == b->network_mode && streq_ptr(a->bridge, b->bridge) &&
               a->subnet.prefixlen == b->subnet.prefixlen && ipaddr_equal(&a->subnet.addr, &b->subnet.addr) &&
               a->ipv6_subnet.prefixlen == b->ipv6_subnet.prefixlen &&
               ipaddr_equal(&a->ipv6_subnet.addr, &b->ipv6_subnet.addr) &&
               streq_ptr(a->interface, b->interface) && streq_ptr(a->link, b->link) &&
               a->n_ports == b->n_ports &&
               (a->n_ports == 0 || memcmp(a->ports, b->ports, a->n_ports * sizeof *a->ports) == 0) &&
               a->address_filter == b->address_filter && a->machines_per_bridge == b->machines_per_bridge &&
               streq_ptr(a->cni_network, b->cni_network) &&
               streq_ptr(a->cni_config_dir, b->cni_config_dir) && streq_ptr(a->cni_plugin_dirs, b->cni_plugin_dirs) &&
               a->cni_timeout_sec == b->cni_timeout_sec &&
               a->memory_max == b->memory_max && a->tasks_max == b->tasks_max &&
               a->memory_high == b->memory_high && a->cpu_weight == b->cpu_weight &&
               a->cpu_quota_per_sec_usec == b->cpu_quota_per_sec_usec && a->io_weight == b->io_weight &&
               a->private_users == b->private_users && a->ownership == b->ownership && a->boot == b->boot &&
               strv_equal(a->command, b->command) && strv_equal(a->environment, b->environment) &&
               streq_ptr(a->working_directory, b->working_directory) && streq_ptr(a->user, b->user) &&
               strv_equal(a->binds, b->binds) && strv_equal(a->binds_ro, b->binds_ro) &&
               strv_equal(a->tmpfs, b->tmpfs);
}

/* Replace *C by *NEW, leaving *NEW empty. */
static void machine_config_replace(MachineConfig *c, MachineConfig *new) {
        machine_config_done(c);
        *c = *new;
        new->init = new->hostname = new->bridge = new->interface = new->link = new->scratch_directory = NULL;
        new->cni_network = new->cni_config_dir = new->cni_plugin_dirs = NULL;
        new->working_directory = new->user = new->import_default_registry = NULL;
        new->command = new->environment = NULL;
        new->binds = new->binds_ro = new->tmpfs = NULL;
        new->ports = NULL;
        new->n_ports = 0;
        new->devices = NULL;
        new->n_devices = 0;
}

/* Validate VALUE for E; store it in C only when APPLY, as a key a
 * higher-precedence layer already set must still be checked but not used. */
static int config_assign(const ConfigTableEntry *e, MachineConfig *c, bool apply, const char *value,
                         const char **ret_reason) {
        /* Files cannot get here with longer values, but the command line can,
         * and machine_config_format() must produce lines the parser accepts. */
        if (strlen(e->key) + 1 + strnlen(value, CONFIG_LINE_MAX) >= CONFIG_LINE_MAX)
                return fail(ret_reason, "is too long to be stored in a configuration file");

        if (apply)
                return e->parse(c, value, ret_reason);

        MachineConfig scratch;
        machine_config_init(&scratch);
        int r = e->parse(&scratch, value, ret_reason);
        machine_config_done(&scratch);
        return r;
}

/* Hand ERROR (malloc'ed) to the caller if it wants it; returns R. */
static int return_error(char **ret_error, char *error, int r) {
        if (ret_error)
                *ret_error = error;
        else
                free(error);
        return r;
}

/* Format a message and return R; "%m" in it prints R's error text. */
_printf_(3, 4) static int errorf(char **ret_error, int r, const char *fmt, ...) {
        char *error;
        va_list ap;

        errno = r < 0 ? -r : r;
        va_start(ap, fmt);
        int k = vasprintf(&error, fmt, ap);
        va_end(ap);
        if (k < 0)
                abort();
        return return_error(ret_error, error, r);
}

/* ----- Parsing text ----- */

typedef struct ParseContext {
        const char *filename;
        ConfigSource source;
        bool mark;

        /* The text, fed to inih one line per reader call so that the handler
         * always knows the line it is called for. */
        const char *text;
        size_t len, pos;
        unsigned line;
        bool overflow;           /* a line did not fit inih's buffer */

        MachineConfig *config;   /* the copy being built */
        uint64_t protected_mask; /* set_mask on entry: validate, do not apply */
        uint64_t seen_mask;      /* keys assigned in this text */
        unsigned seen_line[_CONFIG_KEY_MAX];

        char *error;             /* first error the handler found … */
        unsigned error_line;     /* … and its line */
} ParseContext;

static bool is_blank(const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isspace((unsigned char) p[i]))
                        return false;
        return true;
}

/* Checks done on the raw text, before inih sees it, for things inih would
 * silently get wrong or that the handler cannot see. */
static int config_check_text(const char *filename, const char *text, size_t len, char **ret_error) {
        if (len > CONFIG_FILE_MAX)
                return errorf(ret_error, -EINVAL, "%s: file is %zu bytes, more than the limit of %d bytes",
                              filename, len, CONFIG_FILE_MAX);

        /* inih stops at a NUL, so anything after it would be ignored without a word. */
        const char *nul = memchr(text, 0, len);
        if (nul) {
                unsigned line = 1;
                for (const char *p = text; p < nul; p++)
                        line += *p == '\n';
                return errorf(ret_error, -EINVAL,
                              "%s:%u: contains a NUL byte; a configuration file must be text",
                              filename, line);
        }

        unsigned line = 0;
        for (size_t pos = 0; pos < len;) {
                const char *start = text + pos;
                const char *nl = memchr(start, '\n', len - pos);
                size_t l = nl ? (size_t) (nl - start) : len - pos;

                pos += l + !!nl;
                line++;

                /* inih cuts longer lines and parses the rest as a line of its own. */
                if (l >= CONFIG_LINE_MAX)
                        return errorf(ret_error, -EINVAL,
                                      "%s:%u: line is %zu bytes long, the limit is %d bytes; shorten it",
                                      filename, line, l, CONFIG_LINE_MAX - 1);

                const char *p = start;
                size_t n = l;
                /* inih skips a UTF-8 byte order mark at the very start; so do we. */
                if (line == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
                        p += 3;
                        n -= 3;
                }

                if (n == 0 || is_blank(p, n))
                        continue;

                /* inih would append an indented line to the previous value
                 * (or, before any key, take it as a key of its own). */
                if (isspace((unsigned char) p[0]))
                        return errorf(ret_error, -EINVAL,
                                      "%s:%u: line starts with whitespace; remove the indentation "
                                      "(continuation lines are not supported)",
                                      filename, line);

                if (p[0] != '[')
                        continue;

                /* Section headers are checked here because inih only tells the
                 * handler about a section once a key appears in it. */
                const char *end = memchr(p, ']', n);
                if (!end)
                        continue; /* inih reports this as a syntax error */

                _cleanup_free_ char *section = strndup(p + 1, (size_t) (end - p - 1));
                if (!section)
                        abort();
                if (!section_is_known(section)) {
                        _cleanup_free_ char *s = echo_escape(section, ECHO_KEY_MAX);
                        _cleanup_free_ char *known = list_sections();
                        return errorf(ret_error, -EINVAL,
                                      "%s:%u: [%s]: unknown section; known sections are %s",
                                      filename, line, s, known);
                }

                /* inih ignores anything after ']', which would swallow e.g. an
                 * assignment written on the same line. */
                const char *rest = end + 1, *stop = p + n;
                while (rest < stop && isspace((unsigned char) *rest))
                        rest++;
                if (rest < stop && *rest != ';' && *rest != '#')
                        return errorf(ret_error, -EINVAL,
                                      "%s:%u: [%s]: unexpected text after the section header; "
                                      "put it on a line of its own",
                                      filename, line, section);
        }

        return 0;
}

static char *config_reader(char *buf, int size, void *userdata) {
        ParseContext *ctx = userdata;

        if (ctx->overflow || ctx->pos >= ctx->len)
                return NULL;

        const char *start = ctx->text + ctx->pos;
        const char *nl = memchr(start, '\n', ctx->len - ctx->pos);
        size_t l = nl ? (size_t) (nl - start) + 1 : ctx->len - ctx->pos;

        /* config_check_text() keeps every line within the buffer inih r55
         * passes.  Should another build pass a smaller one, stop rather than
         * hand inih half a line, which it would parse as two. */
        if (size <= 0 || l >= (size_t) size) {
                ctx->overflow = true;
                return NULL;
        }

        memcpy(buf, start, l);
        buf[l] = 0;
        ctx->pos += l;
        ctx->line++;
        return buf;
}

static int config_handler(void *userdata, const char *section, const char *key, const char *value) {
        ParseContext *ctx = userdata;
        _cleanup_free_ char *where = NULL, *reason_buf = NULL, *hint_buf = NULL;
        const char *reason = NULL, *hint = NULL;

        /* Only the first error is reported, and C is left alone on error, so
         * there is nothing more to do once one was found. */
        if (ctx->error)
                return 1;

        if (isempty(section)) {
                reason = "assignment outside of any section";
                hint = "put it below a section header such as [Machine]";
                for (size_t i = 0; i < ELEMENTSOF(config_table); i++)
                        if (streq(config_table[i].key, key)) {
                                hint = hint_buf = xasprintf("put it below a [%s] line",
                                                            config_table[i].section);
                                break;
                        }
                goto fail;
        }
        if (isempty(key)) {
                reason = "missing key name";
                hint = "expected 'Key=Value'";
                goto fail;
        }

        const ConfigTableEntry *e = table_lookup(section, key);
        if (!e) {
                if (!section_is_known(section)) {
                        /* config_check_text() catches these; kept for safety. */
                        _cleanup_free_ char *s = echo_escape(section, ECHO_KEY_MAX);
                        _cleanup_free_ char *known = list_sections();
                        reason = reason_buf = xasprintf("unknown section [%s]", s);
                        hint_buf = xasprintf("known sections are %s", known);
                } else
                        reason = reason_buf = explain_unknown_key(section, key, false, &hint_buf);
                hint = hint_buf;
                goto fail;
        }

        uint64_t bit = CONFIG_KEY_BIT(e->id);

        if (ctx->source == CONFIG_SOURCE_GLOBAL && !e->global_ok) {
                reason = "not allowed in the global configuration";
                hint = "set it in the machine's machine.conf";
                goto fail;
        }
        if (ctx->source == CONFIG_SOURCE_MACHINE && e->global_only) {
                reason = "only allowed in the global berth.conf";
                hint = e->id == CONFIG_IMPORT_DEFAULT_REGISTRY
                               ? "set it there, or write the registry into the image reference"
                               : "set it there, or give --max-size to berth import or create";
                goto fail;
        }
        if ((ctx->seen_mask & bit) && !e->format_list) {
                reason = reason_buf = xasprintf("%s= is already set on line %u", e->key,
                                                ctx->seen_line[e->id]);
                hint = "remove one of the assignments";
                goto fail;
        }

        if (config_assign(e, ctx->config, !(ctx->protected_mask & bit), value, &reason) < 0) {
                hint = e->hint;
                goto fail;
        }

        ctx->seen_mask |= bit;
        ctx->seen_line[e->id] = ctx->line;
        if (ctx->mark)
                ctx->config->set_mask |= bit;
        return 1;

fail:
        where = xasprintf("%s:%u:", ctx->filename, ctx->line);
        ctx->error = assignment_error(where, key, value, reason, hint);
        ctx->error_line = ctx->line;
        return 0;
}

int machine_config_parse_text(MachineConfig *c, const char *text, size_t len, const char *filename,
                              ConfigSource source, bool mark, char **ret_error) {
        _cleanup_(machine_config_done) MachineConfig copy = {};
        int r;

        if (!filename)
                filename = "(config)";

        r = config_check_text(filename, text, len, ret_error);
        if (r < 0)
                return r;

        machine_config_copy(&copy, c);

        ParseContext ctx = {
                .filename = filename,
                .source = source,
                .mark = mark,
                .text = text,
                .len = len,
                .config = &copy,
                .protected_mask = c->set_mask,
        };

        /* ini_parse_stream() with our own reader rather than
         * ini_parse_string(): inih's string reader splits lines at its buffer
         * size (shifting every later line number), and the handler is not told
         * its line number; feeding whole lines one by one fixes both. */
        r = ini_parse_stream(config_reader, &ctx, config_handler, &ctx);
        _cleanup_free_ char *error = TAKE_PTR(ctx.error);

        if (r < 0)
                return errorf(ret_error, -ENOMEM, "%s: %m", filename);
        if (ctx.overflow)
                return errorf(ret_error, -EINVAL,
                              "%s:%u: line is longer than the INI parser can handle; shorten it",
                              filename, ctx.line + 1);
        if (r > 0 && (!error || (unsigned) r < ctx.error_line))
                /* inih's own complaint: a line that is no section header,
                 * comment or assignment, or a '[' without ']'. */
                return errorf(ret_error, -EINVAL, "%s:%d: syntax error: expected 'Key=Value' or '[Section]'",
                              filename, r);
        if (error)
                return return_error(ret_error, TAKE_PTR(error), -EINVAL);

        machine_config_replace(c, &copy);
        if (ret_error)
                *ret_error = NULL;
        return 0;
}

int machine_config_parse_file(MachineConfig *c, const char *path, ConfigSource source, bool mark,
                              bool missing_ok, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;

        /* O_NONBLOCK so that a FIFO put in place of the file cannot hang us
         * before fstat() tells us what it is. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT && missing_ok) {
                        if (ret_error)
                                *ret_error = NULL;
                        return 0;
                }
                return errorf(ret_error, -errno, "%s: cannot open: %m", path);
        }

        if (fstat(fd, &st) < 0)
                return errorf(ret_error, -errno, "%s: cannot stat: %m", path);
        if (S_ISDIR(st.st_mode))
                return errorf(ret_error, -EISDIR, "%s: is a directory, not a file", path);
        if (!S_ISREG(st.st_mode))
                return errorf(ret_error, -EBADFD, "%s: not a regular file", path);
        if (st.st_size > CONFIG_FILE_MAX)
                return errorf(ret_error, -EFBIG, "%s: file is %jd bytes, more than the limit of %d bytes",
                              path, (intmax_t) st.st_size, CONFIG_FILE_MAX);

        /* Read one byte past the limit, as the file may have grown since fstat(). */
        buf = xmalloc(CONFIG_FILE_MAX + 2);
        for (;;) {
                ssize_t k = read(fd, buf + n, CONFIG_FILE_MAX + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return errorf(ret_error, -errno, "%s: cannot read: %m", path);
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > CONFIG_FILE_MAX)
                        return errorf(ret_error, -EFBIG, "%s: file is more than the limit of %d bytes", path,
                                      CONFIG_FILE_MAX);
        }
        buf[n] = 0;

        return machine_config_parse_text(c, buf, n, path, source, mark, ret_error);
}

/* ----- Command line ----- */

/* The table entry NAME ("Key" or "Section.Key") names, or NULL with
 * *RET_REASON and *RET_HINT (malloc'ed, or NULL) saying why not. */
static const ConfigTableEntry *key_lookup(const char *name, char **ret_reason, char **ret_hint) {
        const ConfigTableEntry *e = NULL;
        const char *dot = strchr(name, '.');
        *ret_reason = *ret_hint = NULL;
        if (dot) {
                _cleanup_free_ char *section = strndup(name, (size_t) (dot - name));
                if (!section)
                        abort();
                const char *key = dot + 1;
                e = table_lookup(section, key);
                if (!e) {
                        if (!section_is_known(section)) {
                                _cleanup_free_ char *sec = echo_escape(section, ECHO_KEY_MAX);
                                _cleanup_free_ char *known = list_sections();
                                *ret_reason = xasprintf("unknown section [%s]", sec);
                                *ret_hint = xasprintf("known sections are %s", known);
                        } else
                                *ret_reason = explain_unknown_key(section, key, true, ret_hint);
                }
                return e;
        }
        /* A bare key is only taken when it names one key in one section. */
        size_t matches = 0;
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++)
                if (streq(config_table[i].key, name)) {
                        e = config_table + i;
                        matches++;
                }
        if (matches == 0) {
                _cleanup_free_ char *keys = list_keys(NULL);
                *ret_reason = xstrdup("unknown key");
                *ret_hint = xasprintf("known keys are %s", keys);
        } else if (matches > 1) {
                e = NULL;
                *ret_reason = xstrdup("ambiguous, the key exists in more than one section");
                *ret_hint = xstrdup("write it as Section.Key=Value");
        }
        return e;
}

static const char *global_only_hint(const ConfigTableEntry *e) {
        return e->id == CONFIG_IMPORT_DEFAULT_REGISTRY
                       ? "write the registry into the image reference, or set it in berth.conf"
                       : "give --max-size to berth import or create, or set it in berth.conf";
}

int machine_config_assign(MachineConfig *c, const char *assignment, const char *where, char **ret_error) {
        _cleanup_(machine_config_done) MachineConfig copy = {};
        _cleanup_free_ char *name = NULL, *reason_buf = NULL, *hint_buf = NULL;
        const char *reason = NULL, *hint = NULL, *value;

        const char *eq = strchr(assignment, '=');
        if (!eq) {
                _cleanup_free_ char *a = echo_escape(assignment, ECHO_VALUE_MAX);
                return errorf(ret_error, -EINVAL, "%s%s%s: expected Key=Value or Section.Key=Value", where,
                              *where ? " " : "", a);
        }
        name = strndup(assignment, (size_t) (eq - assignment));
        if (!name)
                abort();
        value = eq + 1;

        const ConfigTableEntry *e = key_lookup(name, &reason_buf, &hint_buf);
        reason = reason_buf;
        hint = hint_buf;
        if (e && e->global_only) {
                reason = "not a machine setting";
                hint = global_only_hint(e);
        } else if (e) {
                machine_config_copy(&copy, c);
                /* The command line is the highest layer and always applies;
                 * when a key is given twice, the last one wins. */
                if (config_assign(e, &copy, true, value, &reason) >= 0) {
                        copy.set_mask |= CONFIG_KEY_BIT(e->id);
                        machine_config_replace(c, &copy);
                        if (ret_error)
                                *ret_error = NULL;
                        return 0;
                }
                hint = e->hint;
        }

        return return_error(ret_error, assignment_error(where, name, value, reason, hint), -EINVAL);
}

int machine_config_set_from_cli(MachineConfig *c, const char *assignment, char **ret_error) {
        return machine_config_assign(c, assignment, "--set", ret_error);
}

int machine_config_key_from_name(const char *name, const char *where, ConfigKey *ret, char **ret_error) {
        _cleanup_free_ char *reason = NULL, *hint = NULL;
        const ConfigTableEntry *e = key_lookup(name, &reason, &hint);
        _cleanup_free_ char *shown = echo_escape(name, ECHO_KEY_MAX);
        if (e && e->global_only)
                return errorf(ret_error, -EINVAL, "%s%s%s: not a machine setting; %s", where, *where ? " " : "",
                              shown, global_only_hint(e));
        if (!e)
                return errorf(ret_error, -EINVAL, "%s%s%s: %s%s%s", where, *where ? " " : "", shown, reason,
                              hint ? "; " : "", hint ?: "");
        *ret = e->id;
        return 0;
}

char *machine_config_format_key(const MachineConfig *c, ConfigKey k) {
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++) {
                const ConfigTableEntry *e = config_table + i;
                if (e->id != k)
                        continue;
                if (!e->format_list)
                        return e->format(c);
                _cleanup_strv_free_ char **values = e->format_list(c);
                char *s = NULL;
                for (char **v = values; v && *v; v++)
                        strextendf(&s, "%s%s", s ? " " : "", *v);
                return s;
        }
        return NULL;
}

/* ----- Formatting ----- */

char *machine_config_format(const MachineConfig *c, uint64_t mask) {
        const char *section = NULL;
        char *s = xstrdup("");

        for (size_t i = 0; i < ELEMENTSOF(config_table); i++) {
                const ConfigTableEntry *e = config_table + i;

                if (!(mask & CONFIG_KEY_BIT(e->id)) || e->global_only)
                        continue;

                _cleanup_strv_free_ char **values = NULL;
                if (e->format_list)
                        values = e->format_list(c);
                else {
                        char *v = e->format(c);
                        if (v)
                                values = strv_append(NULL, v);
                        free(v);
                }
                /* A repeatable key set to nothing is an explicit "KEY=": it clears
                 * the list of a lower layer (berth.conf's), and must stay set. */
                if (!values && e->empty_clears && (c->set_mask & CONFIG_KEY_BIT(e->id)))
                        values = strv_append(NULL, "");
                if (!values)
                        continue;

                if (!streq_ptr(section, e->section)) {
                        strextendf(&s, "%s[%s]\n", section ? "\n" : "", e->section);
                        section = e->section;
                }
                for (char **v = values; *v; v++)
                        strextendf(&s, "%s=%s\n", e->key, *v);
        }

        return s;
}

const char *machine_config_network_name(const MachineConfig *c) {
        switch (c->network_mode) {
        case NETWORK_MODE_BRIDGE:
                return c->bridge;
        case NETWORK_MODE_CNI:
                return c->cni_network;
        case NETWORK_MODE_MACVLAN:
        case NETWORK_MODE_IPVLAN:
                return c->link;
        default:
                return NULL;
        }
}

int machine_config_network_option(const char *arg, char ***set, char **ret_error) {
        const char *cni = startswith(arg, "cni:");
        if (cni) {
                if (!cni_network_name_is_valid(cni)) {
                        _cleanup_free_ char *shown = echo_escape(cni, ECHO_VALUE_MAX);
                        return errorf(ret_error, -EINVAL,
                                      "--network cni:%s: not a valid CNI network name (up to 128 letters, digits, '.', "
                                      "'_', '-')",
                                      shown);
                }
                _cleanup_free_ char *a = xasprintf("Network.CNINetwork=%s", cni);
                *set = strv_append(*set, "Network.Mode=cni");
                *set = strv_append(*set, a);
                return 0;
        }
        NetworkMode m = network_mode_from_string(arg);
        if (m < 0 || m == NETWORK_MODE_CNI) {
                _cleanup_free_ char *shown = echo_escape(arg, ECHO_VALUE_MAX);
                return errorf(ret_error, -EINVAL,
                              "--network %s: expected bridge, none, host, macvlan, ipvlan or cni:NAME (a CNI network)",
                              shown);
        }
        _cleanup_free_ char *a = xasprintf("Network.Mode=%s", network_mode_to_string(m));
        *set = strv_append(*set, a);
        return 0;
}
