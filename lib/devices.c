/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devices.h"
#include "fs.h"
#include "util.h"

static const DeviceRule rules[] = {
        { 'c', 1, 3, "/dev/null", "null", DEVICE_ACCESS_ALL },
        { 'c', 1, 5, "/dev/zero", "zero", DEVICE_ACCESS_ALL },
        { 'c', 1, 7, "/dev/full", "full", DEVICE_ACCESS_ALL },
        { 'c', 1, 8, "/dev/random", "random", DEVICE_ACCESS_ALL },
        { 'c', 1, 9, "/dev/urandom", "urandom", DEVICE_ACCESS_ALL },
        { 'c', 5, 0, "/dev/tty", "tty", DEVICE_ACCESS_ALL },
        /* Both act only on namespaces and mounts the machine's root owns: a
         * tun device lives in the machine's network namespace, a FUSE mount in
         * its mount namespace (nspawn gives tun too). */
        { 'c', 10, 200, "/dev/net/tun", "net/tun", DEVICE_ACCESS_ALL },
        { 'c', 10, 229, "/dev/fuse", "fuse", DEVICE_ACCESS_ALL },
        { 'c', 5, 2, "/dev/ptmx", NULL, DEVICE_ACCESS_ALL }, /* a symlink to pts/ptmx */
        { 'c', 136, DEVICE_MINOR_ANY, "char-pts", NULL, DEVICE_ACCESS_ALL }, /* the machine's devpts and its console (a pty) */
};

const DeviceRule *device_rules(size_t *ret_n) {
        *ret_n = ELEMENTSOF(rules);
        return rules;
}

bool device_is_allowed(char type, unsigned major, unsigned minor) {
        for (size_t i = 0; i < ELEMENTSOF(rules); i++)
                if (rules[i].type == type && rules[i].major == major &&
                    (rules[i].minor == DEVICE_MINOR_ANY || (unsigned) rules[i].minor == minor))
                        return true;
        return false;
}

const char *device_access_format(unsigned access, char *buf) {
        char *p = buf;
        if (access & DEVICE_ACCESS_READ)
                *p++ = 'r';
        if (access & DEVICE_ACCESS_WRITE)
                *p++ = 'w';
        if (access & DEVICE_ACCESS_MKNOD)
                *p++ = 'm';
        *p = 0;
        return buf;
}

char *device_rule_v1(const DeviceRule *rule) {
        char acc[4];
        device_access_format(rule->access, acc);
        if (rule->minor == DEVICE_MINOR_ANY)
                return xasprintf("%c %u:* %s", rule->type, rule->major, acc);
        return xasprintf("%c %u:%d %s", rule->type, rule->major, rule->minor, acc);
}

/* The safe list (devices.h).  A PREFIX entry names a family: the rest of
 * the name is one path component (DIGITS: a number).  MAJOR/MINOR are what
 * the host node must be for the name to count as safe at start. */
static const struct SafeDevice {
        const char *name;
        bool prefix, digits;
        unsigned major;
        int minor;
} safe_devices[] = {
        { "/dev/kvm", false, false, 10, 232 },
        { "/dev/net/tun", false, false, 10, 200 },
        { "/dev/fuse", false, false, 10, 229 },
        { "/dev/vhost-net", false, false, 10, 238 },
        { "/dev/dri/", true, false, 226, DEVICE_MINOR_ANY },
        { "/dev/snd/", true, false, 116, DEVICE_MINOR_ANY },
        { "/dev/ttyUSB", true, true, 188, DEVICE_MINOR_ANY },
        { "/dev/ttyACM", true, true, 166, DEVICE_MINOR_ANY },
        { "char-drm", false, false, 226, DEVICE_MINOR_ANY },
        { "char-alsa", false, false, 116, DEVICE_MINOR_ANY },
        { "char-ttyUSB", false, false, 188, DEVICE_MINOR_ANY },
        { "char-ttyACM", false, false, 166, DEVICE_MINOR_ANY },
};

static const struct SafeDevice *safe_lookup(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(safe_devices); i++) {
                const struct SafeDevice *d = &safe_devices[i];
                if (!d->prefix) {
                        if (streq(name, d->name))
                                return d;
                        continue;
                }
                const char *rest = startswith(name, d->name);
                if (!rest || !*rest || strchr(rest, '/'))
                        continue;
                if (d->digits && strspn(rest, "0123456789") != strlen(rest))
                        continue;
                return d;
        }
        return NULL;
}

bool device_name_is_safe(const char *name) {
        return safe_lookup(name) != NULL;
}

/* The nodes and mounts berth itself makes in every machine's /dev: an
 * Allow= path may not be one of them or below them. */
static const char *const reserved_dev[] = {
        "pts", "shm", "console", "ptmx", "fd", "stdin", "stdout", "stderr",
        "null", "zero", "full", "random", "urandom", "tty",
};

static int fail(const char **ret_reason, const char *reason) {
        *ret_reason = reason;
        return -EINVAL;
}

static int check_name(const char *name, const char **ret_reason) {
        const char *rest = startswith(name, "char-") ?: startswith(name, "block-");
        if (rest) {
                if (!*rest || strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-") !=
                                      strlen(rest))
                        return fail(ret_reason, "is not a device class like char-drm (letters, digits, _.+- after char- or block-)");
                return 0;
        }
        rest = startswith(name, "/dev/");
        if (!rest || !*rest)
                return fail(ret_reason, "does not name a device: give a path below /dev/ or a class like char-drm");
        if (strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-@/") != strlen(rest))
                return fail(ret_reason, "has a character not allowed in a device path (letters, digits, _.+-@/ only)");
        for (const char *c = rest; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
                size_t l = strcspn(c, "/");
                if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
                        return fail(ret_reason, "is not a plain path (empty, '.' or '..' component)");
        }
        size_t first = strcspn(rest, "/");
        for (size_t i = 0; i < ELEMENTSOF(reserved_dev); i++)
                if (strlen(reserved_dev[i]) == first && strncmp(rest, reserved_dev[i], first) == 0)
                        return fail(ret_reason, "is a node or mount berth makes in every machine's /dev itself");
        return 0;
}

int device_allow_parse(const char *value, DeviceAllow *ret, const char **ret_reason) {
        _cleanup_free_ char *copy = xstrdup(value);
        char *save = NULL, *name = strtok_r(copy, " \t", &save);
        if (!name)
                return fail(ret_reason, "names no device");
        int r = check_name(name, ret_reason);
        if (r < 0)
                return r;
        unsigned access = 0;
        bool privileged = false;
        for (char *w; (w = strtok_r(NULL, " \t", &save));) {
                if (streq(w, "privileged")) {
                        if (privileged)
                                return fail(ret_reason, "says 'privileged' twice");
                        privileged = true;
                        continue;
                }
                if (access)
                        return fail(ret_reason, "has more than one access word");
                for (const char *c = w; *c; c++) {
                        unsigned bit = *c == 'r' ? DEVICE_ACCESS_READ : *c == 'w' ? DEVICE_ACCESS_WRITE :
                                       *c == 'm' ? DEVICE_ACCESS_MKNOD : 0;
                        if (!bit)
                                return fail(ret_reason, "has a word that is neither an access (r, w, m) nor 'privileged'");
                        if (access & bit)
                                return fail(ret_reason, "repeats a letter of its access");
                        access |= bit;
                }
        }
        if (!privileged && !device_name_is_safe(name))
                return fail(ret_reason, "is a privileged device: it is not in the safe list (kvm, net/tun, fuse, "
                                        "vhost-net, dri/*, snd/*, ttyUSB*, ttyACM*, char-drm, char-alsa, "
                                        "char-ttyUSB, char-ttyACM) and may give the machine's root the host's disks "
                                        "or memory; add the word 'privileged' to the line to acknowledge that");
        *ret = (DeviceAllow) {
                .name = xstrdup(name),
                .access = access ?: DEVICE_ACCESS_ALL,
                .privileged = privileged,
        };
        return 0;
}

char *device_allow_from_option(const char *option) {
        char *s = xstrdup(option);
        for (char *p = s; *p; p++)
                if (*p == ':')
                        *p = ' ';
        return s;
}

char *device_allow_format(const DeviceAllow *a) {
        char acc[4];
        return xasprintf("%s %s%s", a->name, device_access_format(a->access, acc), a->privileged ? " privileged" : "");
}

static void list_append(DeviceList *l, DeviceRule rule) {
        DeviceRule *n = realloc(l->rules, (l->n + 1) * sizeof *l->rules);
        if (!n)
                abort();
        l->rules = n;
        l->rules[l->n++] = rule;
}

static bool list_has_node(const DeviceList *l, const char *node) {
        for (size_t i = 0; i < l->n; i++)
                if (l->rules[i].node && streq(l->rules[i].node, node))
                        return true;
        return false;
}

/* Whether the class rules RULES[FIRST..N) cover TYPE MAJOR. */
static bool class_has(const DeviceList *l, size_t first, char type, unsigned major) {
        for (size_t i = first; i < l->n; i++)
                if (l->rules[i].type == type && l->rules[i].major == major && !l->rules[i].node)
                        return true;
        return false;
}

/* The host's nodes of a class, in /dev and up to two directories below
 * (/dev/dri/card0, /dev/snd/pcmC0D0p, /dev/bus/usb/001/002 is three),
 * without following symlinks: each gets a rule with its name, so that it is
 * bound into the machine's /dev as a named node is. */
static void scan_class_nodes(const DeviceAllow *a, DeviceList *l, size_t first, const char *rel, unsigned depth,
                             size_t *count) {
        _cleanup_free_ char *path = xasprintf("/dev%s%s", *rel ? "/" : "", rel);
        _cleanup_(closedirp) DIR *d = opendir(path);
        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d)) && *count < DEVICE_CLASS_NODES_MAX;) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *node = xasprintf("%s%s%s", rel, *rel ? "/" : "", de->d_name);
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        /* Not the pty and shm filesystems berth mounts itself. */
                        if (depth < 3 && !streq(node, "pts") && !streq(node, "shm"))
                                scan_class_nodes(a, l, first, node, depth + 1, count);
                        continue;
                }
                char type = S_ISCHR(st.st_mode) ? 'c' : S_ISBLK(st.st_mode) ? 'b' : 0;
                if (!type || !class_has(l, first, type, major(st.st_rdev)))
                        continue;
                _cleanup_free_ char *full = xasprintf("/dev/%s", node);
                if (device_is_builtin_node(full) || list_has_node(l, node))
                        continue;
                l->nodes = strv_append(l->nodes, node);
                list_append(l, (DeviceRule) { type, major(st.st_rdev), (int) minor(st.st_rdev), a->name,
                                              l->nodes[strv_length(l->nodes) - 1], a->access });
                (*count)++;
        }
}

static void add_class_nodes(const DeviceAllow *a, DeviceList *l, size_t first) {
        size_t count = 0;
        scan_class_nodes(a, l, first, "", 1, &count);
}

/* Add every major /proc/devices lists for CLASS ("char-NAME", "block-NAME"). */
static int resolve_class(const DeviceAllow *a, DeviceList *l, char **ret_error) {
        bool block = startswith(a->name, "block-") != NULL;
        const char *want = a->name + (block ? strlen("block-") : strlen("char-"));
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(AT_FDCWD, "/proc/devices", 1 << 16, &text, NULL);
        if (r < 0) {
                *ret_error = xasprintf("[Devices] Allow=%s: cannot read /proc/devices: %s", a->name, strerror(-r));
                return r;
        }
        bool in_section = false, found = false;
        size_t first = l->n;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (streq(line, "Character devices:") || streq(line, "Block devices:")) {
                        in_section = streq(line, block ? "Block devices:" : "Character devices:");
                        continue;
                }
                unsigned major;
                char dev[64];
                if (!in_section || sscanf(line, "%u %63s", &major, dev) != 2 || !streq(dev, want))
                        continue;
                list_append(l, (DeviceRule) { block ? 'b' : 'c', major, DEVICE_MINOR_ANY, a->name, NULL, a->access });
                found = true;
        }
        if (found)
                add_class_nodes(a, l, first);
        if (!found) {
                *ret_error = xasprintf("[Devices] Allow=%s: /proc/devices has no %s device class '%s'; is its driver "
                                       "loaded? (see /proc/devices for the names)",
                                       a->name, block ? "block" : "character", want);
                return -ENODEV;
        }
        return 0;
}

bool device_is_builtin_node(const char *path) {
        const char *node = startswith(path, "/dev/");
        for (size_t i = 0; node && i < ELEMENTSOF(rules); i++)
                if (rules[i].node && streq(node, rules[i].node))
                        return true;
        return false;
}

static int resolve_node(const DeviceAllow *a, DeviceList *l, char **ret_error) {
        if (device_is_builtin_node(a->name))
                return 0;
        struct stat st;
        if (lstat(a->name, &st) < 0) {
                int r = -errno;
                *ret_error = xasprintf("[Devices] Allow=%s: %s on the host: %s%s", a->name,
                                       r == -ENOENT ? "no such device" : "cannot look up the node", strerror(-r),
                                       r == -ENOENT ? "; plug it in or load its driver, or remove the line" : "");
                return r;
        }
        if (S_ISLNK(st.st_mode)) {
                *ret_error = xasprintf("[Devices] Allow=%s: is a symlink on the host; name the node itself "
                                       "(readlink -f %s)", a->name, a->name);
                return -ELOOP;
        }
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
                *ret_error = xasprintf("[Devices] Allow=%s: is not a device node on the host", a->name);
                return -ENODEV;
        }
        const struct SafeDevice *safe = safe_lookup(a->name);
        if (!a->privileged && (!safe || !S_ISCHR(st.st_mode) || major(st.st_rdev) != safe->major ||
                               (safe->minor != DEVICE_MINOR_ANY && minor(st.st_rdev) != (unsigned) safe->minor))) {
                *ret_error = xasprintf("[Devices] Allow=%s: the host's node is %s %u:%u, not the device its name "
                                       "stands for in the safe list; add 'privileged' to the line if you mean it",
                                       a->name, S_ISCHR(st.st_mode) ? "character device" : "block device",
                                       major(st.st_rdev), minor(st.st_rdev));
                return -EPERM;
        }
        list_append(l, (DeviceRule) { S_ISCHR(st.st_mode) ? 'c' : 'b', major(st.st_rdev), (int) minor(st.st_rdev),
                                          a->name, a->name + strlen("/dev/"), a->access });
        return 0;
}

int device_list_build(const DeviceAllow *allow, size_t n_allow, DeviceList *ret, char **ret_error) {
        DeviceList l = { .rules = xcalloc(ELEMENTSOF(rules), sizeof *l.rules), .n = ELEMENTSOF(rules) };
        memcpy(l.rules, rules, sizeof rules);
        for (size_t i = 0; i < n_allow; i++) {
                int r = startswith(allow[i].name, "/dev/") ? resolve_node(&allow[i], &l, ret_error)
                                                           : resolve_class(&allow[i], &l, ret_error);
                if (r < 0) {
                        device_list_done(&l);
                        return r;
                }
        }
        *ret = l;
        return 0;
}

void device_list_done(DeviceList *l) {
        free(l->rules);
        strv_free(l->nodes);
        *l = (DeviceList) {};
}

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
        return (struct bpf_insn) { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

/* The program sees struct bpf_cgroup_dev_ctx: access_type (the device type
 * in the low 16 bits, the access in the high ones), major, minor.  It
 * returns 1 (allow) at the first rule that matches type, major, minor and
 * access, else 0.  At most 6 + 8 instructions per rule + 2. */
#define PROGRAM_MAX(n) (6 + (n) * 8 + 2)

static size_t build_program(const DeviceList *list, struct bpf_insn *p) {
        size_t n = 0;
        p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
        p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
        p[n++] = insn(BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
        p[n++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xFFFF);
        p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
        p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
        for (size_t i = 0; i < list->n; i++) {
                const DeviceRule *d = &list->rules[i];
                bool any_minor = d->minor == DEVICE_MINOR_ANY, all_access = d->access == DEVICE_ACCESS_ALL;
                /* Each failed check jumps past the rest of the rule: its length
                 * less the jump's own position and the jump itself. */
                int len = 2 + !any_minor + (all_access ? 0 : 3) + 2, pos = 0;
                p[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, (int16_t) (len - pos - 1),
                              d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
                pos++;
                p[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, (int16_t) (len - pos - 1), (int32_t) d->major);
                pos++;
                if (!any_minor) {
                        p[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, (int16_t) (len - pos - 1), d->minor);
                        pos++;
                }
                if (!all_access) {
                        /* Any access bit the rule does not grant: no match. */
                        p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_3, 0, 0);
                        p[n++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_0, 0, 0, (int32_t) (~d->access & DEVICE_ACCESS_ALL));
                        pos += 2;
                        p[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, (int16_t) (len - pos - 1), 0);
                        pos++;
                }
                p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
                p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        }
        p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
        p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        return n;
}

int device_bpf_attach(int cgroup_fd, const DeviceList *list) {
        _cleanup_free_ struct bpf_insn *prog = xcalloc(PROGRAM_MAX(list->n), sizeof *prog);
        size_t n = build_program(list, prog);

        union bpf_attr load = {
                .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
                .insns = (uint64_t) (uintptr_t) prog,
                .insn_cnt = (uint32_t) n,
                .license = (uint64_t) (uintptr_t) "GPL",
        };
        _cleanup_close_ int fd = (int) syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
        if (fd < 0)
                return -errno;
        /* The kernel's own fds from bpf() have close-on-exec set. */
        union bpf_attr attach = {
                .target_fd = (uint32_t) cgroup_fd,
                .attach_bpf_fd = (uint32_t) fd,
                .attach_type = BPF_CGROUP_DEVICE,
                .attach_flags = BPF_F_ALLOW_MULTI,
        };
        return RET_NERRNO(syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach));
}
