/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs' command lines (cli/options.c) and the exit-code table
 * (cli/exit-codes.c). */
#include <string.h>

#include "exit-codes.h"
#include "options.h"
#include "tap.h"
#include "util.h"

static const OptionSpec test_options[] = {
        { "wait", 0, 'w', NULL, "wait" },
        { "timeout", 't', 't', "SECONDS", "timeout" },
        { "user", 'u', 'u', "USER", "user" },
        { "force", 'f', 'f', NULL, "force" },
        {},
};

static const VerbSpec plain = {
        .name = "start", .args = "NAME", .summary = "Boot", .example = "start web", .options = test_options,
};
static const VerbSpec command = {
        .name = "exec", .args = "NAME COMMAND...", .summary = "Run", .example = "exec web true",
        .options = test_options, .runs_command = true, .n_before_command = 1,
};

static int dummy_verb(struct Context *ctx, int argc, char **argv) {
        return 0;
}

/* Parse the words of LINE (space-separated) with VERB; the options as
 * "id[=arg]" words and the positionals after a "|", or the error. */
static char *parse(const VerbSpec *verb, const char *line) {
        _cleanup_free_ char *copy = xasprintf("%s %s", verb->name, line);
        char *argv[32];
        int argc = 0;
        char *save = NULL;
        for (char *w = strtok_r(copy, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
                argv[argc++] = w;
        argv[argc] = NULL;
        OptionParser p;
        option_parser_init(&p, verb, argc, argv);
        char *out = xstrdup("");
        int c;
        while ((c = option_next(&p)) > 0)
                strextendf(&out, "%c%s%s ", c, p.arg ? "=" : "", p.arg ?: "");
        if (c < 0) {
                free(out);
                return xasprintf("error %d", c);
        }
        strextendf(&out, "|");
        for (int i = 0; i < p.n_args; i++)
                strextendf(&out, " %s", p.args[i]);
        if (p.args[p.n_args] != NULL)
                strextendf(&out, " (not NULL-terminated)");
        return out;
}

static void test_parse(const VerbSpec *verb, const char *line, const char *want) {
        _cleanup_free_ char *got = parse(verb, line);
        TEST_ASSERT_STREQ(got, want, "%s %s", verb->name, line);
}

int main(void) {
        TEST_ASSERT(edit_distance("strat", "start") == 1, "strat is one transposition from start");
        TEST_ASSERT(edit_distance("", "abc") == 3, "from nothing: one edit a letter");
        TEST_ASSERT(edit_distance("stop", "stop") == 0, "a word is 0 from itself");
        TEST_ASSERT(edit_distance("wiat", "wait") == 1, "wiat is 1 from wait");
        TEST_ASSERT(edit_distance("kitten", "sitting") == 3, "kitten/sitting: 3");

        static const char *const verbs[] = { "start", "stop", "status", "set", "snapshot", "snapshots", "rm" };
        TEST_ASSERT_STREQ(closest_word("strat", verbs, ELEMENTSOF(verbs)), "start", "strat: start");
        TEST_ASSERT_STREQ(closest_word("snapshotss", verbs, ELEMENTSOF(verbs)), "snapshots",
                          "snapshotss: snapshots, the nearer of two");
        TEST_ASSERT(closest_word("frobnicate", verbs, ELEMENTSOF(verbs)) == NULL, "frobnicate: no guess");
        TEST_ASSERT(closest_word("x", verbs, ELEMENTSOF(verbs)) == NULL, "x: too short to guess");
        TEST_ASSERT(closest_word("sta", verbs, ELEMENTSOF(verbs)) == NULL, "sta: start and stop tie, no guess");

        test_parse(&plain, "web --wait", "w | web");
        test_parse(&plain, "--wait web", "w | web");
        test_parse(&plain, "-t 5 web -f", "t=5 f | web");
        test_parse(&plain, "-t5 web", "t=5 | web");
        test_parse(&plain, "-ft5 web", "f t=5 | web");
        test_parse(&plain, "--timeout=5 web", "t=5 | web");
        test_parse(&plain, "web -- --wait", "| web --wait");
        test_parse(&plain, "- web", "| - web");
        test_parse(&plain, "--wiat web", "error -10002");
        test_parse(&plain, "--wait=1 web", "error -10002");
        test_parse(&plain, "-x web", "error -10002");
        test_parse(&plain, "web --timeout", "error -10002");
        test_parse(&plain, "web", "| web");
        test_parse(&plain, "-force web", "error -10002");

        test_parse(&command, "web -t 1 -- true", "t=1 | web true");
        test_parse(&command, "web ls -l", "| web ls -l");
        test_parse(&command, "-f web ls -f", "f | web ls -f");
        test_parse(&command, "web -- -f", "| web -f");
        test_parse(&command, "-- web -f", "| web -f");
        test_parse(&command, "web --bogus true", "error -10002");

        /* --help prints the help, which mentions every option. */
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        verb_help(&plain, f);
        fclose(f);
        bool all = true;
        for (const OptionSpec *o = test_options; o->name; o++) {
                _cleanup_free_ char *want = xasprintf("--%s", o->name);
                all = all && strstr(text, want);
        }
        TEST_ASSERT(all && strstr(text, "--help") && strstr(text, "berth start web") &&
                            strstr(text, "Usage: berth start [OPTIONS] NAME"),
                    "the help has the usage line, every option, --help and the example");
        free(text);

        static const OptionSpec dup_short[] = {
                { "wait", 'w', 'w', NULL, "wait" }, { "wipe", 'w', 'W', NULL, "wipe" }, {},
        };
        static const OptionSpec takes_help[] = { { "help", 0, 'H', NULL, "help" }, {} };
        static const OptionSpec no_help_text[] = { { "wait", 0, 'w', NULL, NULL }, {} };
        const char *reason = NULL;
        VerbSpec v = plain;
        v.func = dummy_verb;
        TEST_ASSERT(verb_spec_validate(&v, &reason) == 0, "a good table passes");
        v.options = dup_short;
        TEST_ASSERT(verb_spec_validate(&v, &reason) == -EINVAL && strstr(reason, "share"),
                    "two options with -w are refused");
        v.options = takes_help;
        TEST_ASSERT(verb_spec_validate(&v, &reason) == -EINVAL && strstr(reason, "--help"),
                    "a verb's own --help is refused");
        v.options = no_help_text;
        TEST_ASSERT(verb_spec_validate(&v, &reason) == -EINVAL, "an option without help text is refused");
        v.options = test_options;
        v.example = NULL;
        TEST_ASSERT(verb_spec_validate(&v, &reason) == -EINVAL, "a verb without an example is refused");

        TEST_ASSERT(exit_code_of(0, false) == 0, "0: success");
        TEST_ASSERT(exit_code_of(-ENOENT, false) == 1, "-errno: 1");
        TEST_ASSERT(exit_code_of(ERR_FAILED, false) == 1, "failed: 1");
        TEST_ASSERT(exit_code_of(ERR_USAGE, true) == 2, "usage: 2, also for exec");
        TEST_ASSERT(exit_code_of(ERR_NOT_RUNNING, true) == 3, "not running: 3, also for exec");
        TEST_ASSERT(exit_code_of(ERR_NO_MACHINE, false) == 4, "no machine: 4");
        TEST_ASSERT(exit_code_of(ERR_HELP_SHOWN, false) == 0, "help shown: 0");
        TEST_ASSERT(exit_code_of(-EIO, true) == 125, "exec's own failure: 125");
        TEST_ASSERT(exit_code_of(7, true) == 7, "exec's command status passes");
        return tap_finish();
}
