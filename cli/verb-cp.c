/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth cp: copy files and trees between the host and a machine, running or
 * stopped.  Paths on the machine's side are resolved inside the machine
 * (openat2 RESOLVE_IN_ROOT), on the rootfs on disk when it is stopped, in its
 * own mount namespace when it runs (entered with lib/enter.c), so a guest
 * symlink can never lead the copy to a host file.  The copy itself is
 * lib/copy.c.
 *
 * "-" as the host path is a tar archive of one entry on stdin (copy-in) or
 * stdout (copy-out), the form berth -H HOST cp streams through ssh
 * (cp-stream.h). */

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "berth.h"
#include "copy.h"
#include "cp-stream.h"
#include "enter.h"
#include "fs.h"
#include "layers.h"
#include "log.h"
#include "newidmap.h"
#include "remote.h"
#include "runtime.h"
#include "spawn.h"
#include "userns.h"
#include "util.h"

#define CP_USAGE "Usage: berth cp NAME:PATH HOSTPATH, or berth cp HOSTPATH NAME:PATH (HOSTPATH '-': a tar archive on stdout or stdin)"

typedef enum CpDirection {
        CP_OUT, /* from the machine to the host */
        CP_IN,  /* from the host into the machine */
} CpDirection;

typedef struct CpRequest {
        CpDirection direction;
        char *machine;
        char *guest_path;      /* absolute, no trailing slash (but "/" itself) */
        bool guest_slash;      /* ... but it was given with one (copy-in: it names a directory) */
        const char *guest_arg; /* NAME:PATH as given, for messages */
        const char *host_path;
} CpRequest;

/* Where each side's fds come from; the host's are opened before a running
 * machine's mount namespace is entered, the machine's after. */
typedef struct CpSides {
        int host_dirfd;  /* copy-in: the source's directory; copy-out: the directory to copy into */
        char *host_name; /* one component below host_dirfd */
        bool host_slash; /* copy-out: host_name does not exist and was named with a trailing '/' */
        IdShift shift;
} CpSides;

static void cp_request_done(CpRequest *req) {
        free(req->machine);
        free(req->guest_path);
}

static void cp_sides_done(CpSides *s) {
        closep(&s->host_dirfd);
        free(s->host_name);
}

/* "NAME:PATH" is a machine's path.  A host path has no ':', or a '/' before
 * its first one ("./a:b"), as with scp. */
static const char *guest_colon(const char *arg) {
        const char *colon = strchr(arg, ':');
        if (!colon || memchr(arg, '/', (size_t) (colon - arg)))
                return NULL;
        return colon;
}

/* "dir/" names a directory, as for cp(1): it must be one, or not exist and
 * be made by copying a directory there. */
static bool has_trailing_slash(const char *p) {
        size_t l = strlen(p);
        return l > 1 && p[l - 1] == '/';
}

static void strip_trailing_slashes(char *p) {
        size_t l = strlen(p);
        while (l > 1 && p[l - 1] == '/')
                p[--l] = 0;
}

/* The last component of PATH (trailing slashes stripped): a pointer into it. */
static const char *last_component(const char *path) {
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

/* Split PATH (trailing slashes stripped) into its directory (malloc'ed) and
 * its last component (pointing into PATH). */
static char *split_path(const char *path, const char **ret_base) {
        *ret_base = last_component(path);
        const char *slash = strrchr(path, '/');
        if (!slash)
                return xstrdup(".");
        if (slash == path)
                return xstrdup("/");
        char *parent = strndup(path, (size_t) (slash - path));
        if (!parent)
                abort();
        return parent;
}

static bool is_dot_or_dotdot(const char *s) {
        return streq(s, ".") || streq(s, "..");
}

static int parse_request(const OptionParser *p, CpRequest *ret) {
        int r = expect_args(p, 2, 2);
        if (r != 0)
                return r;
        const char *a = p->args[0], *b = p->args[1];
        const char *ca = guest_colon(a), *cb = guest_colon(b);
        if (!!ca == !!cb) {
                if (ca)
                        log_error("Both paths name a machine; copying between machines is not supported. %s",
                                  CP_USAGE);
                else
                        log_error("Neither path names a machine (NAME:PATH). %s", CP_USAGE);
                return ERR_USAGE;
        }

        const char *arg = ca ? a : b, *colon = ca ?: cb;
        _cleanup_free_ char *machine = strndup(arg, (size_t) (colon - arg));
        if (!machine)
                abort();
        r = check_name(machine);
        if (r != 0)
                return r;
        if (colon[1] != '/') {
                log_error("The path in the machine must be absolute: '%s'.", arg);
                return ERR_USAGE;
        }
        _cleanup_free_ char *guest_path = xstrdup(colon + 1);
        bool guest_slash = has_trailing_slash(guest_path);
        strip_trailing_slashes(guest_path);

        const char *host = ca ? b : a;
        if (isempty(host)) {
                log_error("Empty host path. %s", CP_USAGE);
                return ERR_USAGE;
        }
        if (ca) {
                /* The source is named by its last component; resolving "." or
                 * ".." to get one would already be following the machine's
                 * symlinks outside the copy. */
                const char *base = last_component(guest_path);
                if (isempty(base) || is_dot_or_dotdot(base)) {
                        log_error("Name a file or directory in the machine to copy, not '%s'.", colon + 1);
                        return ERR_USAGE;
                }
        }

        *ret = (CpRequest) {
                .direction = ca ? CP_OUT : CP_IN,
                .machine = TAKE_PTR(machine),
                .guest_path = TAKE_PTR(guest_path),
                .guest_slash = guest_slash,
                .guest_arg = arg,
                .host_path = host,
        };
        return 0;
}

/* The one place that knows how owners are numbered on each side.  On disk, a
 * machine's files carry its own IDs (the rootfs is not shifted).  Seen from
 * the host through a running machine's idmapped mount, they are shifted up by
 * its UID base.  IDs outside the machine's 65536 become its "nobody".  A
 * privileged machine (PrivateUsers=no) shares the host's numbers. */
static IdShift make_shift(CpDirection direction, bool private_users, bool running, uid_t base) {
        /* A user's copy runs as root of a user namespace with the machine's
         * range as 0..65535 and the user as NEWIDMAP_SELF_ID, whether it
         * runs (the machine's own namespace) or not (one mapped the same):
         * what the user copies in becomes the machine root's, what the user
         * copies out the user's, as with cp(1) across owners. */
        if (geteuid() != 0) {
                if (direction == CP_OUT)
                        return (IdShift) { .to = NEWIDMAP_SELF_ID, .collapse = true };
                return (IdShift) { .from = NEWIDMAP_SELF_ID, .to = 0, .size = 1 };
        }
        if (!private_users)
                return (IdShift) {};
        uid_t guest = running ? base : 0;
        if (direction == CP_OUT)
                return (IdShift) { .from = guest, .to = 0, .size = USERNS_RANGE_SIZE };
        return (IdShift) { .from = 0, .to = guest, .size = USERNS_RANGE_SIZE };
}

/* Copy-in: the host source, found as the admin typed it; only its last
 * component is not followed (cp -a). */
static int open_host_source(const char *path, CpSides *sides) {
        _cleanup_free_ char *p = xstrdup(path);
        strip_trailing_slashes(p);
        const char *base;
        _cleanup_free_ char *parent = split_path(p, &base);
        if (is_dot_or_dotdot(base)) {
                /* "." has no name to give the copy: use the directory's real one. */
                free(p);
                p = realpath(path, NULL);
                if (!p)
                        return log_error_errno(errno, "Cannot resolve %s: %m", path);
                free(parent);
                parent = split_path(p, &base);
        }
        if (isempty(base))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Copying the host's / is not supported.");

        sides->host_dirfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sides->host_dirfd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", parent);
        struct stat st;
        if (fstatat(sides->host_dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return log_error_errno(errno, "Cannot copy %s: %m", path);
        sides->host_name = xstrdup(base);
        return 0;
}

/* Copy-out: into an existing directory under the source's own name, else
 * as the path given, whose directory must exist. */
static int open_host_destination(const char *path, const char *src_name, CpSides *sides) {
        sides->host_dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sides->host_dirfd >= 0) {
                sides->host_name = xstrdup(src_name);
                return 0;
        }
        if (errno != ENOENT && errno != ENOTDIR)
                return log_error_errno(errno, "Cannot open %s: %m", path);
        if (has_trailing_slash(path)) {
                /* Something else than a directory, or a missing directory on the way. */
                if (errno == ENOTDIR)
                        return log_error_errno(errno, "Cannot copy to %s: %m", path);
                sides->host_slash = true;
        }

        _cleanup_free_ char *p = xstrdup(path);
        strip_trailing_slashes(p);
        const char *base;
        _cleanup_free_ char *parent = split_path(p, &base);
        if (isempty(base) || is_dot_or_dotdot(base))
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "Cannot copy to %s: no such directory.",
                                       path);
        sides->host_dirfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sides->host_dirfd < 0)
                return log_error_errno(errno, "Cannot copy to %s: %m", path);
        sides->host_name = xstrdup(base);
        return 0;
}

/* A destination named "dir/" that does not exist can only be made by
 * copying a directory; anything else is "Not a directory", as cp(1) says.
 * An unreadable source is left to copy_tree_at() to report. */
static int check_slash_destination(int src_dirfd, const char *src_name, const char *src_display,
                                   const char *dst_display) {
        struct stat st;
        if (fstatat(src_dirfd, src_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
                return 0;
        return log_error_errno(SYNTHETIC_ERRNO(ENOTDIR),
                               "Cannot copy %s to %s: no such directory, and only a directory can be copied "
                               "to a path ending in '/'.",
                               src_display, dst_display);
}

/* The machine's side, below ROOTFD (its rootfs on disk, or its mount
 * namespace's root), and the copy.  Every guest path goes through
 * chase_in_root(); from there on lib/copy.c opens one component at a time. */
static int copy_guest_side(const CpRequest *req, int rootfd, const CpSides *sides) {
        const char *base;
        _cleanup_free_ char *parent = split_path(req->guest_path, &base);
        CopyStats stats = {};
        int r;

        if (req->direction == CP_OUT) {
                _cleanup_close_ int src =
                        chase_in_root(rootfd, parent, 0, O_RDONLY | O_DIRECTORY | O_NOCTTY, 0);
                if (src < 0)
                        return log_error_errno(src, "Cannot copy %s: %m", req->guest_arg);
                if (sides->host_slash) {
                        r = check_slash_destination(src, base, req->guest_arg, req->host_path);
                        if (r < 0)
                                return r;
                }
                r = copy_tree_at(src, base, req->guest_arg, sides->host_dirfd, sides->host_name,
                                 &sides->shift, COPY_STRIP_SUID, &stats);
                if (stats.stripped > 0)
                        log_warning("Removed the setuid/setgid bits of %u file(s): nothing copied out of a "
                                    "machine becomes setuid or setgid on the host.",
                                    stats.stripped);
                return r;
        }

        /* Copy-in: into the guest directory, or as the path, in its directory. */
        const char *name = sides->host_name;
        _cleanup_close_ int dst =
                chase_in_root(rootfd, req->guest_path, 0, O_RDONLY | O_DIRECTORY | O_NOCTTY, 0);
        if (dst == -ENOENT || dst == -ENOTDIR || dst == -ELOOP) {
                if (isempty(base) || is_dot_or_dotdot(base))
                        return log_error_errno(dst, "Cannot copy to %s: %m", req->guest_arg);
                if (req->guest_slash) {
                        if (dst != -ENOENT)
                                return log_error_errno(SYNTHETIC_ERRNO(ENOTDIR), "Cannot copy to %s: %m",
                                                       req->guest_arg);
                        r = check_slash_destination(sides->host_dirfd, sides->host_name, req->host_path,
                                                    req->guest_arg);
                        if (r < 0)
                                return r;
                }
                dst = chase_in_root(rootfd, parent, 0, O_RDONLY | O_DIRECTORY | O_NOCTTY, 0);
                name = base;
        }
        if (dst < 0)
                return log_error_errno(dst, "Cannot copy to %s: %m", req->guest_arg);
        return copy_tree_at(sides->host_dirfd, sides->host_name, req->host_path, dst, name, &sides->shift, 0,
                            &stats);
}

_noreturn_ static void copy_child(const CpRequest *req, int pidfd, const CpSides *sides, bool private_users,
                                  uid_t base) {
        /* The mount namespace only: the host fds are open already.  A user
         * has to be in the machine's user namespace to join it. */
        if (enter_protect() < 0)
                _exit(EXIT_FAIL);
        if (geteuid() != 0) {
                if (enter_user_mount_namespace(pidfd, req->machine) < 0)
                        _exit(EXIT_FAIL);
        } else {
                if (enter_mount_namespace(pidfd, req->machine) < 0)
                        _exit(EXIT_FAIL);
                if (req->direction == CP_IN && private_users && enter_create_files_as(base) < 0)
                        _exit(EXIT_FAIL);
        }
        int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
                log_error_errno(errno, "Failed to open the root of machine '%s': %m", req->machine);
                _exit(EXIT_FAIL);
        }
        _exit(copy_guest_side(req, rootfd, sides) < 0 ? EXIT_FAIL : EXIT_OK);
}

static int copy_running(Context *ctx, const CpRequest *req, CpSides *sides) {
        RuntimeState st;
        int r = runtime_state_read(ctx->store.run_fd, req->machine, &st);
        if (r < 0)
                return log_error_errno(r, "Failed to read the runtime state of '%s': %m", req->machine),
                       ERR_FAILED;
        if (st.init_pid <= 0) {
                log_error("Machine '%s' is %s, try again when it runs.", req->machine,
                          machine_state_to_string(st.state));
                return ERR_FAILED;
        }
        _cleanup_close_ int pidfd = runtime_open_init_pidfd(&st);
        if (pidfd < 0)
                return log_error_errno(pidfd, "Cannot find the init of machine '%s': %m", req->machine),
                       ERR_FAILED;

        /* What the running machine really has, not what its configuration
         * may say by now. */
        bool private_users = !same_namespace(st.init_pid, "user");
        uid_t base = 0;
        if (private_users) {
                r = store_machine_uid_base(&ctx->store, req->machine, &base);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the UID range of '%s': %m", req->machine),
                               ERR_FAILED;
        }
        sides->shift = make_shift(req->direction, private_users, true, base);

        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0)
                copy_child(req, pidfd, sides, private_users, base);

        /* The copy process exits 0 or 1; above 128 a signal killed it. */
        r = wait_child(pid);
        if (r < 0)
                return log_error_errno(r, "waitpid failed: %m");
        if (r > 128)
                log_error("The copy process was killed by signal %d.", r - 128);
        return r == 0 ? 0 : ERR_FAILED;
}

typedef struct StoppedCopy {
        const CpRequest *req;
        const char *rootfs;
        const CpSides *sides;
} StoppedCopy;

/* For layers_call_merged(): opens the rootfs only once inside the user
 * namespace it made for a user: before, its root directory (the machine
 * root's, 0755 or not) is not the user's to search.  A layered machine's
 * files are its merged view, mounted for this copy alone. */
static int copy_stopped_rootfs(void *userdata) {
        const StoppedCopy *c = userdata;
        _cleanup_close_ int rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rootfd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", c->rootfs);
        return copy_guest_side(c->req, rootfd, c->sides);
}

static int copy_stopped(Context *ctx, const CpRequest *req, CpSides *sides) {
        MachineConfig cfg;
        _cleanup_free_ char *err = NULL;
        if (store_load_config(&ctx->store, req->machine, NULL, &cfg, &err) < 0) {
                log_error("%s", err ?: "Invalid configuration.");
                return ERR_USAGE;
        }
        bool private_users = cfg.private_users;
        machine_config_done(&cfg);
        sides->shift = make_shift(req->direction, private_users, false, 0);

        _cleanup_free_ char *mpath = store_machine_path(&ctx->store, req->machine);
        _cleanup_free_ char *rootfs = store_rootfs_path(&ctx->store, req->machine);
        StoppedCopy c = { .req = req, .rootfs = rootfs, .sides = sides };
        /* A user's machine's files carry its range's host IDs: only root of
         * a namespace that maps them may make and chown them. */
        return layers_call_merged(&ctx->store, mpath, copy_stopped_rootfs, &c) < 0 ? ERR_FAILED : 0;
}

const VerbSpec cp_verb = {
        .name = "cp",
        .func = verb_cp,
        .args = "SRC DST",
        .summary = "Copy files and trees into or out of a machine, running or not (NAME:PATH is a machine's path, "
                   "- a tar on stdin or stdout)",
        .example = "cp ./site.conf web:/etc/nginx/conf.d/\ncp web:/var/log ./web-logs\n"
                   "cp web:/etc - | tar -t",
        .options = no_options,
        .complete = COMPLETE_FILE,
        .rootless = true,
};

/* "-": the entry of a tar archive on stdin, unpacked into STREAM, is the
 * source, opened by fd below the staging directory (SIDES): its path could
 * lead elsewhere by the time it is opened. */
static int stream_in(StreamDir *stream, CpSides *sides) {
        if (isatty(STDIN_FILENO)) {
                log_error("'-' reads a tar archive from stdin, which is a terminal. %s", CP_USAGE);
                return ERR_USAGE;
        }
        int r = stream_dir_make(stream);
        if (r < 0)
                return ERR_FAILED;
        pid_t pid;
        r = stream_tar_unpack(stream->path, STDIN_FILENO, &pid);
        if (r < 0 || stream_tar_wait(pid) < 0)
                return ERR_FAILED;
        if (stream_dir_single_entry(stream, &sides->host_name) < 0)
                return ERR_FAILED;
        return 0;
}

int verb_cp(Context *ctx, int argc, char **argv) {
        OptionParser p;
        option_parser_init(&p, &cp_verb, argc, argv);
        int r = option_next(&p);
        if (r != 0)
                return r < 0 ? r : ERR_USAGE;

        _cleanup_(cp_request_done) CpRequest req = {};
        r = parse_request(&p, &req);
        if (r != 0)
                return r;
        bool streaming = streq(req.host_path, "-");
        if (streaming && req.direction == CP_OUT && isatty(STDOUT_FILENO)) {
                log_error("'-' writes a tar archive to stdout, which is a terminal. %s", CP_USAGE);
                return ERR_USAGE;
        }

        /* The lock keeps the machine from being started, stopped or removed
         * under the copy. */
        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, req.machine, &lock);
        if (r != 0)
                return r;

        _cleanup_(stream_dir_done) StreamDir stream = STREAM_DIR_INIT;
        _cleanup_(cp_sides_done) CpSides sides = { .host_dirfd = -EBADF };
        _cleanup_free_ char *shown = NULL;
        const char *base = last_component(req.guest_path);
        if (streaming) {
                /* The host's side is the staging directory's fd, nothing by path. */
                r = req.direction == CP_IN ? stream_in(&stream, &sides) : stream_dir_make(&stream);
                if (r != 0)
                        return r < 0 ? ERR_FAILED : r;
                if (req.direction == CP_OUT)
                        sides.host_name = xstrdup(base);
                sides.host_dirfd = fcntl(stream.fd, F_DUPFD_CLOEXEC, 3);
                if (sides.host_dirfd < 0)
                        return log_error_errno(errno, "Failed to duplicate an fd: %m"), ERR_FAILED;
                shown = xasprintf("%s/%s", stream.path, sides.host_name);
                req.host_path = req.direction == CP_IN ? shown : stream.path;
        } else {
                r = req.direction == CP_IN ? open_host_source(req.host_path, &sides)
                                           : open_host_destination(req.host_path, base, &sides);
                if (r < 0)
                        return ERR_FAILED;
        }

        if (runtime_is_active(ctx->store.run_fd, req.machine) > 0)
                r = copy_running(ctx, &req, &sides);
        else
                r = copy_stopped(ctx, &req, &sides);
        if (r != 0 || !streaming || req.direction == CP_IN)
                return r;

        /* Copied out into the staging directory: now the archive. */
        pid_t pid;
        if (stream_tar_pack(stream.path, sides.host_name, STDOUT_FILENO, &pid) < 0 || stream_tar_wait(pid) < 0)
                return ERR_FAILED;
        return 0;
}

static void safe_close_pair(int *fds) {
        closep(&fds[0]);
        closep(&fds[1]);
}

/* Both ends of the pipe closed, and both processes waited for. */
static int wait_pair(const Remote *rm, pid_t ssh, pid_t tar, int *pipefd) {
        safe_close_pair(pipefd);
        int code = remote_wait(rm, ssh, false);
        if (code != 0) {
                /* The remote side said what went wrong; tar's own complaint
                 * (a cut archive) is only its echo. */
                (void) kill(tar, SIGTERM);
                (void) wait_child(tar);
                return code;
        }
        return stream_tar_wait(tar) < 0 ? EXIT_FAIL : EXIT_OK;
}

int remote_cp(const Remote *rm, int argc, char **argv) {
        _cleanup_free_ char **args = argv_dup(argc, argv);
        OptionParser p;
        option_parser_init(&p, &cp_verb, argc, args);
        int r = option_next(&p);
        if (r != 0)
                return exit_code_of(r < 0 ? r : ERR_USAGE, false);
        _cleanup_(cp_request_done) CpRequest req = {};
        r = parse_request(&p, &req);
        if (r != 0)
                return exit_code_of(r, false);

        if (streq(req.host_path, "-")) {
                /* The archive is the caller's: stdin or stdout pass through,
                 * checked here as the remote berth cannot see them. */
                if (req.direction == CP_OUT && isatty(STDOUT_FILENO)) {
                        log_error("'-' writes a tar archive to stdout, which is a terminal. %s", CP_USAGE);
                        return EXIT_USAGE;
                }
                if (req.direction == CP_IN && isatty(STDIN_FILENO)) {
                        log_error("'-' reads a tar archive from stdin, which is a terminal. %s", CP_USAGE);
                        return EXIT_USAGE;
                }
                pid_t pid;
                if (remote_spawn(rm, false, argv, req.direction == CP_IN ? STDIN_FILENO : REMOTE_NO_STDIN, -1,
                                 &pid) < 0)
                        return EXIT_FAIL;
                return remote_wait(rm, pid, false);
        }

        /* The local side is checked before anything travels. */
        _cleanup_(cp_sides_done) CpSides sides = { .host_dirfd = -EBADF };
        const char *base = last_component(req.guest_path);
        r = req.direction == CP_IN ? open_host_source(req.host_path, &sides)
                                   : open_host_destination(req.host_path, base, &sides);
        if (r < 0)
                return EXIT_FAIL;

        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Failed to make a pipe: %m"), EXIT_FAIL;
        pid_t ssh, tar;

        if (req.direction == CP_IN) {
                _cleanup_free_ char *dir = NULL;
                r = fd_get_path(sides.host_dirfd, &dir);
                if (r < 0) {
                        safe_close_pair(pipefd);
                        return log_error_errno(r, "Cannot find the directory of %s: %m", req.host_path), EXIT_FAIL;
                }
                char *words[] = { (char *) "cp", (char *) "-", (char *) req.guest_arg, NULL };
                if (stream_tar_pack(dir, sides.host_name, pipefd[1], &tar) < 0) {
                        safe_close_pair(pipefd);
                        return EXIT_FAIL;
                }
                if (remote_spawn(rm, false, words, pipefd[0], -1, &ssh) < 0) {
                        safe_close_pair(pipefd);
                        (void) kill(tar, SIGTERM);
                        (void) wait_child(tar);
                        return EXIT_FAIL;
                }
                return wait_pair(rm, ssh, tar, pipefd);
        }

        _cleanup_(stream_dir_done) StreamDir stream = STREAM_DIR_INIT;
        if (stream_dir_make(&stream) < 0) {
                safe_close_pair(pipefd);
                return EXIT_FAIL;
        }
        char *words[] = { (char *) "cp", (char *) req.guest_arg, (char *) "-", NULL };
        if (remote_spawn(rm, false, words, REMOTE_NO_STDIN, pipefd[1], &ssh) < 0) {
                safe_close_pair(pipefd);
                return EXIT_FAIL;
        }
        if (stream_tar_unpack(stream.path, pipefd[0], &tar) < 0) {
                safe_close_pair(pipefd);
                (void) kill(ssh, SIGTERM);
                (void) wait_child(ssh);
                return EXIT_FAIL;
        }
        int code = wait_pair(rm, ssh, tar, pipefd);
        if (code != 0)
                return code;

        _cleanup_free_ char *entry = NULL;
        if (stream_dir_single_entry(&stream, &entry) < 0)
                return EXIT_FAIL;
        if (sides.host_slash && check_slash_destination(stream.fd, entry, req.guest_arg, req.host_path) < 0)
                return EXIT_FAIL;
        CopyStats stats = {};
        /* The owners arrived as the machine's; setuid bits were dropped there. */
        r = copy_tree_at(stream.fd, entry, req.guest_arg, sides.host_dirfd, sides.host_name, &(IdShift) {},
                         COPY_STRIP_SUID, &stats);
        return r < 0 ? EXIT_FAIL : EXIT_OK;
}
