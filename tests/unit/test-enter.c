/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/enter.c: the "same namespace?" check, and enter_fork() into the PID
 * namespace of another process.  Needs root (unshare); skipped without. */
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enter.h"
#include "fs.h"
#include "log.h"
#include "tap.h"
#include "util.h"

/* A process in namespaces of its own (FLAGS), until killed.  With
 * CLONE_NEWPID only a child is born into the new PID namespace: *RET_TARGET
 * is then our grandchild, PID 1 over there.  Returns our child, or -1. */
static pid_t spawn_in_new_ns(int flags, pid_t *ret_target) {
        int p[2];
        if (pipe(p) < 0)
                return -1;
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                close(p[0]);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (unshare(flags) < 0)
                        _exit(1);
                pid_t target = getpid();
                if (flags & CLONE_NEWPID) {
                        target = fork(); /* its number in our namespace */
                        if (target < 0)
                                _exit(1);
                        if (target == 0) {
                                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                                pause();
                                _exit(0);
                        }
                }
                if (write(p[1], &target, sizeof target) != (ssize_t) sizeof target)
                        _exit(1);
                pause();
                _exit(0);
        }
        close(p[1]);
        pid_t target = -1;
        if (read(p[0], &target, sizeof target) != (ssize_t) sizeof target)
                target = -1;
        close(p[0]);
        if (target <= 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return -1;
        }
        *ret_target = target;
        return pid;
}

static void reap(pid_t pid, pid_t target) {
        /* The target of a PID namespace is not ours to wait for. */
        if (target != pid)
                (void) kill(target, SIGKILL);
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

static bool same_inode(const char *a, const char *b) {
        struct stat sa, sb;
        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

static void test_same_namespace(void) {
        TEST_ASSERT(same_namespace(getpid(), "net"), "we share our own network namespace");
        TEST_ASSERT(same_namespace(getpid(), "user"), "we share our own user namespace");
        TEST_ASSERT(!same_namespace(getpid(), "nonsense"), "an unknown namespace is not shared");
        TEST_ASSERT(!same_namespace(-2, "net"), "no process: not shared");

        pid_t target;
        pid_t pid = spawn_in_new_ns(CLONE_NEWNET, &target);
        if (!TEST_ASSERT(pid > 0, "a process in a network namespace of its own"))
                return;
        TEST_ASSERT(!same_namespace(target, "net"), "its network namespace is not ours");
        TEST_ASSERT(same_namespace(target, "user"), "its user namespace is ours");
        reap(pid, target);
}

static void test_enter_fork(void) {
        pid_t leader;
        pid_t child = spawn_in_new_ns(CLONE_NEWPID, &leader);
        if (!TEST_ASSERT(child > 0, "a process in a PID namespace of its own"))
                return;
        int pidfd = (int) syscall(SYS_pidfd_open, leader, 0);
        if (!TEST_ASSERT(pidfd >= 0, "a pidfd of its PID 1")) {
                reap(child, leader);
                return;
        }

        int p[2];
        if (pipe(p) < 0)
                abort();
        pid_t pid = enter_fork(pidfd, "test", NULL, 99);
        if (pid == 0) {
                /* Born there: the next number after PID 1 is 2. */
                pid_t self = getpid();
                _exit(write(p[1], &self, sizeof self) == (ssize_t) sizeof self ? 0 : 1);
        }
        close(p[1]);
        TEST_ASSERT(pid > 0, "enter_fork() made a child");
        pid_t inside = -1;
        if (read(p[0], &inside, sizeof inside) != (ssize_t) sizeof inside)
                inside = -1;
        close(p[0]);
        TEST_ASSERT(inside == 2, "the child was born in that PID namespace (pid %d there)", (int) inside);
        TEST_ASSERT(!same_namespace(pid, "pid"), "the child's PID namespace is not ours");
        TEST_ASSERT(same_inode("/proc/self/ns/pid", "/proc/self/ns/pid_for_children"),
                    "we are back in our own PID namespace for what we fork next");
        int status = -1;
        (void) waitpid(pid, &status, 0);
        TEST_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ran");
        close(pidfd);
        reap(child, leader);

        /* A pidfd of no PID namespace: nothing forked, an error back. */
        log_set_max_level(LOG_CRIT);
        pid = enter_fork(-1, "test", NULL, 99);
        log_set_max_level(LOG_INFO);
        if (pid == 0)
                _exit(0);
        TEST_ASSERT(pid == -EBADF, "enter_fork() with a bad pidfd fails (%d)", (int) pid);
}

int main(void) {
        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root\n");
                return 0;
        }
        test_same_namespace();
        test_enter_fork();
        return tap_finish();
}
