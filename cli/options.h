/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The verbs' command lines, from one table per verb that both the parser
 * and the help printer read: what `berth VERB --help`, `berth help VERB`,
 * the top-level help, the shell completion (`berth __complete`) and the
 * parse itself show and accept can never disagree.
 *
 * Options may come anywhere before "--" (GNU style): `berth start web
 * --wait`.  For the verbs that run a command (exec, shell, run) the command
 * starts at "--" or at the first word after their leading positional
 * arguments (the machine or the source), so `berth exec web ls -l` runs
 * `ls -l` and `berth exec web -t -- true` gives -t to berth. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct Context;

typedef struct OptionSpec {
        const char *name;  /* long name, without "--" */
        char short_name;   /* 0: none */
        int id;            /* what option_next() returns for it (> 0): the short name or a value >= 0x100 */
        const char *arg;   /* the argument's placeholder ("SECONDS"); NULL: no argument */
        const char *help;  /* one line */
} OptionSpec;

/* What the shell completion offers for a verb's positional arguments. */
typedef enum CompleteKind {
        COMPLETE_NONE,
        COMPLETE_MACHINE,         /* any machine */
        COMPLETE_RUNNING,         /* a running machine */
        COMPLETE_STOPPED,         /* a stopped machine */
        COMPLETE_SOURCE,          /* run: a machine or a template */
        COMPLETE_MACHINE_SNAPSHOT,/* NAME, then one of its snapshots */
        COMPLETE_FILE,            /* host paths (and NAME: for cp) */
} CompleteKind;

typedef struct VerbSpec {
        const char *name;
        int (*func)(struct Context *ctx, int argc, char **argv);
        const char *args;          /* the positional arguments, as in the usage line ("NAME") */
        const char *summary;       /* one line, for the verb list */
        const char *example;       /* a command line, without the leading "berth " */
        const OptionSpec *options; /* ends with an empty entry */
        bool runs_command;         /* the first word after n_before_command positionals starts a command
                                    * (exec, shell, run), whose status is the verb's */
        unsigned n_before_command;
        CompleteKind complete;
        bool rootless;             /* works for a non-root caller (README "Without root") */
} VerbSpec;

/* Walks a verb's arguments.  Positional arguments are moved, in order, to
 * argv[1]...: once option_next() returned 0, they are args[0..n_args-1]
 * (NULL-terminated: args is argv + 1). */
typedef struct OptionParser {
        const VerbSpec *verb;
        int argc;
        char **argv;
        int next;          /* the next word */
        const char *word;  /* the option word being read */
        const char *short_rest; /* inside "-abc": what follows the last short option taken */
        bool only_args;    /* after "--", or in a command: no more options */
        int n_args;
        char **args;
        const char *arg;   /* the argument of the option just returned */
} OptionParser;

void option_parser_init(OptionParser *p, const VerbSpec *verb, int argc, char **argv);
/* The next option's id (> 0) with its argument in p->arg, 0 at the end, or
 * ERR_USAGE (said what is wrong, and where help is), or ERR_HELP_SHOWN
 * (-h/--help: the verb's help is printed). */
int option_next(OptionParser *p);
/* Whether VERB takes the long option NAME (--help aside). */
bool verb_has_option(const VerbSpec *verb, const char *name);

/* The verb's whole command line checked, without acting on it (ARGV is not
 * changed): 0, ERR_USAGE or ERR_HELP_SHOWN, as option_next(). */
int options_check(const VerbSpec *verb, int argc, char *const *argv);

/* VERB's table is well-formed: every option with help and an id, no two
 * alike, none taking -h/--help.  0, or -EINVAL with *RET_REASON. */
int verb_spec_validate(const VerbSpec *verb, const char **ret_reason);

/* "berth VERB: " MESSAGE, the usage line and where the help is, on stderr;
 * returns ERR_USAGE. */
int usage_error(const VerbSpec *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Exactly N positionals, else a usage error. */
int expect_args(const OptionParser *p, int min, int max);

void verb_help(const VerbSpec *verb, FILE *f);
/* The option lines of a help text (and -h/--help's, if WITH_HELP). */
void options_print(const OptionSpec *options, bool with_help, FILE *f);
void verb_usage_line(const VerbSpec *verb, FILE *f);

/* The edit distance of A and B (Levenshtein with transpositions, so
 * "strat" is 1 from "start"). */
size_t edit_distance(const char *a, const char *b);
/* Of the N words in WORDS, the one closest to WORD if it is close enough to
 * be what was meant (a typo: at most 2 edits, fewer than WORD has letters);
 * NULL if none is, or two are equally close. */
const char *closest_word(const char *word, const char *const *words, size_t n);
