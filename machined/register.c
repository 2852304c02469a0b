/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-bus.h>

#include "log.h"
#include "register.h"
#include "util.h"

#define MACHINE1_DEST "org.freedesktop.machine1"
#define MACHINE1_PATH "/org/freedesktop/machine1"
#define MACHINE1_MANAGER "org.freedesktop.machine1.Manager"

int register_machine(const char *name, pid_t leader, const char *root_directory, const int *ifindices,
                     size_t n_ifindices) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_warning_errno(r, "Cannot reach the system bus to register with machined: %m");

        /* A registration a crashed supervisor left must not block this one. */
        (void) sd_bus_call_method(bus, MACHINE1_DEST, MACHINE1_PATH, MACHINE1_MANAGER, "UnregisterMachine", NULL,
                                  NULL, "s", name);

        /* WithNetwork: machinectl status then lists the machine's addresses. */
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        r = sd_bus_message_new_method_call(bus, &m, MACHINE1_DEST, MACHINE1_PATH, MACHINE1_MANAGER,
                                           "RegisterMachineWithNetwork");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', NULL, 0); /* no id: machined takes the guest's */
        if (r >= 0)
                r = sd_bus_message_append(m, "ssus", "berth", "container", (uint32_t) leader, root_directory);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'i', ifindices, n_ifindices * sizeof *ifindices);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                return log_warning_errno(r, "Failed to register machine %s with machined: %s", name,
                                         error.message ?: strerror(-r));
        return 0;
}

void unregister_machine(const char *name) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        if (sd_bus_open_system(&bus) < 0)
                return;
        (void) sd_bus_call_method(bus, MACHINE1_DEST, MACHINE1_PATH, MACHINE1_MANAGER, "UnregisterMachine", NULL,
                                  NULL, "s", name);
}
