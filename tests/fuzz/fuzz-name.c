/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: machine_name_validate() and machine_config_set_from_cli()
 * on arbitrary strings.  A name that passes must obey every rule name.h
 * lists; an assignment that passes must survive format() and parse. */
#include <stdint.h>

#include "lib/config.h"
#include "name.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_values(const MachineConfig *a, const MachineConfig *b) {
        return machine_config_equal(a, b) && a->set_mask == b->set_mask;
}

static void check_name(const char *name) {
        const char *reason = NULL;

        if (machine_name_validate(name, &reason) < 0) {
                if (!reason)
                        abort();
                return;
        }

        /* Independent restatement of the rules in name.h. */
        size_t l = strlen(name);
        if (l < 1 || l > MACHINE_NAME_MAX || name[0] == '-' || name[0] == '.' || name[l - 1] == '.' ||
            strstr(name, ".."))
                abort();
        for (size_t i = 0; i < l; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.", name[i]))
                        abort();
}

static void check_assignment(const char *assignment) {
        _cleanup_free_ char *error = NULL, *formatted = NULL;
        MachineConfig c, before, d;

        machine_config_init(&c);
        machine_config_init(&before);

        if (machine_config_set_from_cli(&c, assignment, &error) < 0) {
                if (!error || !same_values(&c, &before))
                        abort();
                for (const char *p = error; *p; p++)
                        if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                                abort();
                goto finish;
        }

        formatted = machine_config_format(&c, c.set_mask);
        machine_config_init(&d);
        int r = machine_config_parse_text(&d, formatted, strlen(formatted), "cli.conf",
                                          CONFIG_SOURCE_MACHINE, true, &error);
        if (r < 0 || !same_values(&c, &d))
                abort();
        machine_config_done(&d);

finish:
        machine_config_done(&c);
        machine_config_done(&before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 4096)
                return 0;

        _cleanup_free_ char *s = xmalloc(size + 1);
        memcpy(s, data, size);
        s[size] = 0;

        check_name(s);
        check_assignment(s);

        /* The same string as a hostname ties the two together. */
        _cleanup_free_ char *h = xasprintf("Hostname=%s", s);
        check_assignment(h);
        return 0;
}
