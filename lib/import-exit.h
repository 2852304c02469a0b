/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Exit statuses of berth-import (helpers/import.c) beyond 0 and 1, which
 * berth (import_helper_run(), create.h) tells apart. */

/* The arguments or the source: not an image, no such ref or platform. */
#define IMPORT_EXIT_USAGE 2
/* The image's content: a blob or layer failed its check, or the size
 * limit (a pull drops such an image again; a full disk is not this). */
#define IMPORT_EXIT_IMAGE_REFUSED 3
