/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "log.h"
#include "machine-register.h"
#include "util.h"

#define MACHINE1_DEST "org.freedesktop.machine1"
#define MACHINE1_PATH "/org/freedesktop/machine1"
#define MACHINE1_MANAGER "org.freedesktop.machine1.Manager"

/* What machined has registered as NAME: its root directory and leader.
 * -ENOENT if nothing. */
static int registered_machine(sd_bus *bus, const char *name, char **ret_root, pid_t *ret_leader) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, MACHINE1_DEST, MACHINE1_PATH, MACHINE1_MANAGER, "GetMachine", &error, &reply,
                                   "s", name);
        if (r < 0)
                return sd_bus_error_has_name(&error, "org.freedesktop.machine1.NoSuchMachine") ? -ENOENT : r;
        const char *path;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        _cleanup_free_ char *opath = xstrdup(path);
        const char *props[] = { "RootDirectory", "Leader" };
        for (size_t i = 0; i < ELEMENTSOF(props); i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *v = NULL;
                r = sd_bus_call_method(bus, MACHINE1_DEST, opath, "org.freedesktop.DBus.Properties", "Get", NULL, &v,
                                       "ss", "org.freedesktop.machine1.Machine", props[i]);
                if (r < 0)
                        return r;
                if (i == 0) {
                        const char *root;
                        r = sd_bus_message_read(v, "v", "s", &root);
                        if (r >= 0)
                                *ret_root = xstrdup(root);
                } else {
                        uint32_t leader;
                        r = sd_bus_message_read(v, "v", "u", &leader);
                        if (r >= 0)
                                *ret_leader = (pid_t) leader;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Whether NAME may be taken: free, or held by what a crashed supervisor of
 * this machine (same root directory, if ROOT_DIRECTORY) or a machine that
 * is gone left. */
static bool name_available(sd_bus *bus, const char *name, const char *root_directory) {
        _cleanup_free_ char *root = NULL;
        pid_t leader = 0;
        int r = registered_machine(bus, name, &root, &leader);
        /* Free, or machined cannot tell (not running?): RegisterMachine will say. */
        if (r < 0)
                return true;
        bool same_root = root_directory && streq_ptr(root, root_directory);
        if (same_root || (leader > 0 && kill(leader, 0) < 0 && errno == ESRCH)) {
                (void) sd_bus_call_method(bus, MACHINE1_DEST, MACHINE1_PATH, MACHINE1_MANAGER, "UnregisterMachine",
                                          NULL, NULL, "s", name);
                return true;
        }
        return false;
}

int machine_register(const char *name, const char *alt_name, const char *service, pid_t leader,
                     const char *root_directory, bool same_root_is_same_machine, const int *ifindices,
                     size_t n_ifindices, char **ret_registered, char **ret_error) {
        const char *own_root = same_root_is_same_machine ? root_directory : NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_debug_errno(r, "No system bus to register %s with machined: %m", name);
                return -ENOTCONN;
        }

        /* machined has one namespace for the whole host; berth one per state
         * root.  A same-named machine of another root keeps its name, and this
         * one is known to machined by its qualified name. */
        const char *use = name;
        if (!name_available(bus, name, own_root)) {
                if (!alt_name || !name_available(bus, alt_name, own_root))
                        return -EEXIST;
                use = alt_name;
        }

        /* WithNetwork: machinectl status then lists the machine's addresses. */
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        r = sd_bus_message_new_method_call(bus, &m, MACHINE1_DEST, MACHINE1_PATH, MACHINE1_MANAGER,
                                           "RegisterMachineWithNetwork");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", use);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', NULL, 0); /* no id: machined takes the guest's */
        if (r >= 0)
                r = sd_bus_message_append(m, "ssus", service, "container", (uint32_t) leader, root_directory);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'i', ifindices, n_ifindices * sizeof *ifindices);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                if (ret_error)
                        *ret_error = xstrdup(error.message ?: strerror(-r));
                return r;
        }
        *ret_registered = xstrdup(use);
        return 0;
}

void machine_unregister(const char *name) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        if (sd_bus_open_system(&bus) < 0)
                return;
        (void) sd_bus_call_method(bus, MACHINE1_DEST, MACHINE1_PATH, MACHINE1_MANAGER, "UnregisterMachine", NULL,
                                  NULL, "s", name);
}
