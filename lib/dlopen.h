/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Optional libraries loaded on first use (lib/sd-dlopen.c,
 * machined/nft-dlopen.c): a command that never needs them never maps them,
 * which keeps `berth exec` fast and the supervisor small. */

#include <stddef.h>

typedef struct DlSymbol {
        const char *name;
        void *slot; /* address of the function pointer to fill in */
} DlSymbol;

/* dlopen() SONAME and fill in every slot.  With RET_HANDLE NULL the library
 * stays loaded for the life of the process; else *RET_HANDLE is for the
 * dlclose() that unloads it (the slots are then dangling).  All or nothing:
 * -EOPNOTSUPP (and a debug message) if the library or any symbol is missing. */
int dlopen_symbols(const char *soname, const DlSymbol *syms, size_t n, void **ret_handle);
