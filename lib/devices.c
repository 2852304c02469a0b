/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <linux/bpf.h>
#include <sys/syscall.h>

#include "devices.h"
#include "util.h"

static const DeviceRule rules[] = {
        { 'c', 1, 3, "/dev/null", "null" },
        { 'c', 1, 5, "/dev/zero", "zero" },
        { 'c', 1, 7, "/dev/full", "full" },
        { 'c', 1, 8, "/dev/random", "random" },
        { 'c', 1, 9, "/dev/urandom", "urandom" },
        { 'c', 5, 0, "/dev/tty", "tty" },
        /* Both act only on namespaces and mounts the machine's root owns: a
         * tun device lives in the machine's network namespace, a FUSE mount in
         * its mount namespace (nspawn gives tun too). */
        { 'c', 10, 200, "/dev/net/tun", "net/tun" },
        { 'c', 10, 229, "/dev/fuse", "fuse" },
        { 'c', 5, 2, "/dev/ptmx", NULL }, /* a symlink to pts/ptmx */
        { 'c', 136, DEVICE_MINOR_ANY, "char-pts", NULL }, /* the machine's devpts and its console (a pty) */
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

char *device_rule_v1(const DeviceRule *rule) {
        if (rule->minor == DEVICE_MINOR_ANY)
                return xasprintf("%c %u:* rwm", rule->type, rule->major);
        return xasprintf("%c %u:%d rwm", rule->type, rule->major, rule->minor);
}

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
        return (struct bpf_insn) { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

/* The program sees struct bpf_cgroup_dev_ctx: access_type (the device type
 * in the low 16 bits, the access in the high ones), major, minor.  It
 * returns 1 (allow) at the first rule that matches type, major and minor,
 * else 0.  Every rule allows every access, so the access bits are not
 * looked at.  At most 3 + 5 instructions per rule + 2. */
static size_t build_program(struct bpf_insn *p) {
        size_t n = 0;
        p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
        p[n++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xFFFF);
        p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
        p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
        for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
                const DeviceRule *d = &rules[i];
                int checks = d->minor == DEVICE_MINOR_ANY ? 2 : 3;
                /* Each failed check jumps past the remaining checks and the "allow". */
                int skip = checks - 1 + 2;
                p[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, (int16_t) skip--,
                              d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
                p[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, (int16_t) skip--, (int32_t) d->major);
                if (d->minor != DEVICE_MINOR_ANY)
                        p[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, (int16_t) skip--, d->minor);
                p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
                p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        }
        p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
        p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        return n;
}

int device_bpf_attach(int cgroup_fd) {
        struct bpf_insn prog[4 + ELEMENTSOF(rules) * 5 + 2];
        size_t n = build_program(prog);

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
