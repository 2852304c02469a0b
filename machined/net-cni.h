/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* [Network] Mode=cni in the supervisor: the machine's CNI network (lib/cni.h)
 * found and checked before the first boot, its plugins' ADD for each boot's
 * network namespace (before the init runs), and their DEL at reboot and at
 * the end.  The namespace is held open by the supervisor from ADD to DEL, so
 * that DEL finds it even after the init is gone; the plugins get it as
 * /proc/SUPERVISOR/fd/N. */

#include <json-c/json.h>

#include "cni.h"
#include "config.h"
#include "store.h"

typedef struct CniAttachment {
        char *machine;
        CniNetwork net;
        CniRuntime rt;
        int dir_fd;            /* RUN/NAME: the cache */
        int netns_fd;          /* of the attached boot */
        json_object *result;   /* what ADD returned; NULL: not attached */
        char *addresses;       /* of RESULT, for status */
} CniAttachment;

#define CNI_ATTACHMENT_INIT ((CniAttachment) { .dir_fd = -EBADF, .netns_fd = -EBADF })

/* Find and check the network (and its plugins), with what the machine
 * asks of it (Port=); remove what a killed supervisor of NAME left. */
int cni_attachment_prepare(CniAttachment *a, Store *store, const char *name, const MachineConfig *cfg);
/* ADD the network to the namespace NETNS_FD (after a DEL of the last boot's);
 * *RET_RESOLV_CONF: the guest's resolv.conf from the result's DNS, or NULL. */
int cni_attachment_add(CniAttachment *a, int netns_fd, char **ret_resolv_conf);
/* DEL what is attached; never fails (logs). */
void cni_attachment_del(CniAttachment *a);
void cni_attachment_done(CniAttachment *a);
