/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "exit-codes.h"

int exit_code_of(int r, bool runs_command) {
        switch (r) {
        case ERR_HELP_SHOWN:
                return EXIT_OK;
        case ERR_USAGE:
                return EXIT_USAGE;
        case ERR_NOT_RUNNING:
                return EXIT_NOT_RUNNING;
        case ERR_NO_MACHINE:
                return EXIT_NO_MACHINE;
        default:
                break;
        }
        if (r < 0)
                return runs_command ? EXIT_EXEC_FAIL : EXIT_FAIL;
        /* A command's own status; other verbs only ever return 0 here. */
        return r > 255 ? (runs_command ? EXIT_EXEC_FAIL : EXIT_FAIL) : r;
}
