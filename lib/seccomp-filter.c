/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <seccomp.h>
#include <sys/ioctl.h>

#include "seccomp-filter.h"
#include "util.h"

/* Each with why a machine's root must not have it. */
const char *const syscall_filter_denied[] = {
        "init_module", "finit_module", "delete_module", /* kernel code */
        "kexec_load", "kexec_file_load",                /* replace the host kernel */
        "open_by_handle_at",                            /* reach files outside the rootfs ("shocker") */
        "add_key", "request_key", "keyctl",             /* kernel keyrings are not namespaced */
        "swapon", "swapoff",                            /* host memory management */
        "clock_settime", "clock_adjtime", "settimeofday", "adjtimex", "stime", /* host clock */
        "acct",                                         /* host process accounting */
        "bpf", "perf_event_open",                       /* kernel-wide programs and tracing */
        "lookup_dcookie", "quotactl", "nfsservctl", "uselib", "_sysctl",
        "iopl", "ioperm",                               /* raw port I/O */
        "syslog",                                       /* host kernel log */
        "io_uring_setup", "io_uring_enter", "io_uring_register", /* bypasses this filter's view */
        "userfaultfd",                                  /* widens kernel race windows */
        "fanotify_init",                                /* watch host filesystems */
        "vm86", "vm86old",
};
const size_t syscall_filter_denied_count = ELEMENTSOF(syscall_filter_denied);

static void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

int syscall_filter_install(void) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;

        /* 32-bit entry points reach the same kernel: filter them too. */
        static const uint32_t extra_arches[] = { SCMP_ARCH_X86, SCMP_ARCH_X32 };
        if (seccomp_arch_native() == SCMP_ARCH_X86_64)
                for (size_t i = 0; i < ELEMENTSOF(extra_arches); i++) {
                        int r = seccomp_arch_add(ctx, extra_arches[i]);
                        if (r < 0 && r != -EEXIST)
                                return r;
                }

        int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(syscall_filter_denied); i++) {
                int nr = seccomp_syscall_resolve_name(syscall_filter_denied[i]);
                /* Not a call on this architecture: libseccomp answers __NR_SCMP_ERROR or,
                 * for calls other architectures have, a negative pseudo number. */
                if (nr < 0)
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
                if (r < 0 && r != -EEXIST)
                        return r;
        }

        /* TIOCSTI pushes bytes into a terminal's input queue, TIOCLINUX can
         * paste the console selection: either lets a guest type into a
         * terminal it shares.  Compare the low 32 bits only, so that a request
         * number with junk in the upper half cannot slip past. */
        static const unsigned long bad_ioctls[] = { TIOCSTI, TIOCLINUX };
        for (size_t i = 0; i < ELEMENTSOF(bad_ioctls); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, bad_ioctls[i]));
                if (r < 0)
                        return r;
        }

        return seccomp_load(ctx);
}
