/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The machine profile: a container whose process is systemd is booted the
 * way berth boots a machine, not the way runc runs an app.  An engine that
 * asks for an init (podman --systemd=always, ctr run ... /sbin/init) gets:
 *   - its own user namespace, from a 65536-ID range out of berth's
 *     host-wide registry (the one machines use), so the guest's root is no
 *     host root; the rootfs is shown through an idmapped mount, so the
 *     engine's files are never chowned;
 *   - a cgroup namespace over a subtree the guest's root owns, writable;
 *   - tmpfs on /run, /run/lock and /tmp where the spec has none;
 *   - container=berth and container_uuid in the environment;
 *   - the engine's stop signal (SIGTERM) as SIGRTMIN+3, systemd's
 *     "power off" (verbs.c).
 * Only when the spec maps no IDs of its own: an engine that made a user
 * namespace (rootless podman, userns-remap) keeps it.  The annotation
 * org.berth.profile=machine|none decides instead of the detection. */
#include <fcntl.h>
#include <sys/stat.h>

#include "fs.h"
#include "id128.h"
#include "idmap.h"
#include "log.h"
#include "oci.h"
#include "util.h"

/* The paths an engine starts an init by. */
static const char *const init_paths[] = { "/sbin/init", "/lib/systemd/systemd", "/usr/lib/systemd/systemd", "/init" };

/* Whether PROG leads to systemd inside ROOTFS: resolved by the kernel as if
 * ROOTFS were "/" (RESOLVE_IN_ROOT), so a guest symlink never leads out. */
static bool resolves_to_systemd(const char *rootfs, const char *prog) {
        _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return false;
        _cleanup_close_ int fd = chase_in_root(rootfd, prog + strspn(prog, "/"), 0, O_PATH, 0);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        _cleanup_free_ char *path = NULL;
        if (fd_get_path(fd, &path) < 0)
                return false;
        const char *base = strrchr(path, '/');
        return base && streq(base + 1, "systemd");
}

int profile_detect(const OciSpec *s, const char *rootfs, OciProfile *ret) {
        const char *a = oci_spec_annotation(s, OCI_PROFILE_ANNOTATION);
        bool own_ids = s->ns[OCI_NS_USER].wanted || s->n_uid_maps > 0;
        if (a) {
                if (streq(a, "none")) {
                        *ret = OCI_PROFILE_NONE;
                        return 0;
                }
                if (!streq(a, "machine"))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "annotation %s=\"%s\": use \"machine\" or \"none\".",
                                               OCI_PROFILE_ANNOTATION, a);
                if (own_ids)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "annotation %s=machine: the spec has a user namespace of its own; "
                                               "the machine profile brings its own ID range. Drop one of the two.",
                                               OCI_PROFILE_ANNOTATION);
                if (!s->ns[OCI_NS_PID].wanted || s->ns[OCI_NS_PID].path)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "annotation %s=machine: the machine profile needs a new PID "
                                               "namespace (its init is PID 1).", OCI_PROFILE_ANNOTATION);
                *ret = OCI_PROFILE_MACHINE;
                return 0;
        }
        *ret = OCI_PROFILE_NONE;
        if (own_ids || !s->ns[OCI_NS_PID].wanted || s->ns[OCI_NS_PID].path)
                return 0;
        const char *prog = s->process.args[0];
        for (size_t i = 0; i < ELEMENTSOF(init_paths); i++)
                if (streq(prog, init_paths[i]) && resolves_to_systemd(rootfs, prog)) {
                        *ret = OCI_PROFILE_MACHINE;
                        break;
                }
        return 0;
}

static OciMount *mount_add(OciSpec *s) {
        OciMount *m = realloc(s->mounts, (s->n_mounts + 1) * sizeof(OciMount));
        if (!m)
                abort();
        s->mounts = m;
        return &s->mounts[s->n_mounts++];
}

static bool has_mount(const OciSpec *s, const char *dest) {
        for (size_t i = 0; i < s->n_mounts; i++)
                if (streq(s->mounts[i].destination, dest))
                        return true;
        return false;
}

static void add_tmpfs(OciSpec *s, const char *dest, const char *mode) {
        if (has_mount(s, dest))
                return;
        char **opts = strv_append(strv_append(strv_append(NULL, "nosuid"), "nodev"), mode);
        *mount_add(s) = (OciMount) { .destination = xstrdup(dest), .type = xstrdup("tmpfs"),
                                     .source = xstrdup("tmpfs"), .options = opts };
}

void oci_env_set(OciProcess *p, const char *name, const char *value, bool replace) {
        size_t l = strlen(name);
        for (char **e = p->env; e && *e; e++)
                if (strncmp(*e, name, l) == 0 && (*e)[l] == '=') {
                        if (replace) {
                                free(*e);
                                *e = xasprintf("%s=%s", name, value);
                        }
                        return;
                }
        _cleanup_free_ char *kv = xasprintf("%s=%s", name, value);
        p->env = strv_append(p->env, kv);
}

void profile_apply(OciSpec *s, uid_t base) {
        OciIdMap map = { .container_id = 0, .host_id = base, .size = USERNS_RANGE_SIZE };
        s->ns[OCI_NS_USER].wanted = true;
        free(s->uid_maps);
        free(s->gid_maps);
        s->uid_maps = xmalloc(sizeof map);
        s->gid_maps = xmalloc(sizeof map);
        *s->uid_maps = *s->gid_maps = map;
        s->n_uid_maps = s->n_gid_maps = 1;
        /* A cgroup namespace rooted at the payload group its root owns. */
        if (!s->ns[OCI_NS_CGROUP].path)
                s->ns[OCI_NS_CGROUP].wanted = true;
        /* Binds below the cgroup view go: podman binds the host's whole
         * name=systemd hierarchy there on a v1 host, which the guest's root
         * may not write and should not see.  The view itself (rootfs.c)
         * shows the container's own group of every hierarchy. */
        size_t k = 0;
        for (size_t i = 0; i < s->n_mounts; i++) {
                OciMount *m = &s->mounts[i];
                const char *below = startswith(m->destination, "/sys/fs/cgroup/");
                if (below && *below) {
                        free(m->destination);
                        free(m->type);
                        free(m->source);
                        strv_free(m->options);
                        continue;
                }
                s->mounts[k++] = *m;
        }
        s->n_mounts = k;
        /* systemd manages its subtree: the cgroup view must be writable. */
        for (size_t i = 0; i < s->n_mounts; i++)
                if (streq_ptr(s->mounts[i].type, "cgroup") || streq_ptr(s->mounts[i].type, "cgroup2"))
                        for (char **o = s->mounts[i].options; o && *o; o++)
                                if (streq(*o, "ro")) {
                                        free(*o);
                                        *o = xstrdup("rw");
                                }
        if (!has_mount(s, "/sys/fs/cgroup")) {
                *mount_add(s) = (OciMount) {
                        .destination = xstrdup("/sys/fs/cgroup"), .type = xstrdup("cgroup"),
                        .source = xstrdup("cgroup"),
                        .options = strv_append(strv_append(strv_append(NULL, "nosuid"), "noexec"), "nodev") };
        }
        add_tmpfs(s, "/run", "mode=755");
        add_tmpfs(s, "/run/lock", "mode=1777");
        add_tmpfs(s, "/tmp", "mode=1777");
        oci_env_set(&s->process, "container", "berth", true);
        /* The engine's own ID for it if it gave one (podman does). */
        Id128 id;
        char uuid[ID128_UUID_STRING_MAX];
        if (id128_randomize(&id) >= 0)
                oci_env_set(&s->process, "container_uuid", id128_to_uuid(&id, uuid), false);
}
