/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/capability.h>
#include <sys/prctl.h>

#include <fcntl.h>

#include "caps.h"
#include "fs.h"
#include "util.h"

/* Kept: each is needed by a normal distro init or its services, and within
 * the machine's namespaces acts on the machine only. Dropped, with the
 * reason: SYS_MODULE (kernel modules), SYS_RAWIO (ioperm/iopl, raw devices),
 * SYS_TIME (host clock), SYS_PACCT (host accounting file), MAC_ADMIN and
 * MAC_OVERRIDE (host LSM policy), SYSLOG (host kernel log), WAKE_ALARM and
 * BLOCK_SUSPEND (host power), BPF and PERFMON (kernel-wide programs and
 * tracing), AUDIT_READ (host audit stream), CHECKPOINT_RESTORE, IPC_LOCK
 * (unbounded locked memory), SYS_TTY_CONFIG is kept for vhangup on the
 * console. */
static const int keep_caps[] = {
        CAP_AUDIT_CONTROL, CAP_AUDIT_WRITE, CAP_CHOWN,        CAP_DAC_OVERRIDE,     CAP_DAC_READ_SEARCH,
        CAP_FOWNER,        CAP_FSETID,      CAP_IPC_OWNER,    CAP_KILL,             CAP_LEASE,
        CAP_LINUX_IMMUTABLE, CAP_MKNOD,     CAP_NET_BIND_SERVICE, CAP_NET_BROADCAST, CAP_NET_RAW,
        CAP_SETFCAP,       CAP_SETGID,      CAP_SETPCAP,      CAP_SETUID,           CAP_SYS_ADMIN,
        CAP_SYS_BOOT,      CAP_SYS_CHROOT,  CAP_SYS_NICE,     CAP_SYS_PTRACE,       CAP_SYS_RESOURCE,
        CAP_SYS_TTY_CONFIG,
};

uint64_t caps_default_bounding(int own_netns) {
        uint64_t m = 0;
        for (size_t i = 0; i < ELEMENTSOF(keep_caps); i++)
                m |= UINT64_C(1) << keep_caps[i];
        if (own_netns)
                m |= UINT64_C(1) << CAP_NET_ADMIN;
        return m;
}

int caps_apply_bounding(uint64_t keep) {
        /* cap_max_bits() is what the running kernel knows, not what libcap was built with. */
        unsigned last = cap_max_bits();
        for (unsigned c = 0; c < last && c < 64; c++) {
                if (keep & (UINT64_C(1) << c))
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return -errno;
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;

        cap_t caps = cap_get_proc();
        if (!caps)
                return -errno;
        int r = 0;
        if (cap_clear_flag(caps, CAP_INHERITABLE) < 0 || cap_set_proc(caps) < 0)
                r = -errno;
        cap_free(caps);
        return r;
}

int caps_read_bounding(pid_t pid, uint64_t *ret) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(AT_FDCWD, path, 1 << 16, &text, NULL);
        if (r < 0)
                return r;
        const char *p = strstr(text, "\nCapBnd:");
        if (!p)
                return -EBADMSG;
        unsigned long long v;
        if (sscanf(p + 8, "%llx", &v) != 1)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int caps_limit(uint64_t keep) {
        int r = caps_apply_bounding(keep);
        if (r < 0)
                return r;
        cap_t caps = cap_init();
        if (!caps)
                return -errno;
        for (unsigned c = 0; c < 64 && c < (unsigned) cap_max_bits(); c++) {
                if (!(keep & (UINT64_C(1) << c)))
                        continue;
                cap_value_t v = (cap_value_t) c;
                if (cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET) < 0 ||
                    cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET) < 0) {
                        r = -errno;
                        break;
                }
        }
        if (r >= 0 && cap_set_proc(caps) < 0)
                r = -errno;
        cap_free(caps);
        return r;
}
