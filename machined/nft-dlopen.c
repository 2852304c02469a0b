/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libnftables (and its tail: libnftnl, libgmp, libjansson, libxtables),
 * loaded the first time a supervisor changes berth's rules instead of at
 * every start: a machine with [Network] Mode=none or host never needs
 * it, and mapping it cost each such supervisor 0.6 MB of resident memory.
 * Same scheme as lib/sd-dlopen.c: libnftables' own prototypes, forwarding
 * to the library. */

#include <errno.h>
#include <nftables/libnftables.h>

#include "dlopen.h"
#include "log.h"
#include "util.h"

typedef struct LibNftables {
        struct nft_ctx *(*ctx_new)(uint32_t);
        void (*ctx_free)(struct nft_ctx *);
        int (*ctx_buffer_output)(struct nft_ctx *);
        int (*ctx_buffer_error)(struct nft_ctx *);
        const char *(*ctx_get_error_buffer)(struct nft_ctx *);
        int (*run_cmd_from_buffer)(struct nft_ctx *, const char *);
} LibNftables;

/* Process-wide like the library itself; written once, by the first call
 * (the supervisor is single-threaded).  A context can only exist once it is
 * loaded, so the functions taking one use it directly. */
static const LibNftables *loaded;

struct nft_ctx *nft_ctx_new(uint32_t flags) {
        static LibNftables lib;
        if (!loaded) {
                const DlSymbol syms[] = {
                        { "nft_ctx_new", &lib.ctx_new },
                        { "nft_ctx_free", &lib.ctx_free },
                        { "nft_ctx_buffer_output", &lib.ctx_buffer_output },
                        { "nft_ctx_buffer_error", &lib.ctx_buffer_error },
                        { "nft_ctx_get_error_buffer", &lib.ctx_get_error_buffer },
                        { "nft_run_cmd_from_buffer", &lib.run_cmd_from_buffer },
                };
                if (dlopen_symbols("libnftables.so.1", syms, ELEMENTSOF(syms)) < 0) {
                        log_error("Cannot load libnftables.so.1, which berth's networking needs: install the "
                                  "libnftables1 package.");
                        return NULL;
                }
                loaded = &lib;
        }
        return loaded->ctx_new(flags);
}

void nft_ctx_free(struct nft_ctx *ctx) {
        if (ctx)
                loaded->ctx_free(ctx);
}

int nft_ctx_buffer_output(struct nft_ctx *ctx) {
        return loaded->ctx_buffer_output(ctx);
}

int nft_ctx_buffer_error(struct nft_ctx *ctx) {
        return loaded->ctx_buffer_error(ctx);
}

const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx) {
        return loaded->ctx_get_error_buffer(ctx);
}

int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf) {
        return loaded->run_cmd_from_buffer(nft, buf);
}
