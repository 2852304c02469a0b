/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What "berth run SOURCE" boots: machine SOURCE if there is one, else the
 * read-only image SOURCE in ROOT/images/bases, else template SOURCE, built
 * into that image on first use: over the layer of the template's image in
 * the store (template-image.c), built too if the store lacks it.  The image is built once: under a lock, in a
 * staging dir renamed into place when complete, so concurrent first runs
 * wait for one build and a killed build leaves nothing the next one uses. */

#include <sys/stat.h>

#include "berth.h"
#include "fs.h"
#include "log.h"
#include "util.h"

static int open_image(Context *ctx, int images_fd, const char *name) {
        int fd = open_dir_nofollow(images_fd, name);
        if (fd >= 0 || fd == -ENOENT)
                return fd;
        return log_error_errno(fd, "Failed to open the image %s/images/bases/%s: %m", ctx->store.root, name);
}

/* The image NAME, built from its template if there is none yet. */
static int ensure_image(Context *ctx, const char *name) {
        _cleanup_close_ int images_fd = store_open_images(&ctx->store);
        if (images_fd < 0)
                return log_error_errno(images_fd, "Failed to open %s/images/bases: %m", ctx->store.root);
        int fd = open_image(ctx, images_fd, name);
        if (fd != -ENOENT || !template_is_known(name))
                return fd;

        bool tty = isatty(STDERR_FILENO) && !ctx->quiet;
        _cleanup_free_ char *lockname = xasprintf(STORE_IMAGE_PREFIX "%s.build", name);
        _cleanup_close_ int lock = lock_file_at(ctx->store.locks_fd, lockname, true, false);
        if (lock == -EWOULDBLOCK) {
                if (tty)
                        fprintf(stderr, "Waiting for another berth run to build the image '%s'...\n", name);
                lock = lock_file_at(ctx->store.locks_fd, lockname, true, true);
        }
        if (lock < 0)
                return log_error_errno(lock, "Failed to lock the image '%s': %m", name);
        /* Whoever held the lock may have built it. */
        fd = open_image(ctx, images_fd, name);
        if (fd != -ENOENT)
                return fd;
        if (tty)
                fprintf(stderr, "Building the image '%s' from its template (once)...\n", name);
        int r = template_run_base_build(ctx, images_fd, name);
        if (r < 0)
                return r;
        return open_image(ctx, images_fd, name);
}

int run_source_open(Context *ctx, const char *source, char **ret_base, int *ret_dir_fd, int *ret_lock) {
        *ret_lock = -EBADF;
        int r = store_machine_exists(&ctx->store, source);
        if (r < 0) {
                log_error_errno(r, "Failed to look up machine '%s': %m", source);
                return ERR_FAILED;
        }
        if (r > 0) {
                _cleanup_free_ char *source_base = NULL;
                r = store_machine_base(&ctx->store, source, &source_base);
                if (r < 0) {
                        log_error_errno(r, "Failed to read the base of '%s': %m", source);
                        return ERR_FAILED;
                }
                if (source_base) {
                        log_error("'%s' is itself a run machine; run from its base '%s'.", source, source_base);
                        return ERR_USAGE;
                }
                int fd = open_dir_nofollow(ctx->store.machines_fd, source);
                if (fd < 0) {
                        log_error_errno(fd, "Failed to open machine '%s': %m", source);
                        return ERR_FAILED;
                }
                *ret_base = xstrdup(source);
                *ret_dir_fd = fd;
                return 0;
        }
        /* Shared, as the image's running instances hold it: images prune
         * (which needs it exclusively, and does not wait) leaves the image
         * alone from the moment we open it until the caller's instance
         * names it as its base. */
        _cleanup_free_ char *base = xasprintf(STORE_IMAGE_PREFIX "%s", source);
        _cleanup_close_ int lock = store_lock_base_wait(&ctx->store, base);
        if (lock < 0) {
                log_error_errno(lock, "Failed to lock the image '%s': %m", source);
                return ERR_FAILED;
        }
        int fd = ensure_image(ctx, source);
        if (fd == -ENOENT) {
                log_error("No machine, image or template '%s' to run from. Templates: busybox, debian; or create "
                          "a machine first, e.g. 'berth create %s --template debian'.",
                          source, source);
                return ERR_NO_MACHINE;
        }
        if (fd < 0)
                return ERR_FAILED;
        *ret_base = TAKE_PTR(base);
        *ret_dir_fd = fd;
        *ret_lock = TAKE_FD(lock);
        return 0;
}
