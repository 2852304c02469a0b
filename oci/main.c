/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-oci: the runc command line, as containerd's runc shim (go-runc) and
 * podman's conmon call it.  Global options, then a verb, its options, and
 * the container ID. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>

#include "build-config.h"
#include "log.h"
#include "oci.h"
#include "util.h"

enum {
        OPT_ROOT = 256,
        OPT_LOG,
        OPT_LOG_FORMAT,
        OPT_SYSTEMD_CGROUP,
        OPT_DEBUG,
        OPT_IGNORED,
        OPT_IGNORED_ARG,
        OPT_PID_FILE,
        OPT_CONSOLE_SOCKET,
        OPT_NO_PIVOT,
        OPT_PRESERVE_FDS,
};

static void usage(void) {
        printf("Usage: berth-oci [--root DIR] [--log FILE] [--log-format json|text] [--systemd-cgroup] VERB ...\n"
               "\n"
               "  create --bundle DIR --pid-file FILE [--console-socket SOCK] [--no-pivot]\n"
               "         [--no-new-keyring] [--preserve-fds N] ID\n"
               "  start ID\n"
               "  state ID\n"
               "  kill [--all] ID [SIGNAL]\n"
               "  delete [--force] ID\n"
               "  exec --process FILE [--detach] [--pid-file FILE] [--tty --console-socket SOCK] ID\n"
               "  ps [--format json|table] ID\n"
               "  pause ID\n"
               "  resume ID\n"
               "  update --resources FILE|- ID\n"
               "\n"
               "A runc-compatible OCI runtime built on berth's runtime library.  See berth-oci(8).\n");
}

static int parse_unsigned(const char *s, unsigned *ret) {
        return safe_atou(s, ret) < 0 ? log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Not a number: \"%s\".", s) : 0;
}

static int parse_verb_options(const char *verb, int argc, char **argv, OciOptions *o) {
        static const struct option options[] = {
                { "bundle", required_argument, NULL, 'b' },
                { "pid-file", required_argument, NULL, OPT_PID_FILE },
                { "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
                { "no-pivot", no_argument, NULL, OPT_NO_PIVOT },
                { "no-new-keyring", no_argument, NULL, OPT_IGNORED },
                { "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
                { "process", required_argument, NULL, 'p' },
                { "detach", no_argument, NULL, 'd' },
                { "tty", no_argument, NULL, 't' },
                { "all", no_argument, NULL, 'a' },
                { "force", no_argument, NULL, 'f' },
                { "format", required_argument, NULL, 'F' },
                { "resources", required_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        optind = 0;
        int c;
        /* "ps -f json" is the format; "delete -f" is --force. */
        bool ps = streq(verb, "ps");
        while ((c = getopt_long(argc, argv, ps ? "+f:h" : "+b:p:r:dtafh", options, NULL)) >= 0)
                switch (c) {
                case 'b': o->bundle = optarg; break;
                case OPT_PID_FILE: o->pid_file = optarg; break;
                case OPT_CONSOLE_SOCKET: o->console_socket = optarg; break;
                case OPT_NO_PIVOT: o->no_pivot = true; break;
                case OPT_IGNORED: break;
                case OPT_PRESERVE_FDS:
                        if (parse_unsigned(optarg, &o->preserve_fds) < 0)
                                return -EINVAL;
                        if (o->preserve_fds > 1024)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--preserve-fds: at most 1024.");
                        break;
                case 'p': o->process = optarg; break;
                case 'd': o->detach = true; break;
                case 't': o->tty = true; break;
                case 'a': o->all = true; break;
                case 'f':
                        if (ps)
                                o->format = optarg;
                        else
                                o->force = true;
                        break;
                case 'F': o->format = optarg; break;
                case 'r': o->resources = optarg; break;
                case 'h': usage(); return 1;
                default:
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s: unknown option; see berth-oci --help.",
                                               verb);
                }
        return 0;
}

static int run(int argc, char **argv) {
        static const struct option options[] = {
                { "root", required_argument, NULL, OPT_ROOT },
                { "log", required_argument, NULL, OPT_LOG },
                { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
                { "systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP },
                { "debug", no_argument, NULL, OPT_DEBUG },
                { "rootless", required_argument, NULL, OPT_IGNORED_ARG },
                { "criu", required_argument, NULL, OPT_IGNORED_ARG },
                { "version", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        OciOptions o = { .root = OCI_DEFAULT_ROOT };
        const char *log_path = NULL, *log_format = "text";
        int c;
        while ((c = getopt_long(argc, argv, "+vh", options, NULL)) >= 0)
                switch (c) {
                case OPT_ROOT: o.root = optarg; break;
                case OPT_LOG: log_path = optarg; break;
                case OPT_LOG_FORMAT: log_format = optarg; break;
                case OPT_SYSTEMD_CGROUP: o.systemd_cgroup = true; break;
                case OPT_DEBUG: log_set_max_level(LOG_DEBUG); break;
                case OPT_IGNORED_ARG: break;
                case 'v':
                        printf("berth-oci version %s\nspec: %s\n", BERTH_VERSION, OCI_VERSION);
                        return 0;
                case 'h': usage(); return 0;
                default: return -EINVAL;
                }
        if (!streq(log_format, "json") && !streq(log_format, "text"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--log-format: json or text, not \"%s\".", log_format);
        if (log_path) {
                int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
                if (fd < 0)
                        return log_error_errno(errno, "Cannot open the log %s: %m", log_path);
                log_set_file(fd);
                log_set_file_json(streq(log_format, "json"));
        }
        if (o.root[0] != '/')
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--root must be an absolute path.");
        if (optind >= argc) {
                usage();
                return -EINVAL;
        }
        const char *verb = argv[optind];
        argc -= optind;
        argv += optind;
        int r = parse_verb_options(verb, argc, argv, &o);
        if (r != 0)
                return r < 0 ? r : 0;
        char **args = argv + optind;
        int nargs = argc - optind;
        const char *id = nargs > 0 ? args[0] : NULL;
        if (!id)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s: the container ID is missing.", verb);
        if (streq(verb, "kill") ? nargs > 2 : nargs > 1)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s: too many arguments.", verb);

        if (streq(verb, "create"))
                return verb_create(&o, id);
        if (streq(verb, "start"))
                return verb_start(&o, id);
        if (streq(verb, "state"))
                return verb_state(&o, id);
        if (streq(verb, "kill"))
                return verb_kill(&o, id, nargs > 1 ? args[1] : NULL);
        if (streq(verb, "delete"))
                return verb_delete(&o, id);
        if (streq(verb, "exec"))
                return verb_exec(&o, id);
        if (streq(verb, "ps"))
                return verb_ps(&o, id);
        if (streq(verb, "pause"))
                return verb_pause(&o, id);
        if (streq(verb, "resume"))
                return verb_resume(&o, id);
        if (streq(verb, "update"))
                return verb_update(&o, id);
        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP), "Unknown or unsupported verb \"%s\".", verb);
}

int main(int argc, char **argv) {
        log_set_prefix("berth-oci");
        log_parse_environment();
        int r = run(argc, argv);
        /* A foreground exec's status is its process's (verb_exec: 1000 + status). */
        if (r >= 1000)
                return r - 1000;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
