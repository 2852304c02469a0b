/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>

#include "fs.h"
#include "log.h"
#include "oci-internal.h"
#include "util.h"

#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

/* ----- Writing the result ----- */

static int write_results(const char *outdir, const MachineConfig *c, const char *info) {
        _cleanup_close_ int dfd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", outdir);
        _cleanup_free_ char *conf = machine_config_format(c, c->set_mask);
        int r = write_file_atomic_at(dfd, "image.conf", conf, strlen(conf), 0644);
        if (r >= 0)
                r = write_file_atomic_at(dfd, "image", info, strlen(info), 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write the image's configuration to %s: %m", outdir);
        return 0;
}

/* ----- The source kinds ----- */

LayerCompression layer_compression(const char *mt) {
        static const struct {
                const char *media_type;
                LayerCompression c;
        } table[] = {
                { "application/vnd.oci.image.layer.v1.tar", LAYER_COMPRESSION_NONE },
                { "application/vnd.oci.image.layer.v1.tar+gzip", LAYER_COMPRESSION_GZIP },
                { "application/vnd.oci.image.layer.v1.tar+zstd", LAYER_COMPRESSION_ZSTD },
                { "application/vnd.oci.image.layer.nondistributable.v1.tar", LAYER_COMPRESSION_NONE },
                { "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_COMPRESSION_GZIP },
                { "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LAYER_COMPRESSION_ZSTD },
                /* Docker's say gzip but may be plain: sniffed. */
                { "application/vnd.docker.image.rootfs.diff.tar.gzip", LAYER_COMPRESSION_DETECT },
                { "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", LAYER_COMPRESSION_DETECT },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq_ptr(mt, table[i].media_type))
                        return table[i].c;
        return _LAYER_COMPRESSION_MAX;
}

int apply_one(const Source *s, int rootfd, const char *name, LayerSpec *spec) {
        _cleanup_(source_file_freep) SourceFile *f = NULL;
        uint64_t size;
        int r = source_open_file(s, name, &f, &size);
        if (r < 0)
                return log_error_errno(r, "%s: blob %s: %s", spec->label, name,
                                       r == -ENOENT ? "missing from the image" : "cannot be opened");
        /* The size first: nothing of a blob is used unless it has the size promised. */
        if (spec->size >= 0 && size != (uint64_t) spec->size)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "%s: size mismatch: the descriptor says %" PRIi64 " bytes, the blob has %" PRIu64 ".",
                                       spec->label, spec->size, size);
        return layer_apply(rootfd, spec, source_file_read, f);
}

/* Check the config's platform against the one wanted; -ENXIO if it differs. */
int check_config_platform(json_object *config, const Platform *want) {
        const char *os = jstr(config, "os"), *arch = jstr(config, "architecture"), *variant = jstr(config, "variant");
        if (platform_matches(want, os, arch, variant))
                return 0;
        _cleanup_free_ char *have = platform_string(os, arch, variant),
                            *w = platform_string(want->os, want->arch, want->variant);
        return log_error_errno(SYNTHETIC_ERRNO(ENXIO), "The image is for %s, not %s (see --platform).", have, w);
}

static int import_oci(const Source *s, int rootfd, const ImportOptions *o, const Platform *platform,
                      UnpackLimit *limit, Layered *layered, json_object **ret_config, char **ret_info) {
        _cleanup_json_ json_object *index = NULL;
        int r = source_read_json(s, "index.json", &index);
        if (r < 0)
                return r;

        _cleanup_(selection_done) Selection sel = { .source = s, .options = o };
        sel.platform = (Platform) { xstrdup(platform->os), xstrdup(platform->arch),
                                    platform->variant ? xstrdup(platform->variant) : NULL };
        r = select_in_index(&sel, index, 0);
        if (r < 0)
                return r;
        _cleanup_free_ char *want = platform_string(platform->os, platform->arch, platform->variant);
        if (o->ref && !sel.ref_seen)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "%s has no image '%s'%s%s%s.", s->path, o->ref,
                                       sel.refs ? " (it has: " : "", sel.refs ?: "", sel.refs ? ")" : "");
        if (sel.matches == 0 && sel.platform_miss)
                return log_error_errno(SYNTHETIC_ERRNO(ENXIO), "%s has no image for %s (see --platform).", s->path,
                                       want);
        if (sel.matches == 0)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "%s holds no image manifest.", s->path);
        if (sel.matches > 1 && !o->ref)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "%s holds several images; choose one with --ref%s%s%s.",
                                       s->path, sel.refs ? " (" : "", sel.refs ?: "", sel.refs ? ")" : "");

        Descriptor md = { .media_type = sel.manifest_media_type, .digest = sel.manifest_digest,
                          .size = sel.manifest_size };
        _cleanup_json_ json_object *manifest = NULL;
        r = read_blob_json(s, &md, "manifest", &manifest);
        if (r < 0)
                return r;
        const char *mmt = jstr(manifest, "mediaType");
        if (mmt && !streq(mmt, md.media_type))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Manifest %s says it is '%.80s', its descriptor '%s'.",
                                       md.digest, mmt, md.media_type);

        Descriptor cd;
        json_object *cj = jget(manifest, "config", json_type_object);
        if (!cj)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Manifest %s has no config.", md.digest);
        r = descriptor_parse(cj, "manifest config", &cd);
        if (r < 0)
                return r;
        if (!streq_ptr(cd.media_type, MT_OCI_CONFIG) && !streq_ptr(cd.media_type, MT_DOCKER_CONFIG))
                return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE),
                                       "Manifest %s is not a container image (config media type '%.80s').", md.digest,
                                       cd.media_type ?: "none");
        _cleanup_json_ json_object *config = NULL;
        r = read_blob_json(s, &cd, "config", &config);
        if (r < 0)
                return r;
        r = check_config_platform(config, platform);
        if (r < 0)
                return r;

        json_object *layers = jget(manifest, "layers", json_type_array);
        _cleanup_strv_free_ char **diff_ids = NULL;
        if (!layers || jstrv(jget(config, "rootfs", json_type_object), "diff_ids", &diff_ids) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The image has no layer list or no diff_ids.");
        size_t n = json_object_array_length(layers);
        if (strv_length(diff_ids) != n)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The image has %zu layers but %zu diff_ids.", n,
                                       strv_length(diff_ids));
        for (size_t i = 0; i < n; i++) {
                Descriptor ld;
                _cleanup_free_ char *what = xasprintf("layer %zu/%zu", i + 1, n);
                r = descriptor_parse(json_object_array_get_idx(layers, i), what, &ld);
                if (r < 0)
                        return r;
                LayerCompression comp = layer_compression(ld.media_type);
                if (comp == _LAYER_COMPRESSION_MAX)
                        return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE), "%s: unsupported media type '%.80s'.",
                                               what, ld.media_type ?: "none");
                _cleanup_free_ char *sd = short_digest(ld.digest), *path = blob_path(ld.digest);
                _cleanup_free_ char *label = xasprintf("layer %zu/%zu (%s)", i + 1, n, sd);
                LayerSpec spec = {
                        .label = label, .index = (unsigned) i + 1, .count = (unsigned) n, .compression = comp,
                        .digest = ld.digest, .size = ld.size, .diff_id = diff_ids[i], .whiteouts = true,
                        .progress = o->progress, .limit = limit,
                };
                if (o->configure_only)
                        continue; /* the layers are in place: checked when they were unpacked */
                r = layered ? layered_add(layered, s, path, &spec) : apply_one(s, rootfd, path, &spec);
                if (r < 0)
                        return r;
        }
        *ret_info = xasprintf("MANIFEST=%s\nCONFIG=%s\n", md.digest, cd.digest);
        *ret_config = TAKE_PTR(config);
        return 0;
}

static int import_rootfs_tar(const Source *s, int rootfd, const ImportOptions *o, UnpackLimit *limit) {
        LayerSpec spec = {
                .label = s->path, .index = 1, .count = 1, .compression = LAYER_COMPRESSION_DETECT, .size = -1,
                .whiteouts = false, .progress = o->progress, .limit = limit,
        };
        return apply_one(s, rootfd, "", &spec);
}

int oci_import(const char *source, const char *rootfs, const char *outdir, const ImportOptions *o) {
        _cleanup_(source_done) Source s = SOURCE_INIT;
        int r = source_open(source, &s);
        if (r < 0)
                return r;

        Platform platform = {};
        if (o->platform) {
                if (platform_parse(o->platform, &platform.os, &platform.arch, &platform.variant) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(ENXIO), "--platform wants OS/ARCH[/VARIANT], not '%s'.",
                                               o->platform);
        } else
                platform_host(&platform);

        _cleanup_close_ int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rootfd < 0) {
                platform_done(&platform);
                return log_error_errno(errno, "Cannot open %s: %m", rootfs);
        }

        _cleanup_json_ json_object *config = NULL;
        _cleanup_free_ char *info = NULL;
        _cleanup_(image_exec_done) ImageExec ie = {};
        bool have_exec = false;
        /* One budget for all layers: the tree is what reaches the disk. */
        UnpackLimit limit = UNPACK_LIMIT_INIT(o->max_size, rootfd);
        bool layered_mode = o->layers_dir || o->configure_only;
        if (layered_mode && s.kind != SOURCE_OCI_LAYOUT && s.kind != SOURCE_OCI_ARCHIVE) {
                platform_done(&platform);
                return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE), "A layered machine is made of OCI images only.");
        }
        _cleanup_(layered_done) Layered layered = LAYERED_INIT;
        if (o->layers_dir) {
                r = layered_open(o->layers_dir, &layered);
                if (r < 0) {
                        platform_done(&platform);
                        return r;
                }
        }
        switch (s.kind) {
        case SOURCE_OCI_LAYOUT:
        case SOURCE_OCI_ARCHIVE:
                r = import_oci(&s, rootfd, o, &platform, &limit, o->layers_dir ? &layered : NULL, &config, &info);
                break;
        case SOURCE_DOCKER_ARCHIVE:
                r = import_docker(&s, rootfd, o, &platform, &limit, &config, &info);
                break;
        case SOURCE_ROOTFS_TAR:
                r = import_rootfs_tar(&s, rootfd, o, &limit);
                info = xstrdup("");
                break;
        case SOURCE_BUNDLE:
                r = import_bundle(&s, rootfs, &ie, &info);
                have_exec = r >= 0;
                break;
        default:
                r = -EINVAL;
        }
        _cleanup_free_ char *pstr = platform_string(platform.os, platform.arch, platform.variant);
        platform_done(&platform);
        if (r < 0)
                return r;
        if (o->layers_dir)
                return layered_write_list(&layered, outdir);
        if (config) {
                r = image_exec_from_config(config, &ie);
                if (r < 0)
                        return r;
                have_exec = true;
        }

        _cleanup_(machine_config_done) MachineConfig mc = {};
        machine_config_init(&mc);
        const char *mode = "boot";
        if (have_exec) {
                r = exec_to_config(rootfd, &ie, o->boot, &mc, &mode);
                if (r < 0)
                        return r;
        } else if (o->boot == IMPORT_BOOT_NO)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--boot=no needs an image with a command; %s has none.",
                                       source);

        _cleanup_free_ char *all = xasprintf("SOURCE_KIND=%s\n%sPLATFORM=%s\nMODE=%s\n%s%s%s",
                                             source_kind_to_string(s.kind), info, pstr, mode,
                                             ie.ports ? "PORTS=" : "", ie.ports ?: "", ie.ports ? "\n" : "");
        return write_results(outdir, &mc, all);
}
