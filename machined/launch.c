/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <elf.h>
#include <endian.h>
#include <fcntl.h>
#include <stdarg.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

#include "caps.h"
#include "cgroup.h"
#include "fdpass.h"
#include "fs.h"
#include "id128.h"
#include "launch.h"
#include "newidmap.h"
#include "mount-lock.h"
#include "mount-tree.h"
#include "notify.h"
#include "ownership.h"
#include "stub-init.h"
#include "log.h"
#include "seccomp-filter.h"
#include "userns.h"
#include "util.h"

/* What the child reports if it cannot reach exec. */
typedef struct ChildError {
        int error;
        char message[1024];
} ChildError;

static int loopback_up(void) {
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -errno;
        struct ifreq ifr = {};
        strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        return RET_NERRNO(ioctl(s, SIOCSIFFLAGS, &ifr));
}

/* In the child, after pivot_root: write TEXT to the guest's regular file
 * PATH (made if missing).  A symlink there (systemd-resolved's stub
 * resolv.conf, say) means the guest manages the file itself, and a FIFO, a
 * device, a read-only or odd /etc are the guest's business: all are left
 * alone, and nothing here can block. */
/* The longest resolv.conf the supervisor hands the child after the network's
 * setup: far below a pipe's buffer. */
#define LAUNCH_RESOLV_CONF_MAX 16384

static int read_exact(int fd, void *buf, size_t len) {
        for (size_t done = 0; done < len;) {
                ssize_t n = read(fd, (char *) buf + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EPIPE;
                done += (size_t) n;
        }
        return 0;
}

static void write_guest_file(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || ftruncate(fd, 0) < 0)
                return;
        (void) write_all(fd, text, strlen(text));
}

_noreturn_ static void child_fail(int errfd, int r, const char *fmt, ...) _printf_(3, 4);
static void child_fail(int errfd, int r, const char *fmt, ...) {
        ChildError e = { .error = r < 0 ? -r : r };
        va_list ap;
        va_start(ap, fmt);
        errno = e.error;
        vsnprintf(e.message, sizeof e.message, fmt, ap);
        va_end(ap);
        (void) !write(errfd, &e, sizeof e);
        _exit(EXIT_FAILURE);
}

static int write_id_map(pid_t pid, const char *file, uid_t base) {
        char path[64], line[64];
        snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, file);
        snprintf(line, sizeof line, "0 %u %u\n", (unsigned) base, USERNS_RANGE_SIZE);
        return write_string_at(AT_FDCWD, path, line);
}

/* A detached clone of PATH, idmapped through the user namespace USERNS. */
/* A detached clone of the mount at PATH for the child; idmapped into USERNS
 * if TRY_IDMAP and the filesystem supports it (*ret_idmapped says). */
static int clone_tree(const char *path, int userns, bool try_idmap, int *ret, bool *ret_idmapped) {
        _cleanup_close_ int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
        if (tree < 0)
                return log_error_errno(errno, "Failed to clone the rootfs mount %s: %m", path);
        bool idmapped = false;
        if (try_idmap) {
                struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) userns };
                idmapped = mount_setattr(tree, "", AT_EMPTY_PATH, &a, sizeof a) >= 0;
                if (!idmapped && errno != EINVAL && errno != EOPNOTSUPP)
                        return log_error_errno(errno, "Failed to idmap the rootfs %s: %m", path);
        }
        *ret = TAKE_FD(tree);
        *ret_idmapped = idmapped;
        return 0;
}

/* Supervisor side of the user namespace: ID maps, then idmapped clones of
 * the rootfs (and layers) for the child to mount as its root. */
static int setup_userns(const LaunchParams *p, pid_t pid, int fdsock) {
        /* A user's machine: its subordinate IDs (and the user's own, for the
         * console and the runtime dir), through the setuid helpers. */
        if (p->rootless)
                return newidmap_map(pid, p->uid_base, true);
        int r = write_id_map(pid, "uid_map", p->uid_base);
        if (r >= 0)
                r = write_id_map(pid, "gid_map", p->uid_base);
        if (r < 0)
                return log_error_errno(r, "Failed to write the ID map of the machine's user namespace: %m");

        r = cgroup_machine_chown(p->cgroup, p->uid_base, p->uid_base);
        if (r < 0)
                return r;

        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int) pid);
        _cleanup_close_ int userns = open(path, O_RDONLY | O_CLOEXEC);
        if (userns < 0)
                return log_error_errno(errno, "Failed to open the machine's user namespace: %m");
        /* The rootfs (layered: the dir with the upper), then every layer. */
        bool layered = p->mount.machine_dir;
        const char *tree_path = layered ? p->mount.machine_dir : p->mount.rootfs;
        for (size_t i = 0; i <= (layered ? p->mount.n_layers : 0); i++) {
                const char *src = i == 0 ? tree_path : p->mount.layers[i - 1];
                _cleanup_close_ int tree = -EBADF;
                bool idmapped = false;
                r = clone_tree(src, userns, p->ownership != OWNERSHIP_CHOWN, &tree, &idmapped);
                if (r < 0)
                        return r;
                if (!idmapped && p->ownership == OWNERSHIP_MAP)
                        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                               "The filesystem under %s does not support idmapped mounts. "
                                               "Keep machines on ext4, xfs or btrfs, set "
                                               "PrivateUsersOwnership=chown or auto, or PrivateUsers=no "
                                               "(not a security boundary).",
                                               src);
                /* Without an idmapped mount the files themselves must be in the
                 * range; what other machines share must stay as they need it. */
                if (!idmapped && (p->rootfs_shared || layered))
                        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                               "%s cannot be idmapped here, and berth never chowns files that "
                                               "other machines share (the base of a 'berth run' machine, the "
                                               "layers of a clone or snapshot). Boot the base itself, flatten "
                                               "the machine with 'berth clone --copy', or keep it on a "
                                               "filesystem with idmapped mounts.",
                                               src);
                if (!layered) {
                        r = ownership_ensure(p->mount.rootfs, idmapped ? 0 : p->uid_base);
                        if (r < 0)
                                return r;
                }
                r = send_fds(fdsock, &tree, 1);
                if (r < 0)
                        return log_error_errno(r, "Failed to pass the rootfs to the machine: %m");
        }
        /* The binds: idmapping them needs host privileges too. */
        for (size_t i = 0; i < p->mount.n_binds; i++) {
                char msg[1024];
                _cleanup_close_ int tree = -EBADF;
                r = bind_tree_make(p->mount.binds + i, userns, p->uid_base, &tree, msg, sizeof msg);
                if (r < 0)
                        return log_error_errno(r, "%s", msg);
                r = send_fds(fdsock, &tree, 1);
                if (r < 0)
                        return log_error_errno(r, "Failed to pass a bind to the machine: %m");
        }
        return 0;
}

/* In the child: hand the finished tree ROOT to the supervisor, wait until
 * its locked copy arrived on the stage (mount-lock.h), and return an fd of
 * that copy, checked to be the same tree. */
static int receive_locked_tree(int fdsock, int stage_fd, int root) {
        int r = send_fds(fdsock, &root, 1);
        if (r < 0)
                return r;
        char go;
        ssize_t n;
        do
                n = read(fdsock, &go, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                return n < 0 ? -errno : -EPIPE;
        int fd = openat(stage_fd, "root", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat a, b;
        if (fstat(fd, &a) < 0 || fstat(root, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
                close(fd);
                return -ESTALE;
        }
        return fd;
}

/* A "#!" line is read from at most this many bytes, as the kernel does. */
#define SHEBANG_MAX 256
/* Interpreters of interpreters followed, as the kernel's limit (4 binfmt levels). */
#define SHEBANG_DEPTH 4

/* What the child execs: FD, the file the kernel loads, with ARGV. */
typedef struct InitExec {
        int fd;
        char *argv[2 * SHEBANG_DEPTH + 2];
        char lines[SHEBANG_DEPTH][SHEBANG_MAX + 1];
} InitExec;

/* Parse the "#!" line in BUF (N bytes, NUL-terminated in place) into the
 * interpreter and its optional single argument, as binfmt_script does. */
static int shebang_parse(char *buf, size_t n, char **ret_interp, char **ret_arg) {
        char *end = memchr(buf, '\n', n);
        if (end)
                *end = 0;
        buf[n] = 0;
        char *i = buf + 2 + strspn(buf + 2, " \t");
        size_t len = strcspn(i, " \t");
        if (len == 0 || (!end && i[len] == 0 && n == SHEBANG_MAX))
                return -ENOEXEC; /* no interpreter, or cut off */
        char *a = i + len;
        if (*a)
                *a++ = 0;
        a += strspn(a, " \t");
        for (size_t k = strlen(a); k > 0 && (a[k - 1] == ' ' || a[k - 1] == '\t'); k--)
                a[k - 1] = 0;
        *ret_interp = i;
        *ret_arg = *a ? a : NULL;
        return 0;
}

/* A dynamic ELF names its loader (PT_INTERP), which the kernel looks up by
 * path while /proc/self/exe is still the supervisor's binary on the host:
 * make sure that path stays inside the machine, without magic links.  What
 * is not a native ELF (or not readable) is left to the kernel. */
static void elf_interp_check(int errfd, int rootfd, int fd, const char *what) {
        union {
                unsigned char ident[EI_NIDENT];
                Elf64_Ehdr e64;
                Elf32_Ehdr e32;
        } h;
        if (pread(fd, &h, sizeof h, 0) != (ssize_t) sizeof h || memcmp(h.ident, ELFMAG, SELFMAG) != 0)
                return;
        bool is64 = h.ident[EI_CLASS] == ELFCLASS64;
        if ((!is64 && h.ident[EI_CLASS] != ELFCLASS32) ||
            h.ident[EI_DATA] != (__BYTE_ORDER == __LITTLE_ENDIAN ? ELFDATA2LSB : ELFDATA2MSB))
                return;
        uint64_t phoff = is64 ? h.e64.e_phoff : h.e32.e_phoff;
        unsigned phnum = is64 ? h.e64.e_phnum : h.e32.e_phnum;
        for (unsigned i = 0; i < phnum && i < 128; i++) {
                union {
                        Elf64_Phdr p64;
                        Elf32_Phdr p32;
                } ph;
                size_t size = is64 ? sizeof ph.p64 : sizeof ph.p32;
                if (pread(fd, &ph, size, (off_t) (phoff + i * size)) != (ssize_t) size)
                        return;
                if ((is64 ? ph.p64.p_type : ph.p32.p_type) != PT_INTERP)
                        continue;
                uint64_t off = is64 ? ph.p64.p_offset : ph.p32.p_offset;
                uint64_t len = is64 ? ph.p64.p_filesz : ph.p32.p_filesz;
                char interp[PATH_MAX];
                if (len < 2 || len > sizeof interp || pread(fd, interp, len, (off_t) off) != (ssize_t) len ||
                    interp[len - 1] != 0)
                        return; /* the kernel refuses it */
                _cleanup_close_ int ifd = chase_in_root(rootfd, interp, 0, O_PATH, 0);
                if (ifd == -ELOOP)
                        child_fail(errfd, ifd,
                                   "Refusing to run init %s: its ELF interpreter %s resolves through a magic "
                                   "link of /proc, which leads out of the machine, or loops.",
                                   what, interp);
                if (ifd < 0)
                        child_fail(errfd, ifd, "Cannot open the ELF interpreter %s of init %s inside the machine: %m",
                                   interp, what);
                return;
        }
}

/* In the child, after pivot_root: open the init for execveat() and build
 * its argv.  Every path is resolved inside the machine's root and never
 * through a /proc magic link (/proc/self/fd/N, /proc/self/exe, /proc/1/root),
 * which would lead out of the machine to a file of the host.  A script's
 * interpreter is resolved the same way here, not by the kernel (which would
 * follow magic links, and cannot run a script from a close-on-exec fd):
 * argv becomes "interpreter [arg] script", as the kernel would make it. */
static void init_resolve(int errfd, const char *init, InitExec *x) {
        int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                child_fail(errfd, errno, "Failed to open the machine's root: %m");
        size_t n_argv = 1;
        x->argv[0] = (char *) init;
        x->argv[1] = NULL;
        const char *path = init;
        for (unsigned depth = 0;; depth++) {
                int fd = chase_in_root(rootfd, path, 0, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
                if (fd == -EACCES) /* execute-only: no script then, the kernel loads it */
                        fd = chase_in_root(rootfd, path, 0, O_PATH, 0);
                /* Named in messages: the init, or "INIT's interpreter PATH". */
                char what[PATH_MAX + 64];
                snprintf(what, sizeof what, "%s%s%s", init, path == init ? "" : "'s interpreter ",
                         path == init ? "" : path);
                if (fd == -ELOOP)
                        child_fail(errfd, fd,
                                   "Refusing to run init %s: it resolves through a magic link of /proc (such as "
                                   "/proc/self/fd/N), which leads out of the machine, or loops. Point it at a file "
                                   "inside the machine.",
                                   what);
                if (fd < 0)
                        child_fail(errfd, fd, "Cannot open init %s inside the machine: %m", what);
                x->fd = fd;
                struct stat st;
                if (fstat(fd, &st) < 0)
                        child_fail(errfd, errno, "Cannot inspect init %s: %m", what);
                if (!S_ISREG(st.st_mode))
                        child_fail(errfd, EACCES, "Init %s is not a regular file.", what);

                char head[SHEBANG_MAX + 1];
                ssize_t n = pread(fd, head, SHEBANG_MAX, 0);
                if (n < 2 || head[0] != '#' || head[1] != '!') {
                        elf_interp_check(errfd, rootfd, fd, what);
                        close(rootfd);
                        return; /* a binary, or unreadable: the kernel decides */
                }
                closep(&x->fd);
                if (depth == SHEBANG_DEPTH)
                        child_fail(errfd, ELOOP, "Init %s: too many levels of interpreters.", init);
                char *interp, *arg, *line = memcpy(x->lines[depth], head, (size_t) n);
                if (shebang_parse(line, (size_t) n, &interp, &arg) < 0)
                        child_fail(errfd, ENOEXEC, "Init %s: bad \"#!\" line in %s.", init, path);
                /* argv[0] is PATH: put the interpreter and its argument before it. */
                size_t add = arg ? 2 : 1;
                memmove(x->argv + add, x->argv, (n_argv + 1) * sizeof x->argv[0]);
                x->argv[0] = interp;
                if (arg)
                        x->argv[1] = arg;
                n_argv += add;
                path = interp;
        }
}

/* In the child, after pivot_root: the machine's UUID for container_uuid=,
 * the same as its /etc/machine-id (read inside the root, never through a
 * link out of it); FALLBACK where it has none yet, formatted into BUF. */
static const char *machine_uuid(const Id128 *fallback, char buf[static ID128_UUID_STRING_MAX]) {
        Id128 id = *fallback;
        _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int fd = rootfd < 0 ? -EBADF
                                            : chase_in_root(rootfd, "etc/machine-id", 0,
                                                            O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
        struct stat st;
        char text[64];
        ssize_t n = fd >= 0 && fstat(fd, &st) >= 0 && S_ISREG(st.st_mode) ? read(fd, text, sizeof text - 1) : -1;
        if (n > 0) {
                text[n] = 0;
                (void) id128_parse(text, &id);
        }
        return id128_to_uuid(&id, buf);
}

/* In the child, last: exec the machine's own init (or fail, reporting why). */
_noreturn_ static void exec_init(const LaunchParams *p, int errfd) {
        /* Close every fd but stdio and the error pipe, not just mark them
         * CLOEXEC: execve resolves paths (a script's interpreter, an ELF's
         * loader) while they are still open, and /proc/self/fd/N of one of the
         * supervisor's directories (its state root, say) would lead there. */
        int r = close_all_fds_except(&errfd, 1);
        if (r < 0)
                child_fail(errfd, r, "close_range failed: %m");

        InitExec x;
        init_resolve(errfd, p->init, &x);

        char uuid_env[sizeof "container_uuid=" + ID128_UUID_STRING_MAX];
        char uuid[ID128_UUID_STRING_MAX];
        snprintf(uuid_env, sizeof uuid_env, "container_uuid=%s", machine_uuid(&p->machine_uuid, uuid));
        char *envp[] = {
                (char *) "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                (char *) "container=berth",
                (char *) "TERM=vt220",
                uuid_env,
                (char *) (p->mount.notify_dir ? "NOTIFY_SOCKET=" NOTIFY_GUEST_SOCKET : NULL),
                NULL,
        };
        syscall(SYS_execveat, x.fd, "", x.argv, envp, AT_EMPTY_PATH);
        child_fail(errfd, errno, "Failed to execute init %s: %m", p->init);
}

/* In the child: the detached trees to mount.  With a user namespace the
 * supervisor made them (idmapping needs host privileges) and sends the
 * rootfs, the layers into LAYER_FDS, and the binds' sources, each opened
 * once; without one, the binds are opened here, as host root.  PLAN points
 * at them and at LAYER_FDS until the child execs (it never returns:
 * nothing to free). */
static void child_receive_trees(const LaunchParams *p, MountPlan *plan, int fdsock, int errfd,
                                int layer_fds[static LAYERS_MAX]) {
        int r;
        if (p->uid_base > 0 && !p->rootless) {
                r = recv_fds(fdsock, &plan->rootfs_tree_fd, 1);
                for (size_t i = 0; r >= 0 && plan->machine_dir && i < plan->n_layers; i++)
                        r = recv_fds(fdsock, &layer_fds[i], 1);
                if (r < 0)
                        child_fail(errfd, r, "Failed to receive the rootfs: %m");
                plan->layer_tree_fds = plan->machine_dir ? layer_fds : NULL;
        }
        int *bind_fds = plan->n_binds ? xcalloc(plan->n_binds, sizeof *bind_fds) : NULL;
        for (size_t i = 0; i < plan->n_binds; i++) {
                if (p->uid_base > 0 && !p->rootless) {
                        r = recv_fds(fdsock, &bind_fds[i], 1);
                        if (r < 0)
                                child_fail(errfd, r, "Failed to receive a bind: %m");
                        continue;
                }
                char message[1024];
                r = bind_tree_make(plan->binds + i, -1, 0, &bind_fds[i], message, sizeof message);
                if (r < 0)
                        child_fail(errfd, r, "%s", message);
                /* A user's: locked here, there being no locked stage. */
                if (p->rootless) {
                        int locked = -EBADF;
                        r = bind_tree_lock(bind_fds[i], plan->binds + i, &locked);
                        if (r < 0)
                                child_fail(errfd, r, "Failed to lock the bind %s: %m", plan->binds[i].source);
                        close(bind_fds[i]);
                        bind_fds[i] = locked;
                }
        }
        plan->bind_tree_fds = bind_fds;
}

/* A user's machine has no locked stage: its root owns the mount namespace
 * and could make /run/host writable again, then write in the user's
 * runtime dir (the user is mapped into the machine).  So the notify dir
 * goes in as a user's binds do, read-only with its flags locked. */
static int notify_tree_lock(MountPlan *plan) {
        _cleanup_close_ int tree = open_tree(plan->notify_dir_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (tree < 0)
                return -errno;
        struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                            MOUNT_ATTR_NOEXEC };
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &a, sizeof a) < 0)
                return -errno;
        /* The lock stage finds the source again by a path without symlinks:
         * the one the kernel gives the opened dir (a --root or
         * XDG_RUNTIME_DIR may go through one). */
        _cleanup_free_ char *real = NULL;
        int r = fd_get_path(plan->notify_dir_fd, &real);
        if (r < 0)
                return r;
        BindSpec b = { .source = real, .read_only = true };
        return bind_tree_lock(tree, &b, &plan->notify_tree_fd);
}

_noreturn_ static void child_main(const LaunchParams *p, int gofd, int errfd, int fdsock) {
        ChildError e = {};

        /* If the supervisor dies, so does the machine: nothing runs unsupervised. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                child_fail(errfd, errno, "PR_SET_PDEATHSIG failed: %m");

        char go;
        if (read(gofd, &go, 1) != 1)
                _exit(EXIT_FAILURE); /* the supervisor gave up on us */
        /* '2': the network's resolv.conf follows, known only now (CNI). */
        const char *resolv_conf = p->resolv_conf;
        _cleanup_free_ char *network_resolv = NULL;
        if (go == '2') {
                uint32_t len;
                if (read_exact(gofd, &len, sizeof len) < 0 || len > LAUNCH_RESOLV_CONF_MAX)
                        _exit(EXIT_FAILURE);
                network_resolv = xmalloc(len + 1);
                if (read_exact(gofd, network_resolv, len) < 0)
                        _exit(EXIT_FAILURE);
                network_resolv[len] = 0;
                resolv_conf = network_resolv;
        }
        close(gofd);

        MountPlan plan = p->mount;
        int r;
        int layer_fds[LAYERS_MAX];
        child_receive_trees(p, &plan, fdsock, errfd, layer_fds);
        /* Kept for the round trip of the finished tree through the stage. */
        if (fdsock >= 0 && !plan.stage)
                closep(&fdsock);

        RootMount rm = ROOT_MOUNT_INIT;
        r = mount_attach_root(&plan, &rm, e.message, sizeof e.message);
        if (r < 0)
                child_fail(errfd, r, "%s", e.message);
        plan.notify_dir_fd = -1;
        plan.notify_tree_fd = -1;
        if (plan.notify_dir) {
                plan.notify_dir_fd = open(plan.notify_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (plan.notify_dir_fd < 0)
                        child_fail(errfd, errno, "Failed to open %s: %m", plan.notify_dir);
                if (p->rootless) {
                        r = notify_tree_lock(&plan);
                        if (r < 0)
                                child_fail(errfd, r, "Failed to lock the bind of %s to /run/host: %m", plan.notify_dir);
                }
        }
        plan.stage_fd = -1;
        if (plan.stage) {
                plan.stage_fd = open(plan.stage, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (plan.stage_fd < 0)
                        child_fail(errfd, errno, "Failed to open the mount stage %s: %m", plan.stage);
        }

        /* Become the namespace's root, now that the maps exist; from here on
         * every path is below the new root or world-readable. */
        if (p->uid_base > 0) {
                if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 || setgroups(0, NULL) < 0)
                        child_fail(errfd, errno, "Failed to become root in the machine's user namespace: %m");
                /* A change of credentials clears the parent-death signal: set it again. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        child_fail(errfd, errno, "PR_SET_PDEATHSIG failed: %m");
        }

        r = mount_finish_root(&plan, &rm, e.message, sizeof e.message);
        if (r < 0)
                child_fail(errfd, r, "%s", e.message);

        /* The cgroup we were just moved into becomes the guest's cgroup root. */
        if (unshare(CLONE_NEWCGROUP) < 0)
                child_fail(errfd, errno, "Failed to create a cgroup namespace: %m");

        if (p->own_netns) {
                r = loopback_up();
                if (r < 0)
                        child_fail(errfd, r, "Failed to bring up the loopback interface: %m");
        }

        r = mount_setup_machine(&plan, rm.root, e.message, sizeof e.message);
        if (r < 0)
                child_fail(errfd, r, "%s", e.message);
        int newroot = rm.root;
        if (plan.stage_fd >= 0) {
                newroot = receive_locked_tree(fdsock, plan.stage_fd, rm.root);
                if (newroot < 0)
                        child_fail(errfd, newroot, "Failed to receive the machine's locked mounts: %m");
                closep(&fdsock);
        }
        r = mount_pivot_root(newroot, e.message, sizeof e.message);
        if (r < 0)
                child_fail(errfd, r, "%s", e.message);
        /* The supervisor's copy of the tree goes away after exec: nothing may
         * propagate between the two any more. */
        if (plan.stage_fd >= 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_fail(errfd, errno, "Failed to make the machine's mounts private: %m");

        if (resolv_conf)
                write_guest_file("/etc/resolv.conf", resolv_conf);
        /* A configured Hostname= (berth set may have changed it) is the name the
         * guest's init reads from /etc/hostname, too. */
        if (p->hostname_configured) {
                _cleanup_free_ char *text = xasprintf("%s\n", p->hostname);
                write_guest_file("/etc/hostname", text);
        }

        if (sethostname(p->hostname, strlen(p->hostname)) < 0)
                child_fail(errfd, errno, "Failed to set hostname '%s': %m", p->hostname);

        /* The console is the init's stdio but, as the kernel does for PID 1, not
         * its controlling terminal: a getty on the console must be able to take
         * it as its own. */
        if (setsid() < 0)
                child_fail(errfd, errno, "setsid failed: %m");
        int con = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (con < 0)
                child_fail(errfd, errno, "Failed to open /dev/console: %m");
        for (int fd = 0; fd < 3; fd++)
                if (dup2(con, fd) < 0)
                        child_fail(errfd, errno, "Failed to set up stdio: %m");
        close(con);

        r = caps_apply_bounding(p->caps_keep);
        if (r < 0)
                child_fail(errfd, r, "Failed to drop capabilities: %m");
        r = syscall_filter_install();
        if (r < 0)
                child_fail(errfd, r, "Failed to install the system call filter: %m");

        /* The supervisor blocks signals for its signalfd: give init a clean slate. */
        sigset_t none;
        sigemptyset(&none);
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        if (p->stub_init) {
                /* Dumpable (stub-init.h) before the error pipe says we are up:
                 * a user's "berth exec" may enter at once. */
                if (p->rootless)
                        (void) prctl(PR_SET_DUMPABLE, 1);
                /* The error pipe closes as an exec would have closed it; and as
                 * the stub never execs, CLOEXEC alone would keep every fd of the
                 * supervisor (locks, relay sockets, store dirs): close them. */
                close(errfd);
                if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
                        _exit(EXIT_FAILURE);
                stub_init_run(p->program, p->rootless);
        }

        exec_init(p, errfd);
}

/* The supervisor's half of the round trip: the child's finished tree comes
 * back locked through the stage.  A child that failed before sending it
 * closed the socket: its own error follows on the error pipe. */
static int lock_tree(const MountStage *stage, pid_t pid, int fdsock) {
        int tree = -EBADF;
        int r = recv_fds(fdsock, &tree, 1);
        if (r == -EPIPE)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to receive the machine's tree: %m");
        _cleanup_close_ int t = tree;
        r = mount_stage_lock(stage, pid, t);
        if (r < 0)
                return r;
        if (write(fdsock, "1", 1) != 1)
                return log_error_errno(errno, "Failed to hand the machine its locked tree: %m");
        return 0;
}

int launch_machine(const LaunchParams *p, pid_t *ret_pid, int *ret_pidfd) {
        int go[2], err[2];
        if (pipe2(go, O_CLOEXEC) < 0)
                return log_error_errno(errno, "pipe2 failed: %m");
        _cleanup_close_ int go_r = go[0], go_w = go[1];
        if (pipe2(err, O_CLOEXEC) < 0)
                return log_error_errno(errno, "pipe2 failed: %m");
        _cleanup_close_ int err_r = err[0], err_w = err[1];
        _cleanup_close_ int fdsock_parent = -EBADF, fdsock_child = -EBADF;
        if (p->uid_base > 0 && !p->rootless) {
                int sp[2];
                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                        return log_error_errno(errno, "socketpair failed: %m");
                fdsock_parent = sp[0];
                fdsock_child = sp[1];
        }

        int pidfd = -1;
        struct clone_args args = {
                .flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD |
                         (p->own_netns ? CLONE_NEWNET : 0) | (p->uid_base > 0 ? CLONE_NEWUSER : 0),
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
                .exit_signal = SIGCHLD,
        };
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0)
                return log_error_errno(errno, "Failed to create the machine's namespaces (clone3): %m");
        if (pid == 0) {
                close(go_w);
                close(err_r);
                if (fdsock_parent >= 0)
                        close(fdsock_parent);
                child_main(p, go_r, err_w, fdsock_child);
        }
        _cleanup_close_ int pfd = pidfd;
        closep(&go_r);
        closep(&err_w);
        closep(&fdsock_child);

        _cleanup_free_ char *resolv_conf = NULL;
        /* A user's machine has a cgroup only in unit mode (delegated by their systemd). */
        int r = p->cgroup->group ? cgroup_machine_attach(p->cgroup, (pid_t) pid) : 0;
        if (r >= 0 && p->uid_base > 0)
                r = setup_userns(p, (pid_t) pid, fdsock_parent);
        if (r >= 0 && p->own_netns && p->setup_network) {
                char path[64];
                snprintf(path, sizeof path, "/proc/%d/ns/net", (int) pid);
                _cleanup_close_ int netns = open(path, O_RDONLY | O_CLOEXEC);
                r = netns < 0 ? log_error_errno(errno, "Failed to open the machine's network namespace: %m")
                              : p->setup_network(p->network_userdata, netns, &resolv_conf);
        }
        if (r >= 0 && resolv_conf && strlen(resolv_conf) > LAUNCH_RESOLV_CONF_MAX)
                r = log_error_errno(SYNTHETIC_ERRNO(E2BIG), "The machine's resolv.conf is too long.");
        if (r >= 0 && !resolv_conf && write(go_w, "1", 1) != 1)
                r = log_error_errno(errno, "Failed to release the machine's init: %m");
        if (r >= 0 && resolv_conf) {
                /* Small enough for the pipe's buffer: no write blocks. */
                uint32_t len = (uint32_t) strlen(resolv_conf);
                if (write_all(go_w, "2", 1) < 0 || write_all(go_w, &len, sizeof len) < 0 ||
                    write_all(go_w, resolv_conf, len) < 0)
                        r = log_error_errno(errno, "Failed to release the machine's init: %m");
        }
        closep(&go_w);
        if (r >= 0 && p->stage)
                r = lock_tree(p->stage, (pid_t) pid, fdsock_parent);

        ChildError e;
        ssize_t n = 0;
        if (r >= 0) {
                do
                        n = read(err_r, &e, sizeof e);
                while (n < 0 && errno == EINTR);
        }
        /* Exec'd or failed: the child no longer needs our copy of its tree. */
        if (p->stage)
                mount_stage_release(p->stage);
        if (r < 0 || n != 0) {
                /* Failed before exec: reap the child so nothing is left behind. */
                (void) syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
                siginfo_t si;
                (void) waitid(P_PIDFD, (id_t) pfd, &si, WEXITED);
                if (r < 0)
                        return r;
                if (n == (ssize_t) sizeof e) {
                        e.message[sizeof e.message - 1] = 0;
                        return log_error_errno(e.error ?: EIO, "%s", e.message);
                }
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "The machine's init process failed before exec.");
        }

        *ret_pid = (pid_t) pid;
        *ret_pidfd = TAKE_FD(pfd);
        return 0;
}
