/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "create.h"
#include "kv.h"
#include "util.h"

#define IMAGE_INFO_MAX 4096

void image_info_done(ImageInfo *i) {
        free(i->source_kind);
        free(i->manifest);
        free(i->ports);
        *i = (ImageInfo) {};
}

static char *image_value(const KeyValues *kv, const char *key) {
        const char *v = key_values_get(kv, key);
        size_t n = v ? strlen(v) : 0;
        if (n == 0 || n > 200 ||
            strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/._- ") < n)
                return NULL;
        return xstrdup(v);
}

int image_info_read_at(int dir_fd, ImageInfo *ret) {
        *ret = (ImageInfo) {};
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(dir_fd, "image", IMAGE_INFO_MAX, &kv);
        if (r < 0)
                return r;
        *ret = (ImageInfo) {
                .source_kind = image_value(&kv, "SOURCE_KIND"),
                .manifest = image_value(&kv, "MANIFEST"),
                .ports = image_value(&kv, "PORTS"),
        };
        return 0;
}
