/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: machine_config_parse_text() on arbitrary text, as both a
 * global and a machine file.  Beyond not crashing it checks the promises of
 * config.h: on error C is unchanged and the message is safe to print; on
 * success the formatted config parses back to the same values. */
#include <stdint.h>

#include "lib/config.h"
#include "util.h"

#define ALL_KEYS (CONFIG_KEY_BIT(_CONFIG_KEY_MAX) - 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_strv(char **a, char **b) {
        for (; a && *a && b && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !(a && *a) && !(b && *b);
}

static bool same_values(const MachineConfig *a, const MachineConfig *b) {
        return streq_ptr(a->init, b->init) && streq_ptr(a->hostname, b->hostname) &&
               a->poweroff_signal == b->poweroff_signal && a->reboot_signal == b->reboot_signal &&
               a->network_mode == b->network_mode && a->memory_max == b->memory_max &&
               a->tasks_max == b->tasks_max && a->private_users == b->private_users && a->boot == b->boot &&
               same_strv(a->command, b->command) && same_strv(a->environment, b->environment) &&
               streq_ptr(a->working_directory, b->working_directory) && streq_ptr(a->user, b->user);
}

static void check_printable(const char *s) {
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                        abort();
}

static void fuzz_one(const char *text, size_t size, ConfigSource source, uint64_t protected_mask) {
        _cleanup_free_ char *error = NULL, *formatted = NULL;
        MachineConfig c, before;

        machine_config_init(&c);
        c.set_mask = protected_mask;
        before = c;
        before.init = xstrdup(c.init);

        int r = machine_config_parse_text(&c, text, size, "fuzz.conf", source, true, &error);
        if (r < 0) {
                if (r != -EINVAL || !error || !same_values(&c, &before) || c.set_mask != before.set_mask)
                        abort();
                check_printable(error);
                goto finish;
        }
        if (error || (c.set_mask & protected_mask) != protected_mask)
                abort();

        /* Round trip: what format() writes must parse back to the same values. */
        formatted = machine_config_format(&c, ALL_KEYS);
        MachineConfig d;
        machine_config_init(&d);
        r = machine_config_parse_text(&d, formatted, strlen(formatted), "formatted.conf",
                                      CONFIG_SOURCE_MACHINE, true, &error);
        if (r < 0 || !same_values(&c, &d))
                abort();
        machine_config_done(&d);

finish:
        machine_config_done(&c);
        machine_config_done(&before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > CONFIG_FILE_MAX + 1)
                return 0;

        /* The parser wants NUL-terminated text; fuzzer data is not. */
        _cleanup_free_ char *text = xmalloc(size + 1);
        memcpy(text, data, size);
        text[size] = 0;

        /* Protect a few keys, chosen by the input's length, so that the
         * validate-but-do-not-apply path is exercised too. */
        uint64_t protected_mask = (size * UINT64_C(0x9e3779b97f4a7c15) >> 32) & ALL_KEYS;

        fuzz_one(text, size, CONFIG_SOURCE_MACHINE, 0);
        fuzz_one(text, size, CONFIG_SOURCE_GLOBAL, 0);
        fuzz_one(text, size, CONFIG_SOURCE_MACHINE, protected_mask);
        return 0;
}
