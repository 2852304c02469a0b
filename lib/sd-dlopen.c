/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libsystemd, loaded on first use instead of at every exec of berth.
 *
 * Only the unit-mode paths talk to systemd, but linking libsystemd made
 * every berth command and every supervisor load it and its tail (libgcrypt,
 * libgpg-error, liblzma, libzstd, liblz4): about 3 ms of dynamic linking on
 * each `berth exec` and 0.8 MB of the supervisor's resident memory, for
 * nothing in direct mode.  So the binaries are not linked against it: the
 * sd_* functions berth calls are defined here with libsystemd's own
 * prototypes (its headers are still used) and forward to the library,
 * opened with dlopen() the first time one is called.  Variadic functions
 * forward to their va_list twins.  Without libsystemd.so.0 (a host without
 * systemd) every call fails with -EOPNOTSUPP, and sd_booted(), which only
 * looks at the file system, says no without loading anything. */

#include <stdarg.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "dlopen.h"
#include "util.h"

typedef struct LibSystemd {
        int (*bus_open_system)(sd_bus **);
        int (*bus_open_user)(sd_bus **);
        sd_bus *(*bus_flush_close_unref)(sd_bus *);
        int (*bus_call)(sd_bus *, sd_bus_message *, uint64_t, sd_bus_error *, sd_bus_message **);
        int (*bus_process)(sd_bus *, sd_bus_message **);
        int (*bus_wait)(sd_bus *, uint64_t);
        sd_bus_slot *(*bus_slot_unref)(sd_bus_slot *);
        int (*bus_message_new_method_call)(sd_bus *, sd_bus_message **, const char *, const char *, const char *,
                                           const char *);
        sd_bus_message *(*bus_message_unref)(sd_bus_message *);
        int (*bus_message_appendv)(sd_bus_message *, const char *, va_list);
        int (*bus_message_append_array)(sd_bus_message *, char, const void *, size_t);
        int (*bus_message_append_strv)(sd_bus_message *, char **);
        int (*bus_message_open_container)(sd_bus_message *, char, const char *);
        int (*bus_message_close_container)(sd_bus_message *);
        int (*bus_message_readv)(sd_bus_message *, const char *, va_list);
        int (*bus_message_enter_container)(sd_bus_message *, char, const char *);
        int (*bus_message_exit_container)(sd_bus_message *);
        int (*bus_message_skip)(sd_bus_message *, const char *);
        int (*bus_call_methodv)(sd_bus *, const char *, const char *, const char *, const char *, sd_bus_error *,
                                sd_bus_message **, const char *, va_list);
        int (*bus_match_signal)(sd_bus *, sd_bus_slot **, const char *, const char *, const char *, const char *,
                                sd_bus_message_handler_t, void *);
        void (*bus_error_free)(sd_bus_error *);
        int (*bus_error_has_name)(const sd_bus_error *, const char *);
        int (*notify)(int, const char *);
} LibSystemd;

/* The one piece of process-wide state: a library, like the process, is
 * loaded once.  Written by the first call, read-only afterwards; berth and
 * its helpers are single-threaded. */
static const LibSystemd *loaded;

static const LibSystemd *libsystemd(void) {
        static LibSystemd lib;
        static bool tried;
        if (tried)
                return loaded;
        tried = true;

        const DlSymbol syms[] = {
#define SYM(field, name) { name, &lib.field }
                SYM(bus_open_system, "sd_bus_open_system"),
                SYM(bus_open_user, "sd_bus_open_user"),
                SYM(bus_flush_close_unref, "sd_bus_flush_close_unref"),
                SYM(bus_call, "sd_bus_call"),
                SYM(bus_process, "sd_bus_process"),
                SYM(bus_wait, "sd_bus_wait"),
                SYM(bus_slot_unref, "sd_bus_slot_unref"),
                SYM(bus_message_new_method_call, "sd_bus_message_new_method_call"),
                SYM(bus_message_unref, "sd_bus_message_unref"),
                SYM(bus_message_appendv, "sd_bus_message_appendv"),
                SYM(bus_message_append_array, "sd_bus_message_append_array"),
                SYM(bus_message_append_strv, "sd_bus_message_append_strv"),
                SYM(bus_message_open_container, "sd_bus_message_open_container"),
                SYM(bus_message_close_container, "sd_bus_message_close_container"),
                SYM(bus_message_readv, "sd_bus_message_readv"),
                SYM(bus_message_enter_container, "sd_bus_message_enter_container"),
                SYM(bus_message_exit_container, "sd_bus_message_exit_container"),
                SYM(bus_message_skip, "sd_bus_message_skip"),
                SYM(bus_call_methodv, "sd_bus_call_methodv"),
                SYM(bus_match_signal, "sd_bus_match_signal"),
                SYM(bus_error_free, "sd_bus_error_free"),
                SYM(bus_error_has_name, "sd_bus_error_has_name"),
                SYM(notify, "sd_notify"),
#undef SYM
        };
        if (dlopen_symbols("libsystemd.so.0", syms, ELEMENTSOF(syms), NULL) < 0)
                return NULL;
        loaded = &lib;
        return loaded;
}

#define CALL_OR(fail, field, ...)                              \
        do {                                                   \
                const LibSystemd *_l = libsystemd();           \
                if (!_l)                                       \
                        return fail;                           \
                return _l->field(__VA_ARGS__);                 \
        } while (0)

int sd_booted(void) {
        /* What libsystemd itself checks: systemd creates this directory at boot. */
        return access("/run/systemd/system/", F_OK) >= 0;
}

int sd_notify(int unset_environment, const char *state) {
        /* Nobody listens: done, as libsystemd would say, without loading it. */
        if (!getenv("NOTIFY_SOCKET"))
                return 0;
        CALL_OR(-EOPNOTSUPP, notify, unset_environment, state);
}

int sd_bus_open_system(sd_bus **ret) {
        CALL_OR(-EOPNOTSUPP, bus_open_system, ret);
}

int sd_bus_open_user(sd_bus **ret) {
        CALL_OR(-EOPNOTSUPP, bus_open_user, ret);
}

sd_bus *sd_bus_flush_close_unref(sd_bus *bus) {
        /* A bus exists only if the library was loaded. */
        if (!bus)
                return NULL;
        CALL_OR(NULL, bus_flush_close_unref, bus);
}

int sd_bus_call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_error *ret_error, sd_bus_message **reply) {
        CALL_OR(-EOPNOTSUPP, bus_call, bus, m, usec, ret_error, reply);
}

int sd_bus_process(sd_bus *bus, sd_bus_message **r) {
        CALL_OR(-EOPNOTSUPP, bus_process, bus, r);
}

int sd_bus_wait(sd_bus *bus, uint64_t timeout_usec) {
        CALL_OR(-EOPNOTSUPP, bus_wait, bus, timeout_usec);
}

sd_bus_slot *sd_bus_slot_unref(sd_bus_slot *slot) {
        if (!slot)
                return NULL;
        CALL_OR(NULL, bus_slot_unref, slot);
}

int sd_bus_message_new_method_call(sd_bus *bus, sd_bus_message **m, const char *destination, const char *path,
                                   const char *interface, const char *member) {
        CALL_OR(-EOPNOTSUPP, bus_message_new_method_call, bus, m, destination, path, interface, member);
}

sd_bus_message *sd_bus_message_unref(sd_bus_message *m) {
        if (!m)
                return NULL;
        CALL_OR(NULL, bus_message_unref, m);
}

int sd_bus_message_append(sd_bus_message *m, const char *types, ...) {
        const LibSystemd *l = libsystemd();
        if (!l)
                return -EOPNOTSUPP;
        va_list ap;
        va_start(ap, types);
        int r = l->bus_message_appendv(m, types, ap);
        va_end(ap);
        return r;
}

int sd_bus_message_append_array(sd_bus_message *m, char type, const void *ptr, size_t size) {
        CALL_OR(-EOPNOTSUPP, bus_message_append_array, m, type, ptr, size);
}

int sd_bus_message_append_strv(sd_bus_message *m, char **l) {
        CALL_OR(-EOPNOTSUPP, bus_message_append_strv, m, l);
}

int sd_bus_message_open_container(sd_bus_message *m, char type, const char *contents) {
        CALL_OR(-EOPNOTSUPP, bus_message_open_container, m, type, contents);
}

int sd_bus_message_close_container(sd_bus_message *m) {
        CALL_OR(-EOPNOTSUPP, bus_message_close_container, m);
}

int sd_bus_message_read(sd_bus_message *m, const char *types, ...) {
        const LibSystemd *l = libsystemd();
        if (!l)
                return -EOPNOTSUPP;
        va_list ap;
        va_start(ap, types);
        int r = l->bus_message_readv(m, types, ap);
        va_end(ap);
        return r;
}

int sd_bus_message_enter_container(sd_bus_message *m, char type, const char *contents) {
        CALL_OR(-EOPNOTSUPP, bus_message_enter_container, m, type, contents);
}

int sd_bus_message_exit_container(sd_bus_message *m) {
        CALL_OR(-EOPNOTSUPP, bus_message_exit_container, m);
}

int sd_bus_message_skip(sd_bus_message *m, const char *types) {
        CALL_OR(-EOPNOTSUPP, bus_message_skip, m, types);
}

int sd_bus_call_method(sd_bus *bus, const char *destination, const char *path, const char *interface,
                       const char *member, sd_bus_error *ret_error, sd_bus_message **reply, const char *types, ...) {
        const LibSystemd *l = libsystemd();
        if (!l)
                return -EOPNOTSUPP;
        va_list ap;
        va_start(ap, types);
        int r = l->bus_call_methodv(bus, destination, path, interface, member, ret_error, reply, types, ap);
        va_end(ap);
        return r;
}

int sd_bus_match_signal(sd_bus *bus, sd_bus_slot **ret, const char *sender, const char *path, const char *interface,
                        const char *member, sd_bus_message_handler_t callback, void *userdata) {
        CALL_OR(-EOPNOTSUPP, bus_match_signal, bus, ret, sender, path, interface, member, callback, userdata);
}

void sd_bus_error_free(sd_bus_error *e) {
        /* An error can only have been filled in by the library. */
        const LibSystemd *l = loaded;
        if (l && e)
                l->bus_error_free(e);
}

int sd_bus_error_has_name(const sd_bus_error *e, const char *name) {
        /* Without the library no call was made, so no error has a name. */
        if (!loaded || !e)
                return 0;
        return loaded->bus_error_has_name(e, name);
}
