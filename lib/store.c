/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/stat.h>
#include "build-config.h"

#include "config.h"
#include "fs.h"
#include "hash.h"
#include "kv.h"
#include "log.h"
#include "name.h"
#include "newidmap.h"
#include "paths.h"
#include "store.h"
#include "idmap.h"
#include "uid-registry.h"

/* The state and runtime roots are the admin's choice and may be symlinks;
 * what berth creates below them is opened without following any. */
static int open_or_make(int dirfd, const char *path, mode_t mode, bool follow) {
        int r = mkdir_p_at(dirfd, path, mode);
        if (r < 0)
                return r;
        if (!follow)
                return open_dir_nofollow(dirfd, path);
        int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int store_open(Store *s, const char *root, const char *config) {
        /* An empty variable means "not set", as in the shell idiom VAR= cmd. */
        if (isempty(root))
                root = secure_getenv("BERTH_ROOT");
        if (isempty(root))
                root = NULL;
        if (isempty(config))
                config = secure_getenv("BERTH_CONFIG");
        if (isempty(config))
                config = NULL;

        _cleanup_(state_paths_done) StatePaths def = {};
        int r = state_paths_default(&def);
        if (r < 0)
                return r;
        uid_t uid = geteuid();

        /* Naming the default root is not an override: its runtime state stays in
         * /run/berth (berth passes --root to the supervisor it starts). */
        if (root && streq(root, def.state))
                root = NULL;

        if (root && root[0] != '/')
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "State root '%s' is not an absolute path; pass --root=/absolute/dir.", root);
        /* A user's command never creates or changes anything of the system's
         * machines, whatever root it names (the owner check below catches a
         * symlink to them). */
        if (uid != 0 && root && (path_has_dotdot(root) || path_is_system_state(root)))
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "State root '%s' is the system's (or has '..'); without root, berth keeps "
                                       "machines in %s. Drop --root or pick a directory of your own.",
                                       root, def.state);

        if (root) {
                s->root = xstrdup(root);
                s->run = xasprintf("%s/run", root);
                s->config_path = config ? xstrdup(config) : xasprintf("%s/berth.conf", root);
        } else {
                s->root = TAKE_PTR(def.state);
                s->run = TAKE_PTR(def.run);
                s->config_path = config ? xstrdup(config) : TAKE_PTR(def.config);
        }

        /* State is root's alone: 0700 keeps other users out of guest trees. */
        s->root_fd = open_or_make(AT_FDCWD, s->root, 0700, true);
        if (s->root_fd < 0)
                return log_error_errno(s->root_fd, "Failed to open state directory %s: %m", s->root);
        r = state_dir_check_owner(s->root_fd, s->root, uid);
        if (r < 0)
                return r;
        s->machines_fd = open_or_make(s->root_fd, "machines", 0700, false);
        if (s->machines_fd < 0)
                return log_error_errno(s->machines_fd, "Failed to open %s/machines: %m", s->root);
        s->images_fd = open_or_make(s->root_fd, "images", 0700, false);
        if (s->images_fd < 0)
                return log_error_errno(s->images_fd, "Failed to open %s/images: %m", s->root);
        s->run_fd = open_or_make(AT_FDCWD, s->run, 0700, true);
        if (s->run_fd < 0)
                return log_error_errno(s->run_fd, "Failed to open runtime directory %s: %m", s->run);
        r = state_dir_check_owner(s->run_fd, s->run, uid);
        if (r < 0)
                return r;
        s->locks_fd = open_or_make(s->run_fd, "locks", 0700, false);
        if (s->locks_fd < 0)
                return log_error_errno(s->locks_fd, "Failed to open %s/locks: %m", s->run);
        return 0;
}

void store_close(Store *s) {
        free(s->root);
        free(s->run);
        free(s->config_path);
        closep(&s->root_fd);
        closep(&s->machines_fd);
        closep(&s->images_fd);
        closep(&s->run_fd);
        closep(&s->locks_fd);
        *s = (Store) STORE_INIT;
}

int store_lock_machine(Store *s, const char *name, bool nonblock) {
        int fd = lock_file_at(s->locks_fd, name, true, false);
        if (fd != -EWOULDBLOCK)
                return fd;
        if (nonblock)
                return fd; /* the caller decides whether that is an error */
        log_notice("Waiting for another berth command on machine '%s' to finish...", name);
        return lock_file_at(s->locks_fd, name, true, true);
}

int store_machine_exists(Store *s, const char *name) {
        struct stat st;
        if (fstatat(s->machines_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        return S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int store_list_machines(Store *s, char ***ret) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(s->machines_fd, &d);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **l = NULL;
        struct dirent *de;
        while ((de = readdir(d))) {
                /* Dot entries are staging dirs of unfinished creates. */
                if (de->d_name[0] == '.' || de->d_type != DT_DIR)
                        continue;
                l = strv_append(l, de->d_name);
        }
        size_t n = strv_length(l);
        if (n > 0)
                qsort(l, n, sizeof(char *), cmp_str);
        *ret = TAKE_PTR(l);
        return (int) n;
}

int store_load_config(Store *s, const char *name, char *const *cli_set, MachineConfig *ret, char **ret_error) {
        MachineConfig c;
        machine_config_init(&c);

        int r = 0;
        for (char *const *a = cli_set; a && *a && r >= 0; a++)
                r = machine_config_set_from_cli(&c, *a, ret_error);
        if (r >= 0) {
                _cleanup_free_ char *p = xasprintf("%s/machines/%s/machine.conf", s->root, name);
                r = machine_config_parse_file(&c, p, CONFIG_SOURCE_MACHINE, true, true, ret_error);
        }
        if (r >= 0)
                r = machine_config_parse_file(&c, s->config_path, CONFIG_SOURCE_GLOBAL, false, true, ret_error);
        if (r < 0) {
                machine_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

char *store_machine_path(Store *s, const char *name) {
        return xasprintf("%s/machines/%s", s->root, name);
}

char *store_rootfs_path(Store *s, const char *name) {
        return xasprintf("%s/machines/%s/rootfs", s->root, name);
}

/* FNV-1a of the root's path: stable across runs and builds, and enough to
 * tell roots apart. */
static uint32_t root_hash(const Store *s) {
        return fnv1a32(s->root);
}

char *store_cgroup_name(Store *s, const char *name) {
        if (streq(s->root, BERTH_STATE_DIR))
                return xstrdup(name);
        return xasprintf("%s@%08x", name, root_hash(s));
}

char *store_qualified_name(Store *s, const char *name) {
        return xasprintf("%s.%08x", name, root_hash(s));
}

int store_machine_base(Store *s, const char *name, char **ret_base) {
        *ret_base = NULL;
        _cleanup_close_ int dfd = open_dir_nofollow(s->machines_fd, name);
        if (dfd < 0)
                return dfd;
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(dfd, "base", 256, &kv);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        const char *v = key_values_get(&kv, "BASE");
        if (!v)
                return -EBADMSG;
        _cleanup_free_ char *base = xstrdup(v);
        /* The base is a name like any other: never a path. */
        if (!machine_name_is_valid(startswith(base, STORE_IMAGE_PREFIX) ?: base))
                return -EBADMSG;
        *ret_base = TAKE_PTR(base);
        return 0;
}

int store_lock_base(Store *s, const char *base, bool shared) {
        _cleanup_free_ char *lock = xasprintf("%s.base", base);
        int fd = lock_file_at(s->locks_fd, lock, !shared, false);
        return fd == -EWOULDBLOCK ? -EBUSY : fd;
}

int store_lock_base_wait(Store *s, const char *base) {
        _cleanup_free_ char *lock = xasprintf("%s.base", base);
        return lock_file_at(s->locks_fd, lock, false, true);
}

int store_machine_uid_base(Store *s, const char *name, uid_t *ret_base) {
        _cleanup_close_ int dfd = open_dir_nofollow(s->machines_fd, name);
        if (dfd < 0)
                return dfd;
        return idmap_read_at(dfd, ret_base);
}

int store_rm_machine_dir(Store *s, const char *name) {
        _cleanup_free_ char *machines = xasprintf("%s/machines", s->root);
        return store_rm_ranged_dir_at(s->machines_fd, machines, name);
}

int store_rm_ranged_dir_at(int parent_fd, const char *parent_path, const char *name) {
        _cleanup_close_ int dfd = geteuid() == 0 ? -EBADF : open_dir_nofollow(parent_fd, name);
        return store_rm_tree_in_range(dfd, parent_fd, parent_path, name);
}

int store_rm_tree_in_range(int range_dir_fd, int parent_fd, const char *parent_path, const char *name) {
        uid_t base;
        /* A user cannot unlink what the machine's IDs own: root of the
         * machine's user namespace can. */
        if (geteuid() == 0 || range_dir_fd < 0 || idmap_read_at(range_dir_fd, &base) < 0)
                return rm_rf_at(parent_fd, name);
        if (faccessat(parent_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_free_ char *parent = NULL;
        if (!parent_path) {
                int k = fd_get_path(parent_fd, &parent);
                if (k < 0)
                        return k;
                parent_path = parent;
        }
        _cleanup_free_ char *path = xasprintf("%s/%s", parent_path, name);
        char *argv[] = { (char *) "/bin/rm", (char *) "-rf", (char *) "--one-file-system", (char *) "--", path,
                         NULL };
        int r = spawn_in_userns(argv, base, NULL);
        if (r < 0)
                return r;
        return r == 0 ? 0 : -EIO;
}

int store_remove_machine(Store *s, const char *name, const char *tmp) {
        uid_t base;
        bool ranged = store_machine_uid_base(s, name, &base) >= 0;
        if (renameat(s->machines_fd, name, s->machines_fd, tmp) < 0)
                return -errno;
        int r = store_rm_machine_dir(s, tmp);
        if (r < 0)
                return r;
        if (ranged)
                store_range_release(base);
        return 0;
}

void store_range_release(uid_t base) {
        int k = uid_registry_release_base(base);
        if (k < 0)
                log_warning_errno(k, "Failed to release UID range %u, the next allocation reclaims it: %m",
                                  (unsigned) base);
}

char *store_base_path(Store *s, const char *base) {
        const char *image = startswith(base, STORE_IMAGE_PREFIX);
        if (image)
                return xasprintf("%s/images/bases/%s", s->root, image);
        return store_machine_path(s, base);
}

int store_open_images(Store *s) {
        if (mkdirat(s->images_fd, "bases", 0700) < 0 && errno != EEXIST)
                return -errno;
        return open_dir_nofollow(s->images_fd, "bases");
}
