/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "remote-host.h"
#include "tap.h"
#include "util.h"

static void test_host_good(const char *s, const char *destination, unsigned port) {
        RemoteHost h = {};
        const char *reason = NULL;
        int r = remote_host_parse(s, &h, &reason);
        if (!TEST_ASSERT(r == 0 && h.destination && streq(h.destination, destination) && h.port == port,
                         "host \"%s\" is %s port %u", s, destination, port))
                tap_diag("r=%d destination=%s port=%u reason=%s", r, h.destination ?: "(null)", h.port,
                         reason ?: "(null)");
        remote_host_done(&h);
}

static void test_host_bad(const char *desc, const char *s) {
        RemoteHost h = {};
        const char *reason = NULL;
        int r = remote_host_parse(s, &h, &reason);
        if (!TEST_ASSERT(r == -EINVAL && reason && !h.destination, "host %s refused", desc))
                tap_diag("r=%d destination=%s", r, h.destination ?: "(null)");
        remote_host_done(&h);
}

static void test_quote(const char *s, const char *expected) {
        _cleanup_free_ char *q = shell_quote(s);
        TEST_ASSERT_STREQ(q, expected, "quote of \"%s\"", s);
}

/* The real proof: the shell SHELL (a remote login shell may be any of
 * them) given the joined line hands each word over unchanged.  SHELL -c
 * "printf '%s\0' WORDS" prints every word with a NUL after it; nothing in a
 * hostile word may run (the canary file stays absent) or change a word. */
static void test_round_trip(const char *shell, char *const *words, const char *canary) {
        if (access(shell, X_OK) < 0) {
                /* tests/run installs them all (zsh in its package list). */
                TEST_ASSERT(false, "%s is installed", shell);
                return;
        }
        _cleanup_free_ char *joined = shell_join(words);
        _cleanup_free_ char *line = xasprintf("printf '%%s\\0' %s", joined);
        char *argv[] = { (char *) shell, (char *) "-c", line, NULL };

        int fds[2];
        if (pipe(fds) < 0)
                abort();
        pid_t pid = fork();
        if (pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                close(fds[0]);
                execv(shell, argv);
                _exit(127);
        }
        close(fds[1]);
        char buf[8192];
        size_t n = 0;
        ssize_t k;
        while ((k = read(fds[0], buf + n, sizeof buf - n)) > 0)
                n += (size_t) k;
        close(fds[0]);
        int status;
        waitpid(pid, &status, 0);

        size_t expected = 0, i = 0;
        bool same = true;
        for (; words[i]; i++) {
                size_t l = strlen(words[i]) + 1;
                if (expected + l > n || memcmp(buf + expected, words[i], l) != 0) {
                        same = false;
                        tap_diag("word %zu \"%s\" did not arrive verbatim", i, words[i]);
                        break;
                }
                expected += l;
        }
        TEST_ASSERT(same && expected == n && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                    "%s -c gets all %zu words verbatim", shell, i);
        struct stat st;
        TEST_ASSERT(stat(canary, &st) < 0 && errno == ENOENT, "nothing in the words was run by %s", shell);
}

int main(void) {
        test_host_good("host", "host", 0);
        test_host_good("root@host.example", "root@host.example", 0);
        test_host_good("10.1.2.3:2222", "10.1.2.3", 2222);
        test_host_good("admin@10.1.2.3:22", "admin@10.1.2.3", 22);
        test_host_good("::1", "::1", 0);
        test_host_good("[::1]:2200", "::1", 2200);
        test_host_good("me@[fe80::1]", "me@fe80::1", 0);

        test_host_bad("empty", "");
        test_host_bad("with a leading '-'", "-oProxyCommand=touch /tmp/x");
        test_host_bad("with a '-' after the user", "root@-oProxyCommand=x");
        test_host_bad("with a space", "host name");
        test_host_bad("with a tab", "host\tname");
        test_host_bad("with a newline", "host\n-x");
        test_host_bad("with an empty user", "@host");
        test_host_bad("with an empty name", "root@");
        test_host_bad("with only a port", ":22");
        test_host_bad("with port 0", "host:0");
        test_host_bad("with port 65536", "host:65536");
        test_host_bad("with a port that is no number", "host:ssh");
        test_host_bad("with an unterminated '['", "[::1:22");
        test_host_bad("with two '@'", "a@b@host");
        /* ssh < 9.6 gives user and host to a ProxyCommand's shell unquoted. */
        test_host_bad("with '$' in the host", "h$(touch x)");
        test_host_bad("with '`' in the host", "h`id`");
        test_host_bad("with ';' in the host", "h;id");
        test_host_bad("with '|' in the host", "h|id");
        test_host_bad("with a quote in the host", "h'x");
        test_host_bad("with a double quote in the host", "h\"x");
        test_host_bad("with '$' in the user", "$(id)@host");
        test_host_bad("with '`' in the user", "`id`@host");
        test_host_bad("with ';' in the user", "a;b@host");
        test_host_bad("with '&' in the user", "a&b@host");
        test_host_bad("with a quote in the user", "a'b@host");
        test_host_bad("with a user starting with '-'", "-oProxyCommand=x@host");
        test_host_bad("with ':' in a host name", "a:b:c.example");
        test_host_bad("with '%' in the host", "h%x");
        test_host_bad("with a non-ASCII host", "h\xc3\xa9");
        test_host_good("user.name-1_x@my-host_1.example", "user.name-1_x@my-host_1.example", 0);
        test_host_good("[2001:db8::1]:22", "2001:db8::1", 22);

        test_quote("list", "list");
        test_quote("--root=/var/lib/x", "--root=/var/lib/x");
        test_quote("", "''");
        test_quote("a b", "'a b'");
        test_quote("it's", "'it'\\''s'");
        test_quote("$(touch /tmp/x)", "'$(touch /tmp/x)'");
        test_quote("a\nb", "'a\nb'");
        test_quote("=ls", "'=ls'");
        test_quote("a=b", "a=b");
        test_quote("~root", "'~root'");

        char canary[] = "/tmp/berth-test-remote-XXXXXX";
        int fd = mkstemp(canary);
        if (fd < 0)
                abort();
        close(fd);
        unlink(canary);
        _cleanup_free_ char *subst = xasprintf("$(touch %s)", canary);
        _cleanup_free_ char *backtick = xasprintf("`touch %s`", canary);
        _cleanup_free_ char *semi = xasprintf("; touch %s", canary);
        _cleanup_free_ char *nl = xasprintf("x\ntouch %s", canary);
        _cleanup_free_ char *quote = xasprintf("'; touch %s; '", canary);
        _cleanup_free_ char *dquote = xasprintf("\"$(touch %s)\"", canary);
        char *words[] = { subst, backtick, semi, nl, quote, dquote, (char *) "", (char *) "*",
                          (char *) "~", (char *) "a\\b", (char *) "$HOME", (char *) "-n", (char *) "!x",
                          (char *) "tab\there", (char *) "\x01\x7f\xc3\xa9", (char *) "=ls", (char *) "=",
                          (char *) "~root", (char *) "a=~", (char *) "%1", (char *) "+x", (char *) "a,b",
                          (char *) "{a,b}", (char *) "x^y", (char *) "#c", (char *) "a#b", (char *) "[ab]", NULL };
        const char *shells[] = { "/bin/sh", "/bin/bash", "/bin/dash", "/bin/zsh" };
        for (size_t i = 0; i < sizeof shells / sizeof shells[0]; i++)
                test_round_trip(shells[i], words, canary);
        unlink(canary);

        return tap_finish();
}
