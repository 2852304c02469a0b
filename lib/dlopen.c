/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "dlopen.h"
#include "log.h"

int dlopen_symbols(const char *soname, const DlSymbol *syms, size_t n, void **ret_handle) {
        void *dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
                log_debug("Cannot load %s: %s", soname, dlerror());
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < n; i++) {
                void *f = dlsym(dl, syms[i].name);
                if (!f) {
                        log_debug("%s lacks %s.", soname, syms[i].name);
                        dlclose(dl);
                        return -EOPNOTSUPP;
                }
                /* Object and function pointers have one size on Linux; memcpy
                 * says so without a cast that ISO C does not define. */
                memcpy(syms[i].slot, &f, sizeof(f));
        }
        if (ret_handle)
                *ret_handle = dl;
        return 0;
}
