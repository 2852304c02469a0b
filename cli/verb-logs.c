/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth logs NAME [-f] [-n N]: the machine's console output and its
 * supervisor's messages.  On a systemd host, from the journal of its unit
 * (console output goes there in unit mode); otherwise from the files in
 * RUN/NAME/. */

#include <getopt.h>
#include <poll.h>
#include <sys/stat.h>

#include "berth.h"
#include "fs.h"
#include "log.h"
#include "runtime.h"
#include "unit.h"
#include "util.h"

/* Print the last N lines of TEXT (all with N == 0). */
static void print_tail(const char *text, unsigned n) {
        const char *start = text;
        if (n > 0) {
                size_t len = strlen(text);
                unsigned seen = 0;
                for (size_t i = len; i > 0; i--)
                        if (text[i - 1] == '\n' && i != len && ++seen == n) {
                                start = text + i;
                                break;
                        }
        }
        fputs(start, stdout);
}

static int logs_from_files(Context *ctx, const char *name, bool follow, unsigned lines) {
        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.run_fd, name);
        if (dfd < 0) {
                log_error("Machine '%s' has no logs yet (it never ran since the host booted).", name);
                return EXIT_FAIL;
        }
        _cleanup_free_ char *sup = NULL, *old = NULL, *con = NULL;
        if (read_file_at(dfd, "supervisor.log", 1 << 20, &sup, NULL) >= 0 && !isempty(sup)) {
                printf("-- supervisor --\n");
                print_tail(sup, lines);
        }
        printf("-- console --\n");
        if (read_file_at(dfd, "console.log.1", 2 << 20, &old, NULL) >= 0 && lines == 0)
                fputs(old, stdout);
        size_t off = 0;
        if (read_file_at(dfd, "console.log", 2 << 20, &con, &off) >= 0)
                print_tail(con, lines);
        fflush(stdout);
        if (!follow)
                return EXIT_OK;

        /* Follow: poll for growth (and for the rotation to console.log.1). */
        for (;;) {
                (void) poll(NULL, 0, 250);
                _cleanup_close_ int fd = openat(dfd, "console.log", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0)
                        continue;
                if ((size_t) st.st_size < off)
                        off = 0; /* rotated */
                if ((size_t) st.st_size == off)
                        continue;
                char buf[65536];
                ssize_t n;
                while ((n = pread(fd, buf, sizeof buf, (off_t) off)) > 0) {
                        fwrite(buf, 1, (size_t) n, stdout);
                        off += (size_t) n;
                }
                fflush(stdout);
        }
}

int verb_logs(Context *ctx, int argc, char **argv) {
        static const struct option opts[] = {
                { "follow", no_argument, NULL, 'f' },
                { "lines", required_argument, NULL, 'n' },
                {},
        };
        bool follow = false;
        unsigned lines = 0;
        const char *lines_arg = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "fn:", opts, NULL)) >= 0)
                switch (c) {
                case 'f':
                        follow = true;
                        break;
                case 'n':
                        if (safe_atou(optarg, &lines) < 0) {
                                log_error("Invalid --lines '%s': give a number.", optarg);
                                return EXIT_USAGE;
                        }
                        lines_arg = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        const char *name;
        int r = one_name(argc, argv, "logs NAME [-f] [-n LINES]", &name);
        if (r != 0)
                return r;
        r = look_up_machine(ctx, name);
        if (r != 0)
                return r;
        RunMode mode;
        if (context_run_mode(ctx, &mode) < 0)
                return EXIT_FAIL;
        if (mode != RUN_MODE_UNIT)
                return logs_from_files(ctx, name, follow, lines);

        /* The journal of either unit the machine may run as. */
        _cleanup_free_ char *cgname = store_cgroup_name(&ctx->store, name);
        _cleanup_free_ char *transient = unit_name_for(cgname);
        _cleanup_free_ char *persistent = xasprintf("berth@%s.service", name);
        const char *args[12];
        size_t k = 0;
        args[k++] = "journalctl";
        args[k++] = "--no-pager";
        args[k++] = "-u";
        args[k++] = transient;
        args[k++] = "-u";
        args[k++] = persistent;
        if (follow)
                args[k++] = "-f";
        if (lines_arg) {
                args[k++] = "-n";
                args[k++] = lines_arg;
        }
        args[k] = NULL;
        store_close(&ctx->store);
        execvp("journalctl", (char **) args);
        log_error_errno(errno, "Failed to run journalctl: %m");
        return EXIT_FAIL;
}
