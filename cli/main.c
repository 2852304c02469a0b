/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "berth.h"
#include "build-config.h"
#include "config.h"
#include "log.h"
#include "name.h"
#include "remote.h"
#include "util.h"

/* The verbs in the order the help lists them.  A new verb is one VerbSpec
 * beside its function (options, usage, example) and one line here. */
static const VerbSpec *const verbs[] = {
        &create_verb, &import_verb, &pull_verb, &images_verb, &rmi_verb, &start_verb, &stop_verb, &kill_verb,
        &reboot_verb, &list_verb, &status_verb, &logs_verb, &set_verb, &edit_verb, &enable_verb, &disable_verb, &run_verb,
        &clone_verb, &snapshot_verb, &snapshots_verb, &restore_verb, &gc_verb, &export_verb, &rename_verb,
        &rm_verb, &exec_verb, &cp_verb, &shell_verb, &bind_verb, &unbind_verb, &console_verb,
};

static const OptionSpec main_options[] = {
        { "host", 'H', 'H', "[USER@]HOST[:PORT]", "run the verb on HOST over ssh (also $BERTH_HOST)" },
        { "root", 0, 'r', "DIR", "keep all state below DIR (also $BERTH_ROOT)" },
        { "config", 0, 'c', "FILE", "global configuration (also $BERTH_CONFIG)" },
        { "json", 0, 'j', NULL, "machine-readable output (list, status, snapshots, images)" },
        { "quiet", 'q', 'q', NULL, "print less" },
        { "help", 'h', 'h', NULL, "show this help (berth help VERB: a verb's)" },
        { "version", 0, 'V', NULL, "print the version" },
        {},
};

/* berth's own options stop at the verb: "a command" of no positionals. */
static const VerbSpec main_verb = {
        .name = "",
        .args = "VERB [ARGS...]",
        .options = main_options,
        .runs_command = true,
        .n_before_command = 0,
};

static const VerbSpec *find_verb(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i]->name, name))
                        return verbs[i];
        return NULL;
}

static void main_help(void) {
        printf("Usage: berth [OPTIONS] VERB [ARGS...]\n\n"
               "Manage system containers (machines) booted with their own init.\n\nVerbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-10s %s\n", verbs[i]->name, verbs[i]->summary);
        printf("  %-10s %s\n", "help", "Show this help, a verb's (help VERB), or every verb's (help --all)");
        printf("\nOptions:\n");
        options_print(main_options, false, stdout);
        printf("\nEvery verb's options, with an example: 'berth help VERB' or 'berth VERB --help'. "
               "See berth(1).\n");
}

static int unknown_verb(const char *verb) {
        const char *names[ELEMENTSOF(verbs) + 1];
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                names[i] = verbs[i]->name;
        names[ELEMENTSOF(verbs)] = "help";
        const char *best = closest_word(verb, names, ELEMENTSOF(names));
        _cleanup_free_ char *shown = strdup_printable(verb);
        if (best)
                fprintf(stderr, "berth: unknown verb '%s'; did you mean '%s'?\n", shown, best);
        else
                fprintf(stderr, "berth: unknown verb '%s'.\n", shown);
        fprintf(stderr, "See 'berth --help' for the list of verbs.\n");
        return EXIT_USAGE;
}

/* berth help [VERB | --all] */
static int help_verb(int argc, char **argv) {
        if (argc < 2) {
                main_help();
                return EXIT_OK;
        }
        if (argc == 2 && streq(argv[1], "--all")) {
                /* The whole reference: berth's own options, then every verb's help. */
                main_help();
                for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                        printf("\n");
                        verb_help(verbs[i], stdout);
                }
                return EXIT_OK;
        }
        if (argc > 2 || argv[1][0] == '-') {
                fprintf(stderr, "berth help: give one verb, or --all.\nUsage: berth help [VERB | --all]\n");
                return EXIT_USAGE;
        }
        const VerbSpec *v = find_verb(argv[1]);
        if (!v)
                return unknown_verb(argv[1]);
        verb_help(v, stdout);
        return EXIT_OK;
}

/* berth __complete WHAT: words for the shell completion, one a line.
 * Not a verb: it needs no root and prints nothing but words.
 *   check             every verb's table is well-formed (for the tests)
 *   verbs             every verb
 *   options VERB      VERB's options (long, then short); "=" ends those taking an argument
 *   args VERB         what VERB's positional arguments are (a CompleteKind name)
 *   runs-command VERB "yes" if VERB's arguments end in a command */
static int complete_helper(int argc, char **argv) {
        static const char *const kinds[] = {
                [COMPLETE_NONE] = "none",           [COMPLETE_MACHINE] = "machine",
                [COMPLETE_RUNNING] = "running",     [COMPLETE_STOPPED] = "stopped",
                [COMPLETE_SOURCE] = "source",       [COMPLETE_MACHINE_SNAPSHOT] = "machine-snapshot",
                [COMPLETE_FILE] = "file",
        };
        if (argc == 2 && streq(argv[1], "check")) {
                /* For the tests: every verb's table is well-formed. */
                int r = EXIT_OK;
                for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                        const char *reason;
                        if (verb_spec_validate(verbs[i], &reason) < 0) {
                                fprintf(stderr, "berth %s: %s.\n", verbs[i]->name, reason);
                                r = EXIT_FAIL;
                        }
                }
                return r;
        }
        if (argc == 2 && streq(argv[1], "verbs")) {
                for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                        puts(verbs[i]->name);
                puts("help");
                return EXIT_OK;
        }
        const VerbSpec *v = argc == 3 ? find_verb(argv[2]) : NULL;
        if (!v)
                return EXIT_USAGE;
        if (streq(argv[1], "options")) {
                for (const OptionSpec *o = v->options; o->name; o++)
                        printf("--%s%s\n", o->name, o->arg ? "=" : "");
                puts("--help");
                for (const OptionSpec *o = v->options; o->name; o++)
                        if (o->short_name)
                                printf("-%c%s\n", o->short_name, o->arg ? "=" : "");
                return EXIT_OK;
        }
        if (streq(argv[1], "args")) {
                puts(kinds[v->complete]);
                return EXIT_OK;
        }
        if (streq(argv[1], "runs-command")) {
                printf("%s\n", v->runs_command ? "yes" : "no");
                return EXIT_OK;
        }
        return EXIT_USAGE;
}

int main(int argc, char **argv) {
        Context ctx = { .store = STORE_INIT };
        const char *host = secure_getenv("BERTH_HOST");

        log_parse_environment();
        OptionParser p;
        option_parser_init(&p, &main_verb, argc, argv);
        int c;
        while ((c = option_next(&p)) > 0)
                switch (c) {
                case 'H':
                        /* -H "$UNSET" must not quietly mean this host (an
                         * empty $BERTH_HOST does: unset). */
                        if (isempty(p.arg)) {
                                log_error("-H (--host) is empty: give [USER@]HOST[:PORT], or leave out -H "
                                          "to run on this host.");
                                return EXIT_USAGE;
                        }
                        host = p.arg;
                        break;
                case 'r':
                        ctx.root = p.arg;
                        break;
                case 'c':
                        ctx.config = p.arg;
                        break;
                case 'j':
                        ctx.json = true;
                        break;
                case 'q':
                        ctx.quiet = true;
                        break;
                case 'h':
                        main_help();
                        return EXIT_OK;
                case 'V':
                        printf("berth %s\n", BERTH_VERSION);
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        if (c < 0)
                return exit_code_of(c, false);

        if (p.n_args == 0) {
                main_help();
                return EXIT_USAGE;
        }
        const char *name = p.args[0];
        if (streq(name, "help"))
                return help_verb(p.n_args, p.args);
        if (streq(name, "__complete"))
                return complete_helper(p.n_args, p.args);
        const VerbSpec *verb = find_verb(name);
        if (!verb)
                return unknown_verb(name);

        /* The whole command line first: --help and every mistake in it
         * answered before anything (even the check for root) happens. */
        int r = options_check(verb, p.n_args, p.args);
        if (r < 0)
                return exit_code_of(r, false);
        /* On another host: there, the root check and everything after. */
        if (!isempty(host))
                return remote_main(&ctx, host, verb, p.n_args, p.args);

        /* From here every message says which verb it is about. */
        char prefix[64];
        snprintf(prefix, sizeof prefix, "berth %s", verb->name);
        log_set_prefix(prefix);
        /* A global --json for a verb that prints none would be dropped
         * silently, and a script would parse text. */
        if (ctx.json && !verb_has_option(verb, "json")) {
                log_error("--json: this verb has no JSON output (list, status, snapshots and images "
                          "have). See 'berth %s --help'.", verb->name);
                return EXIT_USAGE;
        }
        /* Every verb works for users today; one added later starts as root's. */
        if (geteuid() != 0 && !verb->rootless) {
                log_error("This verb needs root (README \"Without root\"). Run it as root, e.g. with sudo.");
                return EXIT_FAIL;
        }
        r = verb->func(&ctx, p.n_args, p.args);
        store_close(&ctx.store);
        if (ctx.bus)
                sd_bus_flush_close_unref(ctx.bus);
        return exit_code_of(r, verb->runs_command);
}
