/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>

#include "berth.h"
#include "build-config.h"
#include "config.h"
#include "log.h"
#include "name.h"
#include "util.h"

static const struct {
        const char *name;
        VerbFunc func;
        const char *summary;
} verbs[] = {
        { "create", verb_create, "create NAME --template T | --from-dir DIR | --from-tar FILE | --image REF [--copy]" },
        { "import", verb_import, "import NAME SOURCE [--ref R] [--platform OS/ARCH] [--boot auto|yes|no]  an OCI image" },
        { "pull", verb_pull, "pull REF [NAME]        fetch an image from a registry (and make machine NAME of it)" },
        { "images", verb_images, "images [--json] | images prune [--all]  list pulled images (and machines made from them); prune the store" },
        { "rmi", verb_rmi, "rmi REF...             remove pulled images (and blobs no image needs)" },
        { "start", verb_start, "start NAME             boot a machine" },
        { "stop", verb_stop, "stop NAME [--timeout S] power a machine off" },
        { "kill", verb_kill, "kill NAME [--signal S] kill a machine (or send its init a signal)" },
        { "reboot", verb_reboot, "reboot NAME            reboot a machine" },
        { "list", verb_list, "list [--json]          list machines" },
        { "status", verb_status, "status NAME [--json]   show a machine's state" },
        { "logs", verb_logs, "logs NAME [-f] [-n N] [--raw]  console output and supervisor messages (escaped on a terminal)" },
        { "set", verb_set, "set [--runtime] NAME Key=Value...  change limits live and in machine.conf" },
        { "enable", verb_enable, "enable NAME            start the machine at boot (berth@NAME.service)" },
        { "disable", verb_disable, "disable NAME           do not start it at boot" },
        { "run", verb_run, "run [--boot] [--keep] SOURCE -- CMD...  a throwaway machine for one command" },
        { "clone", verb_clone, "clone [--set K=V] SRC DST  copy a stopped machine (own identity, address)" },
        { "snapshot", verb_snapshot, "snapshot [--rm] NAME [SNAP]  save (or remove) a stopped machine's state" },
        { "snapshots", verb_snapshots, "snapshots NAME [--json]  list a machine's snapshots" },
        { "restore", verb_restore, "restore NAME SNAP      put a stopped machine back to a snapshot" },
        { "gc", verb_gc, "gc                     remove what interrupted runs and creates left" },
        { "export", verb_export, "export NAME FILE [--format F]  write a stopped machine's files to an archive" },
        { "rename", verb_rename, "rename OLD NEW         rename a stopped machine" },
        { "rm", verb_rm, "rm NAME [--force]      remove a machine" },
        { "exec", verb_exec, "exec [-t] [-i] NAME -- CMD...  run a command in a running machine" },
        { "cp", verb_cp, "cp SRC DST             copy files in or out (NAME:PATH is a machine's path)" },
        { "shell", verb_shell, "shell [--user U] NAME  a login shell (or CMD) in a running machine" },
        { "bind", verb_bind, "bind [--read-only] [--mkdir] [--options OPTS] NAME SRC [DST]  a host path into a running machine" },
        { "unbind", verb_unbind, "unbind NAME DST        unmount a live bind" },
        { "console", verb_console, "console NAME [--read-only]  attach to the machine's console" },
};

static void help(void) {
        printf("Usage: berth [OPTIONS] VERB [ARGS...]\n\n"
               "Manage system containers (machines) booted with their own init.\n\n"
               "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %s\n", verbs[i].summary);
        printf("\nOptions:\n"
               "  --root DIR     keep all state below DIR (also $BERTH_ROOT)\n"
               "  --config FILE  global configuration (also $BERTH_CONFIG)\n"
               "  --json         machine-readable output (list, status)\n"
               "  -q, --quiet    print less\n"
               "  -h, --help     this help\n"
               "  --version      print the version\n\n"
               "See berth(1).\n");
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "root", required_argument, NULL, 'r' },
                { "config", required_argument, NULL, 'c' },
                { "json", no_argument, NULL, 'j' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        Context ctx = { .store = STORE_INIT };

        log_parse_environment();
        /* "+" stops at the verb: each verb parses its own options. */
        int c;
        while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) >= 0)
                switch (c) {
                case 'r':
                        ctx.root = optarg;
                        break;
                case 'c':
                        ctx.config = optarg;
                        break;
                case 'j':
                        ctx.json = true;
                        break;
                case 'q':
                        ctx.quiet = true;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                case 'V':
                        printf("berth %s\n", BERTH_VERSION);
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }

        if (optind >= argc) {
                help();
                return EXIT_USAGE;
        }
        const char *verb = argv[optind];
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, verb)) {
                        if (geteuid() != 0) {
                                log_error("berth %s needs root.", verb);
                                return EXIT_FAIL;
                        }
                        int sub_argc = argc - optind;
                        char **sub_argv = argv + optind;
                        optind = 0; /* reset getopt for the verb */
                        int r = verbs[i].func(&ctx, sub_argc, sub_argv);
                        store_close(&ctx.store);
                        if (ctx.bus)
                                sd_bus_flush_close_unref(ctx.bus);
                        return r;
                }
        log_error("Unknown verb '%s'. See 'berth --help'.", verb);
        return EXIT_USAGE;
}
