/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "fs.h"
#include "kv.h"
#include "util.h"

void key_values_done(KeyValues *kv) {
        free(kv->text);
        free(kv->keys);
        free(kv->values);
        *kv = (KeyValues) KEY_VALUES_INIT;
}

static bool key_is_valid(const char *k) {
        return *k && strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(k);
}

int key_values_parse(const char *text, size_t len, KeyValues *ret) {
        *ret = (KeyValues) KEY_VALUES_INIT;
        if (memchr(text, 0, len))
                return -EBADMSG;
        _cleanup_(key_values_done) KeyValues kv = { .text = xmalloc(len + 1) };
        memcpy(kv.text, text, len);
        kv.text[len] = 0;
        /* At most one entry per newline, plus a last line without one. */
        size_t max = 1;
        for (size_t i = 0; i < len; i++)
                max += text[i] == '\n';
        kv.keys = xcalloc(max, sizeof(char *));
        kv.values = xcalloc(max, sizeof(char *));
        for (char *line = kv.text, *e; *line; line = e) {
                e = strchrnul(line, '\n');
                if (*e)
                        *e++ = 0;
                char *eq = strchr(line, '=');
                if (!eq)
                        return -EBADMSG;
                *eq = 0;
                if (!key_is_valid(line) || key_values_get(&kv, line))
                        return -EBADMSG;
                kv.keys[kv.n] = line;
                kv.values[kv.n++] = eq + 1;
        }
        *ret = kv;
        kv = (KeyValues) KEY_VALUES_INIT;
        return 0;
}

int key_values_read_at(int dir_fd, const char *name, size_t max, KeyValues *ret) {
        *ret = (KeyValues) KEY_VALUES_INIT;
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_file_at(dir_fd, name, max, &text, &len);
        if (r < 0)
                return r;
        return key_values_parse(text, len, ret);
}

const char *key_values_get(const KeyValues *kv, const char *key) {
        for (size_t i = 0; i < kv->n; i++)
                if (streq(kv->keys[i], key))
                        return kv->values[i];
        return NULL;
}
