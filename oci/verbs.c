/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

#include "cgroup.h"
#include "fs.h"
#include "log.h"
#include "oci.h"
#include "spawn.h"
#include "uid-registry.h"
#include "util.h"

/* Load ID's state; a missing container gets the words engines look for. */
int oci_load(const OciOptions *o, const char *id, int *ret_dirfd, OciState *ret) {
        int r = oci_state_load(o->root, id, ret_dirfd, ret);
        if (r == -ENOENT)
                return log_error_errno(r, "container \"%s\" does not exist", id);
        if (r < 0)
                return log_error_errno(r, "Cannot read the state of container \"%s\": %m", id);
        return 0;
}

int oci_load_spec(int dirfd, const char *id, OciSpec *ret) {
        int r = oci_state_spec(dirfd, ret);
        if (r < 0)
                return log_error_errno(r, "Cannot read the saved config of container \"%s\": %m", id);
        return 0;
}

int verb_state(const OciOptions *o, const char *id) {
        _cleanup_(oci_state_done) OciState st = {};
        _cleanup_close_ int dfd = -EBADF;
        int r = oci_load(o, id, &dfd, &st);
        if (r < 0)
                return r;
        _cleanup_free_ char *cfg = xasprintf("%s/%s/config.json", o->root, id);
        _cleanup_free_ char *json = oci_state_json(&st, oci_state_status(dfd, &st), cfg);
        printf("%s\n", json);
        return 0;
}

int verb_start(const OciOptions *o, const char *id) {
        _cleanup_(oci_state_done) OciState st = {};
        _cleanup_close_ int dfd = -EBADF;
        int r = oci_load(o, id, &dfd, &st);
        if (r < 0)
                return r;
        OciStatus status = oci_state_status(dfd, &st);
        if (status != OCI_STATUS_CREATED)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "cannot start a container that is %s",
                                       oci_status_name(status));
        /* Bound before the process runs, so no READY=1 is lost. */
        _cleanup_close_ int notify = -EBADF;
        if (st.notify_socket && (r = notify_listen(dfd, st.uid_base, st.uid_base, &notify)) < 0)
                return log_error_errno(r, "Cannot make the notify socket of %s: %m", id);
        /* Opening the fifo's read end releases the init's open of the write end. */
        _cleanup_close_ int fifo = openat(dfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fifo < 0)
                return log_error_errno(errno, "Cannot open the exec fifo of %s: %m", id);
        char c = 0;
        for (int tries = 0; tries < 100; tries++) {
                struct pollfd p = { .fd = fifo, .events = POLLIN };
                if (poll(&p, 1, 100) > 0 && read(fifo, &c, 1) == 1)
                        break;
                if (oci_state_status(dfd, &st) == OCI_STATUS_STOPPED)
                        break;
        }
        (void) unlinkat(dfd, "exec.fifo", 0);
        if (c != '0')
                return log_error_errno(SYNTHETIC_ERRNO(ECHILD), "The container's init did not start.");
        _cleanup_(oci_spec_done) OciSpec spec = {};
        if (oci_load_spec(dfd, id, &spec) >= 0 && spec.n_hooks[OCI_HOOK_POSTSTART] > 0) {
                _cleanup_free_ char *cfg = xasprintf("%s/%s/config.json", o->root, id);
                _cleanup_free_ char *json = oci_state_json(&st, OCI_STATUS_RUNNING, cfg);
                (void) oci_hooks_run(&spec, OCI_HOOK_POSTSTART, json, false);
        }
        if (notify >= 0) {
                /* As runc: start returns once the container is ready. */
                _cleanup_close_ int pidfd = pidfd_open_checked(st.pid, st.starttime);
                r = notify_wait_ready(notify, st.notify_socket, st.pid, pidfd);
                if (r < 0)
                        return log_error_errno(r, r == -ECHILD ? "The container exited before it said READY=1." :
                                                                 "Cannot pass READY=1 on to %s: %m", st.notify_socket);
        }
        return 0;
}

static int signal_all(const OciState *st, int sig) {
        MachineCgroup cg = oci_state_cgroup(st);
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r = cgroup_machine_pids(&cg, &pids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                (void) kill(pids[i], sig);
        return 0;
}

int verb_kill(const OciOptions *o, const char *id, const char *signal) {
        int sig = signal ? signal_from_string(signal) : SIGTERM;
        if (sig <= 0 || sig >= _NSIG)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown signal \"%s\".", signal);
        _cleanup_(oci_state_done) OciState st = {};
        _cleanup_close_ int dfd = -EBADF;
        int r = oci_load(o, id, &dfd, &st);
        if (r < 0)
                return r;
        if (oci_state_status(dfd, &st) == OCI_STATUS_STOPPED)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "container not running");
        if (o->all) {
                r = signal_all(&st, sig);
                if (r < 0)
                        return log_error_errno(r, "Cannot list the processes of %s: %m", id);
                return 0;
        }
        /* Engines stop with SIGTERM; systemd as PID 1 takes SIGRTMIN+3 as "power off"
         * (SIGTERM would make it re-execute itself). */
        if (st.profile == OCI_PROFILE_MACHINE && sig == SIGTERM)
                sig = SIGRTMIN + 3;
        _cleanup_close_ int pidfd = pidfd_open_checked(st.pid, st.starttime);
        if (pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
                return log_error_errno(pidfd < 0 ? pidfd : -errno, "container not running");
        return 0;
}

int verb_delete(const OciOptions *o, const char *id) {
        _cleanup_(oci_state_done) OciState st = {};
        _cleanup_close_ int dfd = -EBADF;
        int r = oci_load(o, id, &dfd, &st);
        if (r < 0)
                return r;
        OciStatus status = oci_state_status(dfd, &st);
        if ((status == OCI_STATUS_RUNNING || status == OCI_STATUS_PAUSED) && !o->force)
                return log_error_errno(SYNTHETIC_ERRNO(EBUSY), "cannot delete container %s that is not stopped: %s",
                                       id, oci_status_name(status));
        if (status != OCI_STATUS_STOPPED) {
                _cleanup_close_ int pidfd = pidfd_open_checked(st.pid, st.starttime);
                if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) >= 0) {
                        /* The engine reaps it; we only wait until it is gone. */
                        struct pollfd p = { .fd = pidfd, .events = POLLIN };
                        (void) poll(&p, 1, 10000);
                }
        }
        /* machined drops it itself when the init dies; not so the record. */
        if (st.profile == OCI_PROFILE_MACHINE)
                oci_machine_withdraw(o, &st);
        MachineCgroup cg = oci_state_cgroup(&st);
        r = cgroup_machine_destroy(&cg);
        if (r < 0)
                log_warning_errno(r, "Cannot remove the cgroup %s, ignoring: %m", st.cgroup);
        /* Empty, the scope goes by itself; stopped, also with what is left. */
        if (st.scope)
                oci_scope_stop(st.scope);
        _cleanup_(oci_spec_done) OciSpec spec = {};
        if (oci_load_spec(dfd, id, &spec) >= 0 && spec.n_hooks[OCI_HOOK_POSTSTOP] > 0) {
                _cleanup_free_ char *cfg = xasprintf("%s/%s/config.json", o->root, id);
                _cleanup_free_ char *json = oci_state_json(&st, OCI_STATUS_STOPPED, cfg);
                (void) oci_hooks_run(&spec, OCI_HOOK_POSTSTOP, json, false);
        }
        _cleanup_close_ int rfd = open_dir_nofollow(AT_FDCWD, o->root);
        r = rfd < 0 ? rfd : rm_rf_at(rfd, id);
        if (r < 0)
                return log_error_errno(r, "Cannot remove the state of %s: %m", id);
        /* The state dir owned the machine profile's ID range: now it is free. */
        if (st.uid_base > 0 && (r = uid_registry_release_base(st.uid_base)) < 0)
                log_warning_errno(r, "Cannot release the UID range %u of %s, ignoring: %m", (unsigned) st.uid_base, id);
        return 0;
}

int verb_ps(const OciOptions *o, const char *id) {
        _cleanup_(oci_state_done) OciState st = {};
        _cleanup_close_ int dfd = -EBADF;
        int r = oci_load(o, id, &dfd, &st);
        if (r < 0)
                return r;
        MachineCgroup cg = oci_state_cgroup(&st);
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        r = cgroup_machine_pids(&cg, &pids, &n);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Cannot list the processes of %s: %m", id);
        bool json = streq_ptr(o->format, "json");
        if (!json && o->format && !streq(o->format, "table"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown format \"%s\": json or table.", o->format);
        printf(json ? "[" : "PID\n");
        for (size_t i = 0; i < n; i++)
                printf(json ? "%s%d" : "%s%d\n", json && i > 0 ? "," : "", (int) pids[i]);
        printf(json ? "]\n" : "");
        return 0;
}

/* ----- exec ----- */

typedef struct ExecContext {
        const OciOptions *o;
        const OciState *st;
        const OciProcess *p;
        const OciSeccomp *seccomp;
        bool terminal;
} ExecContext;

_noreturn_ static void exec_process(const ExecContext *e, int sync) {
        char err[2048] = "";
        if (setsid() < 0)
                sync_fail(sync, errno, "setsid failed: %m");
        if (e->terminal) {
                /* The container's own devpts: we are in its mount namespace and root. */
                _cleanup_close_ int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                int n, unlock = 0;
                struct stat sb;
                /* Only the pty multiplexer will do, whatever the container put there. */
                if (master >= 0 && (fstat(master, &sb) < 0 || !S_ISCHR(sb.st_mode) || major(sb.st_rdev) != 5 ||
                                    minor(sb.st_rdev) != 2 || fcntl(master, F_SETFL, 0) < 0)) {
                        closep(&master);
                        errno = ENODEV;
                }
                if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
                        sync_fail(sync, errno, "Cannot open a pty in the container: %m");
                _cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 ||
                    dup2(slave, 2) < 0)
                        sync_fail(sync, errno, "Cannot make the pty the terminal: %m");
                char name[64];
                snprintf(name, sizeof name, "/dev/pts/%d", n);
                if (sync_send_fd(sync, SYNC_PTY, name, master) < 0)
                        _exit(EXIT_FAILURE);
        }
        int r = process_exec(e->p, e->seccomp, e->o->preserve_fds, err, sizeof err);
        sync_fail(sync, r, "%s", err);
}

_noreturn_ static void exec_child(const ExecContext *e, int pidfd, int sync) {
        pid_t leader = e->st->pid;
        if (cgroup_attach_like(leader, 0) < 0)
                sync_fail(sync, EIO, "Cannot join the container's cgroup.");
        /* All at once through the init's pidfd: no pid to be reused on the way. */
        int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWPID;
        /* setns() refuses to "enter" the user namespace we are in already. */
        if (!same_namespace(leader, "user"))
                flags |= CLONE_NEWUSER;
        if (!same_namespace(leader, "net"))
                flags |= CLONE_NEWNET;
        if (setns(pidfd, flags) < 0)
                sync_fail(sync, errno, "Cannot join the container's namespaces: %m");
        close(pidfd);
        if ((flags & CLONE_NEWUSER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
                sync_fail(sync, errno, "Cannot become root in the container's user namespace: %m");
        pid_t pid = fork();
        if (pid < 0)
                sync_fail(sync, errno, "fork failed: %m");
        if (pid == 0)
                exec_process(e, sync);
        (void) sync_send(sync, SYNC_PID, (int) pid, NULL);
        _exit(EXIT_SUCCESS);
}

int verb_exec(const OciOptions *o, const char *id) {
        if (!o->process)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "exec needs --process FILE.");
        _cleanup_(oci_state_done) OciState st = {};
        _cleanup_close_ int dfd = -EBADF;
        int r = oci_load(o, id, &dfd, &st);
        if (r < 0)
                return r;
        OciStatus status = oci_state_status(dfd, &st);
        if (status == OCI_STATUS_STOPPED || status == OCI_STATUS_PAUSED)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "cannot exec in a %s container", oci_status_name(status));
        _cleanup_free_ char *buf = NULL, *err = NULL;
        size_t len;
        r = read_file_at(AT_FDCWD, o->process, OCI_SPEC_MAX_SIZE, &buf, &len);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", o->process);
        _cleanup_(oci_process_done) OciProcess p = {};
        r = oci_process_parse(buf, len, &p, &err);
        if (r < 0)
                return log_error_errno(r, "%s: %s", o->process, err);
        _cleanup_(oci_spec_done) OciSpec spec = {};
        if ((r = oci_load_spec(dfd, id, &spec)) < 0)
                return r;
        ExecContext e = { .o = o, .st = &st, .p = &p, .seccomp = spec.seccomp, .terminal = p.terminal || o->tty };
        if (e.terminal && !o->console_socket)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "A terminal needs --console-socket.");
        closep(&dfd);
        _cleanup_close_ int pidfd = pidfd_open_checked(st.pid, st.starttime);
        if (pidfd < 0)
                return log_error_errno(pidfd, "cannot exec in a stopped container");

        /* In the foreground the process must come back to us when the
         * middle child exits; detached, to the engine (its subreaper). */
        if (!o->detach && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return log_error_errno(errno, "prctl failed: %m");
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return log_error_errno(errno, "socketpair failed: %m");
        _cleanup_close_ int sync = sp[0], peer = sp[1];
        pid_t child = fork();
        if (child < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (child == 0) {
                closep(&sync);
                int keep[2 + 1024];
                size_t nk = 0;
                keep[nk++] = peer;
                for (unsigned i = 0; i < o->preserve_fds && nk < ELEMENTSOF(keep); i++)
                        keep[nk++] = 3 + (int) i;
                keep[nk++] = pidfd;
                (void) close_all_fds_except(keep, nk);
                exec_child(&e, pidfd, peer);
        }
        closep(&peer);
        pid_t pid = 0;
        r = 0;
        for (;;) {
                SyncMsg m;
                int fd = -EBADF;
                int k = sync_recv(sync, &m, &fd);
                _cleanup_close_ int msgfd = fd;
                if (k == -EPIPE)
                        break; /* exec'd: the socket closed on exec */
                if (k < 0) {
                        r = log_error_errno(k, "Lost the exec'd process: %m");
                        break;
                }
                if (m.type == SYNC_ERROR) {
                        r = log_error_errno(m.value, "%s", m.text);
                        break;
                }
                if (m.type == SYNC_PID) {
                        pid = (pid_t) m.value;
                        (void) waitpid(child, NULL, 0);
                        child = 0;
                } else if (m.type == SYNC_PTY && msgfd >= 0) {
                        k = console_socket_send(o->console_socket, msgfd, m.text);
                        if (k < 0) {
                                r = log_error_errno(k, "Cannot send the pty to %s: %m", o->console_socket);
                                break;
                        }
                }
        }
        if (child > 0) {
                (void) kill(child, SIGKILL);
                (void) waitpid(child, NULL, 0);
        }
        if (r < 0 || pid <= 0) {
                if (pid > 0)
                        (void) kill(pid, SIGKILL);
                return r < 0 ? r : log_error_errno(SYNTHETIC_ERRNO(ECHILD), "The exec'd process did not start.");
        }
        if (o->pid_file && (r = oci_write_pid_file(o->pid_file, pid)) < 0)
                return log_error_errno(r, "Cannot write the pid file %s: %m", o->pid_file);
        if (o->detach)
                return 0;
        /* Foreground: our exit status is the process's. */
        r = wait_child(pid);
        return r < 0 ? log_error_errno(r, "Cannot wait for the process: %m") : 1000 + r;
}
