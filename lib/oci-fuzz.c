/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "oci-internal.h"
#include "util.h"

void oci_fuzz_json(const char *text, size_t len, int rootfd) {
        _cleanup_json_ json_object *o = NULL;
        if (json_parse("fuzz", text, len, &o) < 0)
                return;

        ImportOptions opts = { .ref = "latest", .max_size = UINT64_MAX };
        _cleanup_(selection_done) Selection sel = { .options = &opts };
        platform_host(&sel.platform);
        (void) select_in_index(&sel, o, 0);

        json_object *layers = jget(o, "layers", json_type_array);
        for (size_t i = 0; layers && i < json_object_array_length(layers); i++) {
                Descriptor d;
                if (descriptor_parse(json_object_array_get_idx(layers, i), "fuzz", &d) >= 0)
                        (void) layer_compression(d.media_type);
        }

        _cleanup_(image_exec_done) ImageExec ie = {};
        if (image_exec_from_config(o, &ie) < 0)
                return;
        _cleanup_(machine_config_done) MachineConfig mc = {};
        machine_config_init(&mc);
        const char *mode;
        for (ImportBoot b = IMPORT_BOOT_AUTO; b <= IMPORT_BOOT_NO; b++) {
                machine_config_done(&mc);
                machine_config_init(&mc);
                if (exec_to_config(rootfd, &ie, b, &mc, &mode) < 0)
                        continue;
                _cleanup_free_ char *frag = machine_config_format(&mc, mc.set_mask), *err = NULL;
                _cleanup_(machine_config_done) MachineConfig back = {};
                machine_config_init(&back);
                if (machine_config_parse_text(&back, frag, strlen(frag), "fragment", CONFIG_SOURCE_MACHINE, true,
                                              &err) < 0)
                        abort();
        }
}
