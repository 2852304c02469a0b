/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs' command lines: parse and help from one table per verb. */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exit-codes.h"
#include "options.h"
#include "util.h"

/* Every verb takes this, though no table lists it. */
static const OptionSpec help_option = { "help", 'h', 'h', NULL, "show this help" };

void option_parser_init(OptionParser *p, const VerbSpec *verb, int argc, char **argv) {
        *p = (OptionParser) { .verb = verb, .argc = argc, .argv = argv, .next = 1 };
}

void verb_usage_line(const VerbSpec *verb, FILE *f) {
        fprintf(f, "Usage: berth%s%s%s%s%s\n", *verb->name ? " " : "", verb->name,
                verb->options[0].name ? " [OPTIONS]" : "",
                isempty(verb->args) ? "" : " ", verb->args ?: "");
}

int usage_error(const VerbSpec *verb, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "berth%s%s: ", *verb->name ? " " : "", verb->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        verb_usage_line(verb, stderr);
        fprintf(stderr, "See 'berth%s%s --help'.\n", *verb->name ? " " : "", verb->name);
        return ERR_USAGE;
}

int expect_args(const OptionParser *p, int min, int max) {
        if (p->n_args < min) {
                /* Name the first one missing, as the usage line does. */
                const char *w = p->verb->args ?: "";
                for (int i = 0; i < p->n_args && *w; i++) {
                        w += strcspn(w, " ");
                        w += strspn(w, " ");
                }
                if (*w == '\0' || *w == '[')
                        return usage_error(p->verb, "missing argument.");
                size_t len = strcspn(w, " ");
                while (len > 0 && w[len - 1] == '.') /* "KEY=VALUE..." */
                        len--;
                return usage_error(p->verb, "missing %.*s.", (int) len, w);
        }
        if (max >= 0 && p->n_args > max) {
                _cleanup_free_ char *shown = strdup_printable(p->args[max]);
                return usage_error(p->verb, "unexpected argument '%s'.", shown);
        }
        return 0;
}

static const OptionSpec *find_long(const VerbSpec *verb, const char *name, size_t len) {
        for (const OptionSpec *o = verb->options; o->name; o++)
                if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                        return o;
        if (strlen(help_option.name) == len && strncmp(help_option.name, name, len) == 0)
                return &help_option;
        return NULL;
}

bool verb_has_option(const VerbSpec *verb, const char *name) {
        return find_long(verb, name, strlen(name)) != NULL;
}

static const OptionSpec *find_short(const VerbSpec *verb, char c) {
        for (const OptionSpec *o = verb->options; o->name; o++)
                if (o->short_name == c)
                        return o;
        return c == help_option.short_name ? &help_option : NULL;
}

static int unknown_long(const VerbSpec *verb, const char *name, size_t len) {
        _cleanup_free_ char *word = xasprintf("%.*s", (int) len, name);
        const char *names[64];
        size_t n = 0;
        for (const OptionSpec *o = verb->options; o->name && n < ELEMENTSOF(names) - 1; o++)
                names[n++] = o->name;
        names[n++] = help_option.name;
        const char *best = closest_word(word, names, n);
        _cleanup_free_ char *shown = strdup_printable(word);
        if (best)
                return usage_error(verb, "unknown option '--%s'; did you mean '--%s'?", shown, best);
        return usage_error(verb, "unknown option '--%s'.", shown);
}

/* Take the argument of O: the rest of the word (INLINE), else the next word. */
static int take_argument(OptionParser *p, const OptionSpec *o, const char *inline_arg, bool is_short) {
        if (inline_arg) {
                p->arg = inline_arg;
                return o->id;
        }
        if (p->next >= p->argc) {
                if (is_short)
                        return usage_error(p->verb, "option '-%c' needs an argument (%s).", o->short_name, o->arg);
                return usage_error(p->verb, "option '--%s' needs an argument (%s).", o->name, o->arg);
        }
        p->arg = p->argv[p->next++];
        return o->id;
}

static int option_found(OptionParser *p, const OptionSpec *o) {
        if (o == &help_option) {
                verb_help(p->verb, stdout);
                return ERR_HELP_SHOWN;
        }
        return o->id;
}

static int next_short(OptionParser *p) {
        char c = *p->short_rest++;
        const OptionSpec *o = find_short(p->verb, c);
        if (!o) {
                /* "-force" for "--force": say so rather than "no -o". */
                if (strlen(p->word) > 2 && find_long(p->verb, p->word + 1, strlen(p->word + 1))) {
                        _cleanup_free_ char *shown = strdup_printable(p->word);
                        return usage_error(p->verb, "unknown option '%s'; did you mean '-%s'?", shown, shown);
                }
                if (c > 0x20 && c < 0x7f)
                        return usage_error(p->verb, "unknown option '-%c'.", c);
                return usage_error(p->verb, "unknown option: '-' and a byte that is not a letter.");
        }
        if (o->arg) {
                const char *rest = *p->short_rest ? p->short_rest : NULL;
                p->short_rest = NULL;
                return take_argument(p, o, rest, true);
        }
        p->arg = NULL;
        return option_found(p, o);
}

int option_next(OptionParser *p) {
        const VerbSpec *verb = p->verb;
        for (;;) {
                if (p->short_rest && *p->short_rest)
                        return next_short(p);
                p->short_rest = NULL;
                if (p->next >= p->argc) {
                        p->args = p->argv + 1;
                        p->args[p->n_args] = NULL;
                        p->arg = NULL;
                        return 0;
                }
                char *w = p->argv[p->next++];
                if (p->only_args || w[0] != '-' || w[1] == '\0') {
                        /* Moved down: a positional never lands on a word not yet read. */
                        p->argv[1 + p->n_args++] = w;
                        if (verb->runs_command && (unsigned) p->n_args > verb->n_before_command)
                                p->only_args = true; /* the command's first word */
                        continue;
                }
                if (streq(w, "--")) {
                        p->only_args = true;
                        continue;
                }
                p->word = w;
                if (w[1] != '-') {
                        p->short_rest = w + 1;
                        return next_short(p);
                }
                const char *name = w + 2, *eq = strchr(name, '=');
                size_t len = eq ? (size_t) (eq - name) : strlen(name);
                const OptionSpec *o = find_long(verb, name, len);
                if (!o)
                        return unknown_long(verb, name, len);
                if (!o->arg) {
                        if (eq)
                                return usage_error(verb, "option '--%s' takes no value.", o->name);
                        p->arg = NULL;
                        return option_found(p, o);
                }
                return take_argument(p, o, eq ? eq + 1 : NULL, false);
        }
}

int verb_spec_validate(const VerbSpec *verb, const char **ret_reason) {
        const char *reason = NULL;
        if (isempty(verb->summary) || isempty(verb->example) || !verb->func || !verb->options)
                reason = "a verb needs a function, a summary, an example and an option table";
        for (const OptionSpec *o = verb->options; !reason && o && o->name; o++) {
                if (isempty(o->help) || o->id <= 0)
                        reason = "an option needs a line of help and an id above 0";
                else if (streq(o->name, help_option.name) || o->short_name == help_option.short_name ||
                         o->id == help_option.id)
                        reason = "--help and -h are every verb's";
                for (const OptionSpec *q = verb->options; !reason && q != o; q++)
                        if (streq(q->name, o->name) || (o->short_name && q->short_name == o->short_name) ||
                            q->id == o->id)
                                reason = "two options share a name, a short name or an id";
        }
        if (reason && ret_reason)
                *ret_reason = reason;
        return reason ? -EINVAL : 0;
}

int options_check(const VerbSpec *verb, int argc, char *const *argv) {
        /* On a copy: the parse moves the positionals. */
        _cleanup_free_ char **copy = xcalloc((size_t) argc + 1, sizeof(char *));
        memcpy(copy, argv, (size_t) argc * sizeof(char *));
        OptionParser p;
        option_parser_init(&p, verb, argc, copy);
        int c;
        while ((c = option_next(&p)) > 0)
                ;
        return c;
}

static void print_option(const OptionSpec *o, int width, FILE *f) {
        char left[128];
        snprintf(left, sizeof left, "%c%c%c --%s%s%s", o->short_name ? '-' : ' ', o->short_name ?: ' ',
                 o->short_name ? ',' : ' ', o->name, o->arg ? " " : "", o->arg ?: "");
        fprintf(f, "  %-*s  %s\n", width, left, o->help);
}

void options_print(const OptionSpec *options, bool with_help, FILE *f) {
        int width = 0;
        for (const OptionSpec *o = options; o->name; o++) {
                int w = 6 + (int) strlen(o->name) + (o->arg ? 1 + (int) strlen(o->arg) : 0);
                if (w > width)
                        width = w;
        }
        if (width > 32)
                width = 32;
        if (width < 12)
                width = 12;
        for (const OptionSpec *o = options; o->name; o++)
                print_option(o, width, f);
        if (with_help)
                print_option(&help_option, width, f);
}

void verb_help(const VerbSpec *verb, FILE *f) {
        verb_usage_line(verb, f);
        fprintf(f, "\n%s.\n\nOptions:\n", verb->summary);
        options_print(verb->options, true, f);
        fputs("\nExample:\n", f);
        /* One command per line. */
        for (const char *e = verb->example; *e;) {
                size_t n = strcspn(e, "\n");
                fprintf(f, "  berth %.*s\n", (int) n, e);
                e += n + (e[n] == '\n');
        }
        fputs("\nSee berth(1).\n", f);
}

size_t edit_distance(const char *a, const char *b) {
        /* Optimal string alignment over three rows; words here are short. */
        size_t la = strlen(a), lb = strlen(b);
        if (la > 64 || lb > 64)
                return SIZE_MAX;
        size_t rows[3][65];
        size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        size_t d = prev[j - 1] + cost;
                        if (prev[j] + 1 < d)
                                d = prev[j] + 1;
                        if (cur[j - 1] + 1 < d)
                                d = cur[j - 1] + 1;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < d)
                                d = prev2[j - 2] + 1;
                        cur[j] = d;
                }
                size_t *t = prev2;
                prev2 = prev;
                prev = cur;
                cur = t;
        }
        return prev[lb];
}

const char *closest_word(const char *word, const char *const *words, size_t n) {
        const char *best = NULL;
        size_t best_d = SIZE_MAX;
        bool tie = false;
        for (size_t i = 0; i < n; i++) {
                size_t d = edit_distance(word, words[i]);
                if (d < best_d) {
                        best_d = d;
                        best = words[i];
                        tie = false;
                } else if (d == best_d)
                        tie = true;
        }
        if (!best || tie || best_d > 2 || best_d >= strlen(word))
                return NULL;
        return best;
}
