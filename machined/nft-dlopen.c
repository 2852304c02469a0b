/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libnftables (and its tail: libnftnl, libgmp, libjansson, libxtables),
 * loaded while a supervisor changes berth's rules instead of for its whole
 * life: a machine with [Network] Mode=none or host never needs it, and a
 * bridged one only at its start and stop.  Mapped, it costs a supervisor
 * 1.4 MB of resident memory.  Same scheme as lib/sd-dlopen.c: libnftables'
 * own prototypes, forwarding to the library, which is unloaded again when
 * the last context is freed. */

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
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

/* Process-wide like the library itself (the supervisor is
 * single-threaded).  A context can only exist while it is loaded, so the
 * functions taking one use it directly. */
static const LibNftables *loaded;
static void *handle;
static unsigned live_contexts;

static void unload(void) {
        dlclose(handle);
        handle = NULL;
        loaded = NULL;
        /* What it allocated is free now, but still resident in the heap
         * (0.5 MB after the rules of a bridge): give it back. */
        (void) malloc_trim(0);
}

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
                if (dlopen_symbols("libnftables.so.1", syms, ELEMENTSOF(syms), &handle) < 0) {
                        log_error("Cannot load libnftables.so.1, which berth's networking needs: install the "
                                  "libnftables1 package.");
                        return NULL;
                }
                loaded = &lib;
        }
        struct nft_ctx *ctx = loaded->ctx_new(flags);
        if (ctx)
                live_contexts++;
        else if (live_contexts == 0)
                unload();
        return ctx;
}

void nft_ctx_free(struct nft_ctx *ctx) {
        if (!ctx)
                return;
        loaded->ctx_free(ctx);
        if (--live_contexts == 0)
                unload();
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
