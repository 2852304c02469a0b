/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fs.h"
#include "mount-tree.h"
#include "oci.h"
#include "util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *env_get(char *const *env, const char *name) {
        size_t n = strlen(name);
        for (size_t i = 0; env && env[i]; i++)
                if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
                        return env[i] + n + 1;
        return NULL;
}

static bool is_executable(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

int process_find_program(const OciProcess *p, char **ret_path) {
        const char *prog = p->args[0];
        if (strchr(prog, '/')) {
                if (!is_executable(prog))
                        return -ENOENT;
                *ret_path = xstrdup(prog);
                return 0;
        }
        const char *path = env_get(p->env, "PATH") ?: DEFAULT_PATH;
        for (const char *s = path; *s;) {
                const char *e = strchrnul(s, ':');
                _cleanup_free_ char *cand = xasprintf("%.*s%s%s", (int) (e - s), s, e == s ? "" : "/", prog);
                if (is_executable(cand)) {
                        *ret_path = TAKE_PTR(cand);
                        return 0;
                }
                s = *e ? e + 1 : e;
        }
        return -ENOENT;
}

int process_set_oom_score(pid_t pid, const OciProcess *p) {
        if (!p->has_oom_score_adj)
                return 0;
        char buf[16], path[64];
        snprintf(buf, sizeof buf, "%d", p->oom_score_adj);
        snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int) pid);
        return write_string_at(AT_FDCWD, path, buf);
}

static int seccomp_install(const OciSeccomp *sc, char *err, size_t errlen) {
        scmp_filter_ctx ctx = seccomp_init(sc->default_action);
        if (!ctx)
                return errbuf_printf(err, errlen, ENOMEM, "Failed to set up the seccomp filter.");
        int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        for (size_t i = 0; r >= 0 && i < sc->n_arches; i++) {
                r = seccomp_arch_add(ctx, sc->arches[i]);
                if (r == -EEXIST)
                        r = 0;
        }
        for (size_t i = 0; r >= 0 && i < sc->n_rules; i++) {
                const OciSeccompRule *rule = &sc->rules[i];
                if (rule->action == sc->default_action)
                        continue;
                struct scmp_arg_cmp cmp[6];
                for (size_t k = 0; k < rule->n_args && k < 6; k++)
                        cmp[k] = (struct scmp_arg_cmp) { .arg = rule->args[k].index, .op = rule->args[k].op,
                                                         .datum_a = rule->args[k].value,
                                                         .datum_b = rule->args[k].value_two };
                for (size_t k = 0; r >= 0 && rule->names && rule->names[k]; k++) {
                        int nr = seccomp_syscall_resolve_name(rule->names[k]);
                        /* A call this kernel or libseccomp does not know: as runc, skip it. */
                        if (nr == __NR_SCMP_ERROR)
                                continue;
                        r = seccomp_rule_add_array(ctx, rule->action, nr, (unsigned) rule->n_args, cmp);
                        if (r < 0)
                                (void) errbuf_printf(err, errlen, r, "Failed to add the seccomp rule for %s: %m",
                                                     rule->names[k]);
                }
        }
        if (r >= 0) {
                r = seccomp_load(ctx);
                if (r < 0)
                        (void) errbuf_printf(err, errlen, r, "Failed to load the seccomp filter: %m");
        } else if (!*err)
                (void) errbuf_printf(err, errlen, r, "Failed to set up the seccomp filter: %m");
        seccomp_release(ctx);
        return r;
}

/* Dropping from the bounding set needs CAP_SETPCAP in the effective set,
 * which a change of user clears: before it. */
static int apply_bounding(const OciCaps *c) {
        for (unsigned long cap = 0; cap <= CAP_LAST_CAP; cap++)
                if (!(c->bounding & (UINT64_C(1) << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
                    errno != EINVAL)
                        return -errno;
        return 0;
}

/* After the change of user (PR_SET_KEEPCAPS kept the permitted set). */
static int apply_caps(const OciCaps *c) {
        cap_t caps = cap_init();
        if (!caps)
                return -ENOMEM;
        int r = 0;
        for (cap_value_t cap = 0; cap <= CAP_LAST_CAP && r >= 0; cap++) {
                uint64_t bit = UINT64_C(1) << cap;
                if (((c->effective & bit) && cap_set_flag(caps, CAP_EFFECTIVE, 1, &cap, CAP_SET) < 0) ||
                    ((c->permitted & bit) && cap_set_flag(caps, CAP_PERMITTED, 1, &cap, CAP_SET) < 0) ||
                    ((c->inheritable & bit) && cap_set_flag(caps, CAP_INHERITABLE, 1, &cap, CAP_SET) < 0))
                        r = -errno;
        }
        if (r >= 0 && cap_set_proc(caps) < 0)
                r = -errno;
        cap_free(caps);
        if (r < 0)
                return r;
        /* An ambient capability needs to be permitted and inheritable; specs
         * (runc's own default) list ambient ones that are not inheritable,
         * and runc skips those: so do we. */
        (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        for (unsigned long cap = 0; cap <= CAP_LAST_CAP; cap++)
                if (c->ambient & (UINT64_C(1) << cap))
                        (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
        return 0;
}

int process_exec(const OciProcess *p, const OciSeccomp *seccomp, unsigned preserve_fds, char *err, size_t errlen) {
        for (size_t i = 0; i < p->n_rlimits; i++) {
                struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
                if (setrlimit(p->rlimits[i].resource, &rl) < 0)
                        return errbuf_printf(err, errlen, errno, "Failed to set process.rlimits[%zu]: %m", i);
        }
        if (chdir(p->cwd) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot change to the working directory %s: %m", p->cwd);
        _cleanup_free_ char *prog = NULL;
        if (process_find_program(p, &prog) < 0)
                return errbuf_printf(err, errlen, ENOENT, "exec: \"%s\": executable file not found in $PATH",
                                     p->args[0]);

        /* Without no_new_privs the filter needs CAP_SYS_ADMIN, which we have
         * only until the user changes: install it first.  With it, as late as
         * possible, so that the filter need not allow our own setup. */
        int r;
        if (seccomp && !p->no_new_privileges && (r = seccomp_install(seccomp, err, errlen)) < 0)
                return r;
        if (p->has_caps && (r = apply_bounding(&p->caps)) < 0)
                return errbuf_printf(err, errlen, r, "Failed to set the capability bounding set: %m");
        if (p->has_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return errbuf_printf(err, errlen, errno, "prctl(PR_SET_KEEPCAPS) failed: %m");
        if (setgroups(p->n_groups, p->groups) < 0 && !(errno == EPERM && p->n_groups == 0))
                return errbuf_printf(err, errlen, errno, "Failed to set the additional groups: %m");
        if (setresgid(p->gid, p->gid, p->gid) < 0 || setresuid(p->uid, p->uid, p->uid) < 0)
                return errbuf_printf(err, errlen, errno, "Failed to switch to user %u, group %u: %m",
                                     (unsigned) p->uid, (unsigned) p->gid);
        if (p->has_caps && (r = apply_caps(&p->caps)) < 0)
                return errbuf_printf(err, errlen, r, "Failed to set the capabilities: %m");
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return errbuf_printf(err, errlen, errno, "prctl(PR_SET_NO_NEW_PRIVS) failed: %m");
        if (seccomp && p->no_new_privileges && (r = seccomp_install(seccomp, err, errlen)) < 0)
                return r;
        for (unsigned fd = 3; fd < 3 + preserve_fds; fd++) {
                int fl = fcntl((int) fd, F_GETFD);
                if (fl >= 0)
                        (void) fcntl((int) fd, F_SETFD, fl & ~FD_CLOEXEC);
        }
        char *const empty[] = { NULL };
        execve(prog, p->args, p->env ?: empty);
        return errbuf_printf(err, errlen, errno, "exec %s failed: %m", prog);
}
