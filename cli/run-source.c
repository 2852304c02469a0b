/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What "berth run SOURCE" boots: machine SOURCE if there is one, else the
 * read-only image SOURCE in ROOT/images/bases, else template SOURCE, built
 * into that image on first use.  The image is built once: under a lock, in a
 * staging dir renamed into place when complete, so concurrent first runs
 * wait for one build and a killed build leaves nothing the next one uses. */

#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "berth.h"
#include "fs.h"
#include "log.h"
#include "runtime.h"
#include "util.h"

/* Remove what killed builds of image NAME left (we hold its build lock). */
static void clean_image_staging(int images_fd, const char *name) {
        _cleanup_free_ char *prefix = xasprintf(".staging-%s.", name);
        _cleanup_closedir_ DIR *d = NULL;
        if (opendir_dup(images_fd, &d) < 0)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (startswith(de->d_name, prefix))
                        (void) rm_rf_at(images_fd, de->d_name);
}

/* Build image NAME from the template of that name into IMAGES_FD/NAME.  The
 * caller holds the build lock and saw no image. */
static int build_image(Context *ctx, int images_fd, const char *name) {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                return log_error_errno(errno, "getrandom failed: %m");
        _cleanup_free_ char *staging = xasprintf(".staging-%s.%016llx", name, (unsigned long long) rnd);
        if (mkdirat(images_fd, staging, 0700) < 0)
                return log_error_errno(errno, "Failed to create %s/images/bases/%s: %m", ctx->store.root, staging);
        _cleanup_close_ int sfd = open_dir_nofollow(images_fd, staging);
        int r = sfd < 0 ? sfd : RET_NERRNO(mkdirat(sfd, "rootfs", 0755));
        if (r >= 0)
                r = RET_NERRNO(fchmodat(sfd, "rootfs", 0755, 0));
        if (r < 0)
                log_error_errno(r, "Failed to prepare %s/images/bases/%s: %m", ctx->store.root, staging);
        if (r >= 0) {
                _cleanup_free_ char *rootfs = xasprintf("%s/images/bases/%s/rootfs", ctx->store.root, staging);
                r = template_populate(&ctx->store, name, NULL, name, rootfs);
        }
        static const char conf[] = "# berth image configuration; see berth.machine(5).\n";
        _cleanup_free_ char *info = xasprintf("SOURCE=template:%s\nCREATED_USEC=%llu\n", name,
                                              (unsigned long long) now_usec(CLOCK_REALTIME));
        if (r >= 0)
                r = write_file_atomic_at(sfd, "machine.conf", conf, strlen(conf), 0644);
        if (r >= 0)
                r = write_file_atomic_at(sfd, "info", info, strlen(info), 0644);
        if (r >= 0 && syncfs(sfd) < 0)
                r = -errno;
        if (r >= 0 && renameat2(images_fd, staging, images_fd, name, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0) {
                (void) rm_rf_at(images_fd, staging);
                return log_error_errno(r, "Failed to build the image '%s' from its template: %m", name);
        }
        return 0;
}

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
        clean_image_staging(images_fd, name);
        if (tty)
                fprintf(stderr, "Building the image '%s' from its template (once)...\n", name);
        int r = build_image(ctx, images_fd, name);
        if (r < 0)
                return r;
        return open_image(ctx, images_fd, name);
}

int run_source_open(Context *ctx, const char *source, char **ret_base, int *ret_dir_fd) {
        int r = store_machine_exists(&ctx->store, source);
        if (r < 0) {
                log_error_errno(r, "Failed to look up machine '%s': %m", source);
                return EXIT_EXEC_FAIL;
        }
        if (r > 0) {
                _cleanup_free_ char *source_base = NULL;
                r = store_machine_base(&ctx->store, source, &source_base);
                if (r < 0) {
                        log_error_errno(r, "Failed to read the base of '%s': %m", source);
                        return EXIT_EXEC_FAIL;
                }
                if (source_base) {
                        log_error("'%s' is itself a run machine; run from its base '%s'.", source, source_base);
                        return EXIT_USAGE;
                }
                int fd = open_dir_nofollow(ctx->store.machines_fd, source);
                if (fd < 0) {
                        log_error_errno(fd, "Failed to open machine '%s': %m", source);
                        return EXIT_EXEC_FAIL;
                }
                *ret_base = xstrdup(source);
                *ret_dir_fd = fd;
                return 0;
        }
        int fd = ensure_image(ctx, source);
        if (fd == -ENOENT) {
                log_error("No machine, image or template '%s' to run from. Templates: busybox, debian; or create "
                          "a machine first, e.g. 'berth create %s --template debian'.",
                          source, source);
                return EXIT_NO_MACHINE;
        }
        if (fd < 0)
                return EXIT_EXEC_FAIL;
        *ret_base = xasprintf(STORE_IMAGE_PREFIX "%s", source);
        *ret_dir_fd = fd;
        return 0;
}
