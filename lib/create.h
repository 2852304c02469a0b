/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Making machines: what create, import, clone and run share. */

#include <stdbool.h>

/* What the import helper recorded about an image in the machine's "image"
 * file (see oci-image.h).  Each value is NULL unless present and made only
 * of characters safe to print (the helper parsed untrusted input). */
typedef struct ImageInfo {
        char *source_kind;
        char *manifest;
        char *ports; /* exposed ports, "80/tcp 443/tcp" */
} ImageInfo;
void image_info_done(ImageInfo *i);
/* Read DIR_FD/image.  0, -EBADMSG if malformed (*RET then empty), or
 * another -errno (it is missing or cannot be read). */
int image_info_read_at(int dir_fd, ImageInfo *ret);
