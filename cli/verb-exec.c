/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth exec and berth shell: run a command inside a running machine,
 * directly (no agent or D-Bus in the guest).
 *
 * Two processes: berth itself stays on the host and relays the terminal
 * and signals; its child, born in the machine's PID namespace (berth enters
 * it for its children only, then leaves it again), joins the init's cgroups
 * and its other namespaces through its pidfd, opens a pty in the machine's
 * own devpts for -t, takes the machine's capability bounding set, its
 * seccomp filter and the
 * requested user.  The command's exit status is berth's.  The entering
 * itself is lib/enter.c; here are the user, the terminal and the relay. */

#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "berth.h"
#include "cgroup.h"
#include "enter.h"
#include "fdpass.h"
#include "fs.h"
#include "log.h"
#include "passwd.h"
#include "runtime.h"
#include "spawn.h"
#include "terminal.h"
#include "util.h"


static int wait_status(pid_t pid) {
        int r = wait_child(pid);
        return r < 0 ? ERR_FAILED : r;
}

_noreturn_ static void fail_exit(int r, const char *what) {
        log_error_errno(r, "%s: %m", what);
        _exit(EXIT_EXEC_FAIL);
}

static char **build_env(const ExecOptions *o, const PasswdEntry *pw) {
        char **env = NULL;
        env = strv_append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        env = strv_append(env, "container=berth");
        const char *term = getenv("TERM");
        _cleanup_free_ char *t = xasprintf("TERM=%s", term && o->tty ? term : "dumb");
        if (o->tty || term)
                env = strv_append(env, t);
        _cleanup_free_ char *home = xasprintf("HOME=%s", pw->home);
        _cleanup_free_ char *user = xasprintf("USER=%s", pw->name);
        _cleanup_free_ char *logname = xasprintf("LOGNAME=%s", pw->name);
        _cleanup_free_ char *shell = xasprintf("SHELL=%s", pw->shell);
        env = strv_append(env, home);
        env = strv_append(env, user);
        env = strv_append(env, logname);
        env = strv_append(env, shell);
        /* --setenv last: it overrides what came before. */
        for (char **s = o->setenv; s && *s; s++) {
                size_t k = strcspn(*s, "=");
                for (char **e = env; *e; e++)
                        if (strncmp(*e, *s, k + 1) == 0) {
                                free(*e);
                                *e = xstrdup(*s);
                                goto next;
                        }
                env = strv_append(env, *s);
        next:;
        }
        return env;
}

/* In the grandchild, inside every namespace of the machine: terminal, user,
 * directory, then exec. */
_noreturn_ static void run_command(const ExecOptions *o, uint64_t bounding, int master, const PasswdEntry *pw,
                                   const gid_t *groups, size_t n_groups) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                fail_exit(errno, "prctl failed");

        /* A session of its own, always: the caller's terminal must never be
         * the controlling terminal of anything in the machine. */
        if (setsid() < 0)
                fail_exit(errno, "setsid failed");
        /* Out of the caller's process group now: the command may have Ctrl-C back. */
        (void) signal(SIGINT, SIG_DFL);
        (void) signal(SIGQUIT, SIG_DFL);
        if (master >= 0) {
                /* TIOCGPTPEER opens the slave from the master: no path lookup in /dev/pts. */
                int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (slave < 0)
                        fail_exit(errno, "Failed to open the pty");
                if (ioctl(slave, TIOCSCTTY, 0) < 0)
                        fail_exit(errno, "Failed to make the pty the controlling terminal");
                for (int fd = 0; fd < 3; fd++)
                        if (dup2(slave, fd) < 0)
                                fail_exit(errno, "dup2 failed");
                close(slave);
                close(master);
        } else if (!o->interactive) {
                /* The machine's /dev/null: O_NONBLOCK, a FIFO there must not hang us. */
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0)
                        fail_exit(errno, "Failed to open /dev/null in the machine");
        }

        if (enter_drop_privileges(bounding, pw->uid, pw->gid, groups, n_groups) < 0)
                _exit(EXIT_EXEC_FAIL);

        const char *dir = o->cwd ?: o->login ? pw->home : "/";
        if (chdir(dir) < 0) {
                if (o->cwd)
                        fail_exit(errno, "Failed to change to the requested directory");
                (void) chdir("/");
        }

        _cleanup_strv_free_ char **env = build_env(o, pw);
        if (o->cmd && o->cmd[0]) {
                /* PATH lookup uses the machine's PATH, not ours. */
                environ = env;
                execvp(o->cmd[0], o->cmd);
                int e = errno;
                log_error_errno(e, "Failed to execute '%s' in the machine: %m", o->cmd[0]);
                _exit(e == ENOENT ? 127 : 126);
        }
        /* A login shell: argv[0] is "-" and the shell's name. */
        const char *base = strrchr(pw->shell, '/');
        _cleanup_free_ char *argv0 = xasprintf("-%s", base ? base + 1 : pw->shell);
        char *argv[] = { argv0, NULL };
        execve(pw->shell, argv, env);
        int e = errno;
        log_error_errno(e, "Failed to execute the shell %s in the machine: %m", pw->shell);
        _exit(e == ENOENT ? 127 : 126);
}

/* The child, already in the machine's PID namespace: joins the rest of the
 * machine and becomes the command. */
_noreturn_ static void enter_and_run(pid_t leader, int pidfd, int sock, const ExecOptions *o) {
        /* SIGINT and SIGQUIT keep berth's dispositions: until run_command()
         * gives us a session of our own, a Ctrl-C on the caller's terminal
         * reaches us too (we are in berth's process group) and ends the exec,
         * so whatever the guest could make us wait for before the command
         * runs can be interrupted. */
        uint64_t bounding;
        if (enter_protect() < 0 || enter_namespaces(leader, pidfd, &bounding) < 0)
                _exit(EXIT_EXEC_FAIL);

        /* The user, from the machine's own files (no NSS in here), which the
         * guest may have made FIFOs, devices or huge files. */
        PasswdEntry pw;
        _cleanup_fclose_ FILE *pf = NULL;
        int pr = passwd_file_open("/etc/passwd", &pf);
        bool root = !o->user || streq(o->user, "root") || streq(o->user, "0");
        if (pr < 0 && pr != -ENOENT) {
                if (!root) {
                        log_error("Cannot look up user '%s': the machine's /etc/passwd cannot be used, %s.",
                                  o->user, passwd_file_problem(pr));
                        _exit(EXIT_EXEC_FAIL);
                }
                log_warning("Ignoring the machine's /etc/passwd: %s. Running as root with HOME=/root and "
                            "SHELL=/bin/sh.",
                            passwd_file_problem(pr));
        }
        int r;
        if (root) {
                r = pf ? passwd_lookup(pf, "0", &pw) : -ENOENT;
                if (r < 0)
                        pw = (PasswdEntry) { .name = xstrdup("root"), .home = xstrdup("/root"),
                                             .shell = xstrdup("/bin/sh") };
        } else {
                r = pf ? passwd_lookup(pf, o->user, &pw) : -ENOENT;
                if (r < 0) {
                        log_error("No user '%s' in the machine's /etc/passwd.", o->user);
                        _exit(EXIT_EXEC_FAIL);
                }
        }
        _cleanup_fclose_ FILE *gf = NULL;
        r = passwd_file_open("/etc/group", &gf);
        if (r < 0 && r != -ENOENT)
                log_warning("Ignoring the machine's /etc/group: %s. No supplementary groups.",
                            passwd_file_problem(r));
        _cleanup_free_ gid_t *groups = NULL;
        size_t n_groups = 0;
        (void) group_list_for(gf, pw.name, pw.gid, &groups, &n_groups);

        _cleanup_close_ int master = -EBADF;
        if (o->tty) {
                /* The machine's own devpts: the pty belongs to the machine. */
                master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (master < 0)
                        fail_exit(errno, "Failed to open /dev/ptmx in the machine");
                int unlock = 0;
                if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
                        fail_exit(errno, "Failed to unlock the pty");
                if (send_fds(sock, &master, 1) < 0)
                        fail_exit(errno, "Failed to hand the pty to berth");
        }
        close(sock);
        run_command(o, bounding, master, &pw, groups, n_groups);
}

static bool command_exited(pid_t pid) {
        siginfo_t info = {};
        /* WNOWAIT: leave the status for wait_status(). */
        return waitid(P_PID, (id_t) pid, &info, WEXITED | WNOHANG | WNOWAIT) >= 0 && info.si_pid == pid;
}

#define RELAY_CHUNK (128 * 1024)

/* One direction of the relay: bytes from FROM are written to TO.  Output
 * (from the command) goes to our stdout or stderr with blocking writes:
 * whoever reads those is not waiting for the command.  Input (our stdin, to
 * the command) is held in BUF while the command does not take it, so that
 * a command busy writing its output is never waited for by us. */
typedef struct Channel {
        int from, to;
        bool input;
        bool close_to_at_eof; /* our end of a pipe to the command: EOF passes on */
        bool to_terminal;     /* output shown on a terminal: watch it for queries */
        size_t off, len;      /* input: BUF[OFF..LEN) is still to be written */
        char buf[65536];
} Channel;

static void channel_close_input(Channel *c) {
        c->from = -1;
        c->off = c->len = 0;
        if (c->close_to_at_eof)
                closep(&c->to);
        else
                c->to = -1;
}

/* Move input on: what is held first, then a new read.  TO is non-blocking. */
static void channel_input(Channel *c) {
        if (c->off == c->len) {
                ssize_t n = read(c->from, c->buf, sizeof c->buf);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        return;
                if (n <= 0) {
                        channel_close_input(c);
                        return;
                }
                c->off = 0;
                c->len = (size_t) n;
        }
        ssize_t n = write(c->to, c->buf + c->off, c->len - c->off);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n < 0) {
                /* The command closed its stdin: the rest is not for anyone. */
                channel_close_input(c);
                return;
        }
        c->off += (size_t) n;
}

/* Move one chunk of output on.  Returns > 0 if there was some, 0 at EOF,
 * -EAGAIN if none is there now.  When TO fails (a closed pipe: our reader
 * is gone) our end of the command's pipe is closed, so that the command
 * learns it as it would have without us: EPIPE or SIGPIPE.  The pty cannot
 * say so: its output is then read and dropped. */
static int channel_output(Channel *c, char *buf, int master, bool *may_answer) {
        ssize_t n = read(c->from, buf, RELAY_CHUNK);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return -EAGAIN;
        if (n <= 0)
                return 0; /* EOF, or EIO on a pty: every holder of the slave is gone */
        if (c->to < 0)
                return 1;
        if (c->to_terminal && !*may_answer)
                *may_answer = term_may_answer(buf, (size_t) n);
        if (write_all(c->to, buf, (size_t) n) < 0) {
                if (c->from == master)
                        c->to = -1;
                else
                        return 0;
        }
        return 1;
}

static void channel_close_output(Channel *c, int master) {
        if (c->from != master)
                closep(&c->from);
        c->from = -1;
}

/* Relay our terminal or stdio to the command (a pty master, or pipes: the
 * command never holds one of our fds) until the command is gone; forward
 * signals meant for it.  MASTER >= 0 in pty mode.  *MAY_ANSWER: some of the
 * output went to a terminal and could make it answer. */
static void relay(pid_t pid, int master, Channel *ch, size_t n_ch, int cmdfd, int sfd, bool raw,
                  bool *may_answer) {
        _cleanup_(term_restorep) TermState ts = TERM_STATE_INIT;
        if (master >= 0) {
                if (raw)
                        (void) term_make_raw(STDIN_FILENO, &ts);
                struct winsize ws;
                if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) >= 0 || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0)
                        (void) ioctl(master, TIOCSWINSZ, &ws);
        }
        /* Our ends only: our stdio is shared with the shell and stays as it is. */
        for (size_t i = 0; i < n_ch; i++) {
                int own = ch[i].input ? ch[i].to : ch[i].from;
                (void) fcntl(own, F_SETFL, fcntl(own, F_GETFL) | O_NONBLOCK);
                ch[i].to_terminal = !ch[i].input && isatty(ch[i].to);
        }
        _cleanup_free_ char *buf = xmalloc(RELAY_CHUNK);
        for (;;) {
                struct pollfd p[1 + 4] = { { .fd = sfd, .events = POLLIN } };
                for (size_t i = 0; i < n_ch; i++) {
                        bool held = ch[i].off < ch[i].len;
                        p[1 + i] = held ? (struct pollfd) { .fd = ch[i].to, .events = POLLOUT }
                                        : (struct pollfd) { .fd = ch[i].from, .events = POLLIN };
                }
                if (poll(p, 1 + n_ch, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                for (size_t i = 0; i < n_ch; i++) {
                        if (p[1 + i].fd < 0 || !p[1 + i].revents)
                                continue;
                        if (ch[i].input) {
                                channel_input(&ch[i]);
                                continue;
                        }
                        if (channel_output(&ch[i], buf, master, may_answer) != 0)
                                continue;
                        if (ch[i].from == master)
                                return;
                        channel_close_output(&ch[i], master);
                }
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof si) == (ssize_t) sizeof si) {
                                if (si.ssi_signo == SIGCHLD)
                                        continue; /* checked below */
                                if (si.ssi_signo == SIGWINCH) {
                                        struct winsize ws;
                                        if (master >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) >= 0)
                                                (void) ioctl(master, TIOCSWINSZ, &ws);
                                        continue;
                                }
                                /* The command has a session of its own: the terminal's
                                 * Ctrl-C reaches only us, and we pass it on. */
                                (void) syscall(SYS_pidfd_send_signal, cmdfd, si.ssi_signo, NULL, 0);
                        }
                }
                /* When the command has ended, take what output is left and leave,
                 * even if something it started in the background still writes. */
                if (command_exited(pid)) {
                        for (size_t i = 0; i < n_ch; i++)
                                if (!ch[i].input && ch[i].from >= 0)
                                        while (channel_output(&ch[i], buf, master, may_answer) > 0)
                                                ;
                        return;
                }
        }
}

/* Close the child's ends of the relay pipes and our own: closing ours tells
 * anything still writing.  KEEP (the pty master) is closed by the caller. */
static void close_pipes(int child_end[3], Channel *ch, size_t n_ch, int keep) {
        for (int fd = 0; fd < 3; fd++)
                closep(&child_end[fd]);
        for (size_t i = 0; i < n_ch; i++) {
                if (ch[i].close_to_at_eof)
                        closep(&ch[i].to);
                else if (ch[i].from > STDERR_FILENO && ch[i].from != keep)
                        closep(&ch[i].from);
        }
}

/* Our stdio as the command gets them: fd 0..2 open (else a pipe of ours
 * could take the number of a closed one), and 1 and 2 the same open file
 * (2>&1) sharing one pipe, so that their order is kept. */
static void stdio_prepare(bool *ret_shared_output) {
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
                        int null = open("/dev/null", O_RDWR); /* the lowest free number: FD */
                        if (null >= 0 && null != fd)
                                close(null);
                }
        pid_t self = getpid();
        *ret_shared_output = syscall(SYS_kcmp, self, self, KCMP_FILE, STDOUT_FILENO, STDERR_FILENO) == 0;
}

int machine_exec(Context *ctx, const char *name, const ExecOptions *o) {
        /* exec's own failures are 125 (exit_code_of()), but for no such
         * machine and not running: those have codes of their own. */
        int r = look_up_machine(ctx, name);
        if (r != 0)
                return r;
        RuntimeState st;
        if (runtime_is_active(ctx->store.run_fd, name) <= 0 ||
            runtime_state_read(ctx->store.run_fd, name, &st) < 0) {
                log_error("Machine '%s' is not running. Start it with 'berth start %s'.", name, name);
                return ERR_NOT_RUNNING;
        }
        _cleanup_close_ int pidfd = runtime_open_init_pidfd(&st);
        if (pidfd < 0) {
                log_error_errno(pidfd, "Cannot find the init of machine '%s': %m", name);
                return ERR_FAILED;
        }

        /* A user's machine that is a unit of the user's systemd: the command
         * goes into the unit's cgroup where the init is, under its limits
         * (enter_fork()).  The init's place is read now: a guest's own
         * systemd moves it (payload/init.scope); systemd keeps the place
         * within the unit.  Not being able to is an error: an exec that
         * escapes the limits is what this prevents. */
        _cleanup_free_ char *subcgroup = NULL;
        EnterUnit unit = { .unit = st.unit };
        bool join_unit = geteuid() != 0 && st.delegated && !isempty(st.unit);
        if (join_unit) {
                r = cgroup_subgroup_of(st.init_pid, st.cgroup, &subcgroup);
                if (r < 0) {
                        log_error_errno(r, "Cannot find the init of machine '%s' in the cgroup of %s (/%s): %m",
                                        name, st.unit, st.cgroup);
                        return ERR_FAILED;
                }
                unit.subcgroup = subcgroup;
        }

        /* For -t the child hands back the pty master it opened in the machine. */
        _cleanup_close_ int sock = -EBADF, child_sock = -EBADF;
        if (o->tty) {
                int sp[2];
                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
                        log_error_errno(errno, "socketpair failed: %m");
                        return ERR_FAILED;
                }
                sock = sp[0];
                child_sock = sp[1];
        }

        /* Without a pty the command gets pipes that we relay, never one of
         * our fds: not our terminal (anything it leaves running in the machine
         * could keep reading it), nor a file or pipe (reopened through
         * /proc/self/fd it would be readable, and writable after we return). */
        bool shared_output;
        stdio_prepare(&shared_output);
        int child_end[3] = { -1, -1, -1 };
        Channel ch[4];
        size_t n_ch = 0;
        for (int fd = 0; !o->tty && fd < 3; fd++) {
                if (fd == 0 && !o->interactive)
                        continue; /* /dev/null, opened in the machine */
                if (fd == STDERR_FILENO && shared_output) {
                        child_end[fd] = fcntl(child_end[STDOUT_FILENO], F_DUPFD_CLOEXEC, 3);
                        if (child_end[fd] >= 0)
                                continue;
                }
                int pp[2];
                if (pipe2(pp, O_CLOEXEC) < 0) {
                        log_error_errno(errno, "Failed to create a pipe for the command's stdio: %m");
                        close_pipes(child_end, ch, n_ch, -EBADF);
                        return ERR_FAILED;
                }
                child_end[fd] = fd == 0 ? pp[0] : pp[1];
                ch[n_ch++] = fd == 0 ? (Channel) { .from = STDIN_FILENO, .to = pp[1], .input = true,
                                                   .close_to_at_eof = true }
                                     : (Channel) { .from = pp[0], .to = fd };
        }

        /* Signals become events; blocked before the fork so none is lost. */
        sigset_t mask;
        sigemptyset(&mask);
        static const int relayed[] = { SIGCHLD, SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
        for (size_t i = 0; i < ELEMENTSOF(relayed); i++)
                sigaddset(&mask, relayed[i]);
        sigset_t old;
        sigprocmask(SIG_BLOCK, &mask, &old);

        /* The child is born in the machine's PID namespace; whatever else
         * berth forks stays on the host. */
        pid_t pid = enter_fork(pidfd, name, join_unit ? &unit : NULL, EXIT_EXEC_FAIL);
        if (pid == 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                for (int fd = 0; fd < 3; fd++)
                        if (child_end[fd] >= 0 && dup2(child_end[fd], fd) < 0)
                                _exit(EXIT_EXEC_FAIL);
                /* Nothing of ours may leak into the machine. */
                int keep[] = { pidfd, child_sock };
                (void) close_all_fds_except(keep, ELEMENTSOF(keep));
                enter_and_run(st.init_pid, pidfd, child_sock, o);
        }
        if (pid < 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                close_pipes(child_end, ch, n_ch, -EBADF);
                return ERR_FAILED;
        }
        closep(&pidfd);
        closep(&child_sock);
        for (int fd = 0; fd < 3; fd++)
                closep(&child_end[fd]);

        _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        _cleanup_close_ int cmdfd = (int) syscall(SYS_pidfd_open, pid, 0);
        int master = -EBADF;
        bool may_answer = false;
        /* No pty back means the child failed before it opened one (and said why). */
        if (sfd >= 0 && cmdfd >= 0 && (!o->tty || recv_fds(sock, &master, 1) >= 0)) {
                if (master >= 0) {
                        ch[n_ch++] = (Channel) { .from = master, .to = STDOUT_FILENO };
                        if (o->interactive)
                                ch[n_ch++] = (Channel) { .from = STDIN_FILENO, .to = master, .input = true };
                }
                /* A reader of our output that is gone is an error to handle, and
                 * the command's to see (channel_output()), not our death. */
                void (*old_sigpipe)(int) = signal(SIGPIPE, SIG_IGN);
                relay(pid, master, ch, n_ch, cmdfd, sfd, o->interactive, &may_answer);
                (void) signal(SIGPIPE, old_sigpipe);
        }
        close_pipes(child_end, ch, n_ch, master);
        closep(&master);
        int status = wait_status(pid);
        if (may_answer)
                term_discard_answers();
        sigprocmask(SIG_SETMASK, &old, NULL);
        return status;
}

int exec_option(int c, const char *arg, ExecOptions *o, char ***setenv) {
        switch (c) {
        case 't':
                o->tty = true;
                return 0;
        case 'i':
                o->interactive = true;
                return 0;
        case 'u':
                o->user = arg;
                return 0;
        case 'w':
                if (arg[0] != '/') {
                        log_error("--cwd needs an absolute path inside the machine.");
                        return ERR_USAGE;
                }
                o->cwd = arg;
                return 0;
        case 'E':
                if (!strchr(arg, '=') || arg[0] == '=') {
                        log_error("--setenv wants NAME=VALUE, got '%s'.", arg);
                        return ERR_USAGE;
                }
                *setenv = strv_append(*setenv, arg);
                o->setenv = *setenv;
                return 0;
        default:
                return ERR_USAGE;
        }
}

int name_and_command(const OptionParser *p, bool command_required, const char **ret_name, char ***ret_cmd) {
        if (p->n_args < 1)
                /* The name of the first argument, as the usage line has it. */
                return usage_error(p->verb, "missing %.*s.", (int) strcspn(p->verb->args, " "), p->verb->args);
        if (command_required && p->n_args < 2)
                return usage_error(p->verb, "no command given.");
        const char *name = p->args[0];
        int r = check_name(name);
        if (r != 0)
                return r;
        *ret_name = name;
        *ret_cmd = p->args + 1;
        return 0;
}

static int parse_exec_options(OptionParser *p, ExecOptions *o, char ***setenv) {
        int c;
        while ((c = option_next(p)) > 0) {
                int r = exec_option(c, p->arg, o, setenv);
                if (r != 0)
                        return r;
        }
        return c;
}

static const OptionSpec exec_options[] = {
        EXEC_OPTION_TTY,
        EXEC_OPTION_INTERACTIVE,
        EXEC_OPTIONS_USER,
        {},
};

const VerbSpec exec_verb = {
        .name = "exec",
        .func = verb_exec,
        .args = "NAME [--] COMMAND [ARGS...]",
        .summary = "Run a command in a running machine; its exit status is berth's",
        .example = "exec web -- systemctl is-system-running\nexec -t --user alice web bash",
        .options = exec_options,
        .runs_command = true,
        .n_before_command = 1,
        .complete = COMPLETE_RUNNING,
        .rootless = true,
};

/* Our stdin is a pipe or a file with data waiting in it (not a terminal,
 * not /dev/null): input someone meant for the command, probably.  A pipe's
 * writer may not have written yet: best effort, it only decides a warning. */
static bool stdin_has_data(void) {
        struct stat st;
        if (fstat(STDIN_FILENO, &st) < 0)
                return false;
        if (S_ISREG(st.st_mode)) {
                off_t pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
                return pos >= 0 && pos < st.st_size;
        }
        if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
                return false;
        struct pollfd pf = { .fd = STDIN_FILENO, .events = POLLIN };
        return poll(&pf, 1, 0) > 0 && (pf.revents & POLLIN);
}

int verb_exec(Context *ctx, int argc, char **argv) {
        _cleanup_strv_free_ char **setenv = NULL;
        ExecOptions o = {};
        OptionParser p;
        option_parser_init(&p, &exec_verb, argc, argv);
        int r = parse_exec_options(&p, &o, &setenv);
        if (r != 0)
                return r;
        const char *name;
        r = name_and_command(&p, true, &name, &o.cmd);
        if (r != 0)
                return r;
        /* As podman exec: stdin goes to the command only with -i, so that a
         * script's loop over its own stdin is not eaten by the first exec
         * (ssh's -n problem); shell, a session, always passes it.  Data
         * piped in without -i would vanish unnoticed: say so. */
        if (!o.interactive && stdin_has_data())
                log_warning("stdin has data, which is not passed to the command without -i (--interactive); "
                            "add -i to pass it, or </dev/null if it is not for the command.");
        return machine_exec(ctx, name, &o);
}

/* No -t or -i: berth shell decides about the terminal itself. */
static const OptionSpec shell_options[] = {
        EXEC_OPTIONS_USER,
        {},
};

const VerbSpec shell_verb = {
        .name = "shell",
        .func = verb_shell,
        .args = "NAME [COMMAND...]",
        .summary = "A login shell (or COMMAND) in a running machine, on a pty when on a terminal",
        .example = "shell web\nshell --user alice web",
        .options = shell_options,
        .runs_command = true,
        .n_before_command = 1,
        .complete = COMPLETE_RUNNING,
        .rootless = true,
};

int verb_shell(Context *ctx, int argc, char **argv) {
        _cleanup_strv_free_ char **setenv = NULL;
        ExecOptions o = { .login = true, .interactive = true };
        OptionParser p;
        option_parser_init(&p, &shell_verb, argc, argv);
        int r = parse_exec_options(&p, &o, &setenv);
        if (r != 0)
                return r;
        const char *name;
        r = name_and_command(&p, false, &name, &o.cmd);
        if (r != 0)
                return r;
        /* Like a login: a terminal when we have one, plain pipes otherwise. */
        o.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        return machine_exec(ctx, name, &o);
}
