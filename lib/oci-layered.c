/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image layers unpacked once into berth's layer store (layers.h), for
 * machines made with create --image: each layer an overlayfs diff of its own
 * (oci-layer.h), in ROOT/images/layers/ID/tree, shared by every image whose
 * stack has it.
 *
 * A layer is named by its ChainID (the OCI image spec's: the diff_id of the
 * bottom layer, then sha256 of "PARENT-CHAIN DIFF_ID" upwards), not by its
 * own diff_id: a diff leaves the attributes of directories it does not list
 * to the layers below, which may differ between images, so only the same
 * layer over the same layers is the same tree.  The layer's ID is the first
 * LAYER_ID_CHARS hex digits of the ChainID, which the layer's LAYER_CHAIN_FILE
 * holds in full and which is compared before a layer is reused. */
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fs.h"
#include "layers.h"
#include "log.h"
#include "oci-internal.h"
#include "util.h"

#define LAYER_ID_CHARS 16

void layered_done(Layered *l) {
        for (size_t i = 0; i < l->n; i++)
                closep(&l->trees[i]);
        free(l->trees);
        strv_free(l->ids);
        closep(&l->layers_fd);
        *l = (Layered) LAYERED_INIT;
}

int layered_open(const char *layers_dir, Layered *ret) {
        int fd = open_dir_nofollow(AT_FDCWD, layers_dir);
        if (fd < 0)
                return log_error_errno(fd, "Cannot open the layer store %s: %m", layers_dir);
        *ret = (Layered) LAYERED_INIT;
        ret->layers_fd = fd;
        return 0;
}

/* Whether the existing layer ID is the one of CHAIN: 1, 0 (another one), or -errno. */
static int layer_is(int layers_fd, const char *id, const char *chain) {
        _cleanup_close_ int dfd = open_dir_nofollow(layers_fd, id);
        if (dfd < 0)
                return dfd;
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(dfd, LAYER_CHAIN_FILE, DIGEST_STRING_MAX + 2, &text, NULL);
        if (r == -ENOENT)
                return 0; /* a frozen machine's layer */
        if (r < 0)
                return r;
        text[strcspn(text, "\n")] = 0;
        return streq(text, chain);
}

static void push(Layered *l, const char *id, int tree) {
        l->trees = realloc(l->trees, (l->n + 1) * sizeof(int));
        if (!l->trees)
                abort();
        l->trees[l->n++] = tree;
        l->ids = strv_append(l->ids, id);
}

int layered_add(Layered *l, const Source *s, const char *blob, LayerSpec *spec) {
        if (l->n >= LAYERS_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(E2BIG),
                                       "The image has more than %d layers, more than a layered machine can stack; "
                                       "make a flat one with --copy.",
                                       LAYERS_MAX);
        if (!spec->diff_id || digest_parse(spec->diff_id, NULL, NULL) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: no valid diff_id.", spec->label);
        char chain[DIGEST_STRING_MAX];
        if (l->n == 0)
                snprintf(chain, sizeof chain, "%s", spec->diff_id);
        else {
                _cleanup_free_ char *text = xasprintf("%s %s", l->chain, spec->diff_id);
                digest_buffer(DIGEST_SHA256, text, strlen(text), chain);
        }
        const char *hex = strchr(chain, ':') + 1;
        _cleanup_free_ char *id = strndup(hex, LAYER_ID_CHARS);
        if (!id)
                abort();

        int r = layer_is(l->layers_fd, id, chain);
        if (r == 0)
                return log_error_errno(SYNTHETIC_ERRNO(EEXIST),
                                       "Layer %s of the store is not %s's; remove it if nothing uses it "
                                       "('berth images prune'), or make a flat machine with --copy.",
                                       id, spec->label);
        if (r > 0) {
                _cleanup_free_ char *tree = xasprintf("%s/tree", id);
                int fd = open_dir_nofollow(l->layers_fd, tree);
                if (fd < 0)
                        return log_error_errno(fd, "Cannot open layer %s: %m", id);
                log_debug("%s: unpacked already, as layer %s.", spec->label, id);
                push(l, id, fd);
                snprintf(l->chain, sizeof l->chain, "%s", chain);
                return 0;
        }
        if (r != -ENOENT)
                return log_error_errno(r, "Cannot look at layer %s: %m", id);

        /* Built under a hidden name, renamed when complete: the store never
         * holds half a layer under a name that a later create would reuse. */
        uint64_t rnd = 0;
        (void) getrandom(&rnd, sizeof rnd, 0);
        _cleanup_free_ char *staging = xasprintf(".staging-%s.%016llx", id, (unsigned long long) rnd);
        /* Open to all: the layer store around it is 0700, and a user's
         * berth reads the chain and reaches the tree of a layer that the
         * image store's range owns (userns.h). */
        r = RET_NERRNO(mkdirat(l->layers_fd, staging, 0755));
        _cleanup_close_ int sfd = r < 0 ? r : open_dir_nofollow(l->layers_fd, staging);
        r = sfd < 0 ? sfd : RET_NERRNO(mkdirat(sfd, "tree", 0755));
        int tree = r < 0 ? r : open_dir_nofollow(sfd, "tree");
        if (tree < 0) {
                (void) rm_rf_at(l->layers_fd, staging);
                return log_error_errno(tree, "Cannot make a directory for %s in the layer store: %m", spec->label);
        }
        _cleanup_free_ int *lowers = xcalloc(l->n + 1, sizeof(int));
        for (size_t i = 0; i < l->n; i++)
                lowers[i] = l->trees[l->n - 1 - i];
        spec->overlay_diff = true;
        spec->lowers = lowers;
        spec->n_lowers = l->n;
        r = apply_one(s, tree, blob, spec);
        if (r >= 0) {
                _cleanup_free_ char *text = xasprintf("%s\n", chain);
                r = write_file_atomic_at(sfd, LAYER_CHAIN_FILE, text, strlen(text), 0644);
                if (r >= 0 && syncfs(sfd) < 0)
                        r = -errno;
                if (r >= 0 && renameat2(l->layers_fd, staging, l->layers_fd, id, RENAME_NOREPLACE) < 0)
                        r = -errno;
                if (r < 0)
                        log_error_errno(r, "Cannot store %s as layer %s: %m", spec->label, id);
        }
        if (r < 0) {
                close(tree);
                (void) rm_rf_at(l->layers_fd, staging);
                return r;
        }
        push(l, id, tree);
        snprintf(l->chain, sizeof l->chain, "%s", chain);
        return 0;
}

int layered_write_list(const Layered *l, const char *outdir) {
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, outdir);
        if (dfd < 0)
                return log_error_errno(dfd, "Cannot open %s: %m", outdir);
        _cleanup_free_ char *text = NULL;
        for (size_t i = l->n; i-- > 0;) /* top first, as layers.h lists them */
                strextendf(&text, "%s\n", l->ids[i]);
        int r = write_file_atomic_at(dfd, LAYERED_LIST, text ?: "", text ? strlen(text) : 0, 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s/%s: %m", outdir, LAYERED_LIST);
        return 0;
}
