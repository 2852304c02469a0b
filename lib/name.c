/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "name.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* Why a single byte is not allowed, or NULL if it is.  Kept separate from
 * the structural checks so the reason names the offending byte class. */
static const char *name_char_reason(unsigned char ch) {
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.')
                return NULL;
        if (ch == '/')
                return "contains '/'";
        if (ch >= 0x80)
                return "contains a non-ASCII byte";
        if (ch < 0x20 || ch == 0x7f)
                return "contains a control character";
        if (ch == ' ')
                return "contains a space";
        return "contains a character other than ASCII letters, digits, '-' and '.'";
}

int machine_name_validate(const char *name, const char **ret_reason) {
        const char *reason = NULL;

        if (!name || !*name) {
                reason = "must not be empty";
                goto fail;
        }

        /* strnlen() so a hostile, huge string is not walked in full. */
        size_t l = strnlen(name, MACHINE_NAME_MAX + 1);
        if (l > MACHINE_NAME_MAX) {
                reason = "longer than " STRINGIFY(MACHINE_NAME_MAX) " characters";
                goto fail;
        }

        /* Checked before the character scan so the reason is the helpful one
         * rather than "must not start with '.'". */
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
                reason = "must not be '.' or '..'";
                goto fail;
        }

        for (size_t i = 0; i < l; i++) {
                reason = name_char_reason((unsigned char) name[i]);
                if (reason)
                        goto fail;
        }

        /* A leading '-' makes the name look like an option to every tool it
         * is handed to; a leading '.' hides the machine's directory. */
        if (name[0] == '-' || name[0] == '.') {
                reason = "must not start with '-' or '.'";
                goto fail;
        }
        if (name[l - 1] == '.') {
                reason = "must not end with '.'";
                goto fail;
        }
        if (strstr(name, "..")) {
                reason = "must not contain '..'";
                goto fail;
        }
        /* A machine's runtime directory is RUN/NAME, beside the one berth keeps
         * its locks in: a machine of that name would share it, and its rm
         * would take every other machine's lock files with it. */
        if (strcmp(name, "locks") == 0) {
                reason = "is reserved ('locks' is the runtime directory's own)";
                goto fail;
        }

        if (ret_reason)
                *ret_reason = NULL;
        return 0;

fail:
        if (ret_reason)
                *ret_reason = reason;
        return -EINVAL;
}
