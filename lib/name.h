/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Longest machine name.  Names become directory names, unit names
 * (berth-NAME.service), hostnames and machined registrations. */
#define MACHINE_NAME_MAX 64

/* 0 if NAME is a valid machine name, else -EINVAL and *ret_reason (if not
 * NULL) set to a static, human-readable explanation. Rules: 1..64 bytes;
 * ASCII letters, digits and '-' in labels separated by single '.'; no
 * leading '-' or '.', no trailing '.', no "..", not "locks" (reserved).  So
 * '/', '.', '..', empty, non-ASCII and option-like names are all refused. */
int machine_name_validate(const char *name, const char **ret_reason);

static inline bool machine_name_is_valid(const char *name) {
        return machine_name_validate(name, (const char **) 0) == 0;
}
