/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How berth logs shows guest output on a terminal (cli/terminal.c). */
#include <string.h>

#include "tap.h"
#include "terminal.h"
#include "util.h"

/* Escape IN fed in chunks of CHUNK bytes (all at once with 0). */
static char *escaped(const char *in, size_t len, size_t chunk) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        TermEscaper e = {};
        if (chunk == 0)
                chunk = len ?: 1;
        for (size_t off = 0; off < len; off += chunk)
                term_escape(&e, in + off, len - off < chunk ? len - off : chunk, f);
        term_escape_finish(&e, f);
        fclose(f);
        return text;
}

static void test_escape(const char *desc, const char *in, size_t len, const char *want) {
        /* Every split of the input gives the same text. */
        for (size_t chunk = 0; chunk <= 3; chunk++) {
                _cleanup_free_ char *got = escaped(in, len, chunk);
                if (!TEST_ASSERT(streq(got, want), "%s (in chunks of %zu)", desc, chunk))
                        tap_diag("got \"%s\", wanted \"%s\"", got, want);
        }
}
#define ESC(desc, in, want) test_escape(desc, in, sizeof in - 1, want)

int main(void) {
        ESC("plain text, newlines and tabs stay", "a b\tc\n", "a b\tc\n");
        ESC("CR LF stays", "boot\r\nok\r\n", "boot\r\nok\r\n");
        ESC("CR CR LF (getty) stays", "\r\r\nlogin:", "\r\r\nlogin:");
        ESC("a lone CR is shown", "100%\rdone", "100%\\x0ddone");
        ESC("CRs before text are shown", "secret\r\r\rfake\n", "secret\\x0d\\x0d\\x0dfake\n");
        ESC("a CR at the very end is shown", "x\r", "x\\x0d");
        ESC("CRs at the very end are shown", "x\r\r\r\r\r", "x\\x0d\\x0d\\x0d\\x0d\\x0d");
        ESC("a cut sequence before CR LF", "\xe2\r\r\n", "\\xe2\r\r\n");
        ESC("OSC 0 (title) is shown, not sent", "\033]0;pwned\007", "\\x1b]0;pwned\\x07");
        ESC("OSC 52 (clipboard)", "\033]52;c;cHduZWQ=\033\\", "\\x1b]52;c;cHduZWQ=\\x1b\\");
        ESC("queries: DA, DSR, DECRQSS, ENQ", "\033[c\033[6n\033P$q\"p\033\\\005",
            "\\x1b[c\\x1b[6n\\x1bP$q\"p\\x1b\\\\x05");
        ESC("DEL and backspace", "a\177b\bc", "a\\x7fb\\x08c");
        ESC("UTF-8 stays whole", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80",
            "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
        ESC("C1 CSI as UTF-8 (U+009B) is shown", "\xc2\x9b" "6n", "\\xc2\\x9b6n");
        ESC("a raw C1 byte is shown", "\x9b" "6n", "\\x9b6n");
        ESC("U+00A0 is text", "\xc2\xa0", "\xc2\xa0");
        ESC("an overlong form is shown", "\xc0\xaf", "\\xc0\\xaf");
        ESC("a surrogate is shown", "\xed\xa0\x80", "\\xed\\xa0\\x80");
        ESC("past U+10FFFF is shown", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
        ESC("a cut sequence before text", "\xe2\x82x", "\\xe2\\x82x");
        ESC("a cut sequence at the end", "ok\xe2\x82", "ok\\xe2\\x82");
        ESC("a cut sequence before ESC", "\xe2\033[c", "\\xe2\\x1b[c");

        TEST_ASSERT(!term_may_answer("plain text\r\n\t", 14), "plain text cannot make a terminal answer");
        TEST_ASSERT(term_may_answer("x\033[6n", 5), "ESC can");
        TEST_ASSERT(term_may_answer("\005", 1), "ENQ can");
        TEST_ASSERT(term_may_answer("\xc2\x9b" "6n", 4), "C1 CSI in UTF-8 can");
        return tap_finish();
}
