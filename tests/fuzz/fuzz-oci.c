/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: OCI JSON (index, manifest, image config) as berth-import
 * reads it, through json-c, descriptor checks, manifest selection and the
 * conversion of an image config into machine.conf, which must always give a
 * fragment the strict config parser accepts (oci_fuzz_json() aborts if not). */
#include <fcntl.h>
#include <stdint.h>

#include "log.h"
#include "oci-image.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 256 * 1024)
                return 0;
        log_set_max_level(LOG_CRIT); /* bad input is the point: no messages */
        _cleanup_free_ char *text = xmalloc(size + 1);
        memcpy(text, data, size);
        text[size] = 0;
        /* Commands are looked up in an empty tree: nothing of the host matters. */
        _cleanup_close_ int rootfd = open("/var/empty", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                rootfd = open("/proc/self/fdinfo", O_PATH | O_DIRECTORY | O_CLOEXEC);
        oci_fuzz_json(text, size, rootfd);
        return 0;
}
