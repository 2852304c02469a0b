/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the verbs of the berth command. */

#include <stdbool.h>

#include "create.h"
#include "exit-codes.h"
#include "options.h"
#include "store.h"
#include "unit.h"

typedef struct Context {
        Store store;
        const char *root;   /* --root */
        const char *config; /* --config */
        bool json;
        bool quiet;
        RunMode mode;       /* valid once mode_known */
        bool mode_known;
        sd_bus *bus;        /* unit mode: the system bus */
} Context;

/* Unit or direct mode for this host (decided once, see run_mode_detect()). */
int context_run_mode(Context *ctx, RunMode *ret);

typedef int (*VerbFunc)(Context *ctx, int argc, char **argv);

/* The verbs, each beside its function: name, options, help (options.h).
 * Verb functions return 0, -errno or a typed error (exit-codes.h). */
extern const VerbSpec create_verb, import_verb, start_verb, stop_verb, kill_verb, reboot_verb, list_verb,
        status_verb, logs_verb, set_verb, enable_verb, disable_verb, run_verb, clone_verb, snapshot_verb,
        snapshots_verb, restore_verb, gc_verb, rm_verb, exec_verb, cp_verb, shell_verb, console_verb, pull_verb,
        images_verb, rmi_verb, bind_verb, unbind_verb, export_verb, rename_verb, edit_verb;

/* The table of a verb with no options but --help. */
extern const OptionSpec no_options[];

int verb_create(Context *ctx, int argc, char **argv);
int verb_import(Context *ctx, int argc, char **argv);
/* How create, import and clone start (verb-create.c): every --set
 * validated into CFG, then staging_make() (SHARED_BASE: its).  Returns 0
 * or a verb error; on an error nothing was made. */
int staging_begin(Context *ctx, const char *name, char *const *set, uid_t shared_base, MachineConfig *cfg,
                  Staging *ret);
/* The cap on an unpacked image (import, create --from-tar) as the helpers
 * take it, bytes or "infinity" (malloc'ed): ARG (--max-size) if given, else
 * berth.conf's [Import] MaxSize=.  Returns 0 or a verb error (logged). */
int import_max_size(Context *ctx, const char *arg, char **ret);
/* Make machine NAME from image SOURCE (checked by the caller) through
 * berth-import, as berth import does; LABEL is the SOURCE= of its info
 * ("import:PATH", "pull:REF").  Returns 0 or a verb error (logged). */
int import_machine(Context *ctx, const char *name, const char *source, const char *label, ImportOptions *a,
                   char *const *set, const char *max_size_arg);
/* The layers of image REF of the store (manifest MANIFEST, for PLATFORM or
 * the host's) unpacked into the layer store, those it lacks, and noted as
 * the image's (layers.h), so that its first machine unpacks nothing, at
 * most MAX_SIZE_ARG (--max-size as given; NULL: berth.conf's).  *RET_LAYERS
 * (may be NULL) gets their list, top first.  The
 * caller holds the image store's lock.  Returns 0 or a verb error
 * (logged); *RET_REFUSED (may be NULL) is set when the error is the
 * image's (a layer failed its check or the size limit). */
int image_layers_unpack(Context *ctx, const char *ref, const char *platform, const char *max_size_arg,
                        const char *manifest, char ***ret_layers, bool *ret_refused);
/* --boot of import and pull: auto, yes or no into A (logs what is wrong). */
int boot_option(const char *arg, ImportOptions *a);
int verb_pull(Context *ctx, int argc, char **argv);
/* create --image REF NAME: machine NAME from the pulled image REF, layered
 * over its layers in the layer store (each unpacked once), or a flat copy
 * with COPY.  Returns an exit code (logged). */
int create_from_image(Context *ctx, const char *name, const char *ref, bool copy, char *const *set,
                      const char *max_size_arg);
/* After a store gained image REF (pull, a template build): its layers
 * unpacked (image_layers_unpack()), or, if the image's layers are refused,
 * the image dropped again (see the rule there).  BEFORE is the digest REF
 * named before the pull or build stored it (NULL: none).  Returns 0 or a
 * verb error (logged). */
int image_unpack_or_drop(Context *ctx, const char *ref, const char *platform, const char *max_size_arg,
                         const char *before);
/* Template images (template-image.c): TEMPLATE's tree as the store's image
 * localhost/berth/template/TEMPLATE:RELEASE ("latest" without RELEASE). */
char *template_image_ref(const char *template, const char *release);
/* Build it (again with FORCE: a new digest; machines of the old one keep
 * its layer), its layer unpacked; without FORCE nothing is built if the
 * store has it once the build lock is ours.  REFRESH_CACHE: the template
 * builds its download cache anew too (create --refresh).  *RET_REF (may be
 * NULL) gets its reference.  Returns 0 or a verb error (logged). */
int template_image_build(Context *ctx, const char *template, const char *release, bool force, bool refresh_cache,
                         char **ret_ref);
/* Remove the directories of killed template builds (ROOT/images/
 * .template-build.*) unless a build runs now, each named on REPORT (may be
 * NULL): how many went, or -errno (logged). */
int template_builds_gc(Context *ctx, FILE *report);
/* RELEASE (NULL: none) usable as a template's release: 0 or ERR_USAGE
 * (logged). */
int template_release_check(const char *release);
/* Whether the store has it: 1, 0, or -errno (logged). */
int template_image_exists(Context *ctx, const char *template, const char *release);
/* The read-only image TEMPLATE of berth run (ROOT/images/bases, BASES_FD)
 * over the layer of the template's store image (built if the store lacks
 * it).  The caller holds the run image's build lock and saw none.  0 or
 * -errno (logged). */
int template_run_base_build(Context *ctx, int bases_fd, const char *template);
int verb_images(Context *ctx, int argc, char **argv);
int verb_rmi(Context *ctx, int argc, char **argv);
/* The global configuration (berth.conf) alone; 0 or a verb error (logged). */
int load_global_config(Context *ctx, MachineConfig *ret);
int verb_clone(Context *ctx, int argc, char **argv);
int verb_snapshot(Context *ctx, int argc, char **argv);
int verb_snapshots(Context *ctx, int argc, char **argv);
int verb_restore(Context *ctx, int argc, char **argv);
int verb_start(Context *ctx, int argc, char **argv);
int verb_stop(Context *ctx, int argc, char **argv);
int verb_kill(Context *ctx, int argc, char **argv);
int verb_reboot(Context *ctx, int argc, char **argv);
int verb_list(Context *ctx, int argc, char **argv);
int verb_status(Context *ctx, int argc, char **argv);
int verb_rm(Context *ctx, int argc, char **argv);
int verb_rename(Context *ctx, int argc, char **argv);
int verb_export(Context *ctx, int argc, char **argv);
int verb_exec(Context *ctx, int argc, char **argv);
int verb_cp(Context *ctx, int argc, char **argv);
int verb_shell(Context *ctx, int argc, char **argv);
int verb_set(Context *ctx, int argc, char **argv);
int verb_edit(Context *ctx, int argc, char **argv);
int verb_logs(Context *ctx, int argc, char **argv);
int verb_run(Context *ctx, int argc, char **argv);
int verb_gc(Context *ctx, int argc, char **argv);
/* What "berth run SOURCE" boots (run-source.c): machine SOURCE, else image
 * SOURCE, else template SOURCE built into that image now (once, under a
 * lock; progress on a terminal).  *RET_BASE is the base as a run instance
 * names it (see store_machine_base()), *RET_DIR_FD the machine's or image's
 * dir.  *RET_LOCK gets a shared lock on an image's base (-EBADF for a
 * machine), to hold until the instance over it is made: images prune
 * leaves the image alone meanwhile.  Returns 0 or a verb error (logged). */
int run_source_open(Context *ctx, const char *source, char **ret_base, int *ret_dir_fd, int *ret_lock);
int verb_enable(Context *ctx, int argc, char **argv);
int verb_disable(Context *ctx, int argc, char **argv);
int verb_console(Context *ctx, int argc, char **argv);
int verb_bind(Context *ctx, int argc, char **argv);
int verb_unbind(Context *ctx, int argc, char **argv);

/* Validate NAME at the CLI edge; logs and returns ERR_USAGE or 0. */
int check_name(const char *name);
/* Parse a verb whose only argument is NAME and which has no options but
 * --help; 0 with *RET, or a verb error. */
int only_name(const VerbSpec *verb, int argc, char **argv, const char **ret);
/* Parse a verb that has no options but --help and MIN to MAX positional
 * arguments, left in P; 0, or a verb error. */
int only_args(const VerbSpec *verb, int argc, char **argv, int min, int max, OptionParser *p);
/* After P's options: NAME as the only positional argument. */
int one_name(const OptionParser *p, const char **ret);
/* Open the store, take the machine's lock, check the machine exists.
 * Returns 0 with the lock fd, or a verb error (logged). */
int open_machine(Context *ctx, const char *name, int *ret_lock);
/* Open the store and check machine NAME exists, without taking its lock
 * (read-only verbs).  0, or a verb error (logged). */
int look_up_machine(Context *ctx, const char *name);
/* berth-oci's records of machine-profile containers (lib/oci-record.h):
 * their dir, shown by list and status for the default state root or when
 * $BERTH_OCI_RECORDS names it; else NULL.  The store must be open. */
const char *context_oci_records(Context *ctx);
/* If NAME is no machine but a running OCI container's record: say who
 * manages it and return ERR_NO_MACHINE; else 0. */
int refuse_oci_container(Context *ctx, const char *name);
/* The options of verbs whose only one is --json (list, status, snapshots):
 * sets ctx->json, leaves the positionals in P; ERR_USAGE for anything else. */
#define JSON_OPTION { "json", 'j', 'j', NULL, "print JSON" }
int parse_json_option(Context *ctx, OptionParser *p);
/* Open the store; logs. */
int context_open_store(Context *ctx);
typedef struct ExecOptions {
        bool tty;          /* a pty inside the machine */
        bool interactive;  /* pass our stdin */
        bool login;        /* berth shell: login environment, the user's shell */
        const char *user;  /* NULL: root */
        const char *cwd;   /* NULL: "/" (exec) or the user's home (shell) */
        char **setenv;     /* K=V */
        char **cmd;        /* may be empty with login */
} ExecOptions;

/* Run O->cmd in running machine NAME; returns its exit status, or a verb
 * error (exit_code_of() with RUNS_COMMAND makes that 125). */
int machine_exec(Context *ctx, const char *name, const ExecOptions *o);
/* The options of exec (-t -i --user --cwd --setenv), which shell and run
 * share: their table entries, and one option's handling (ERR_USAGE if bad). */
#define EXEC_OPTION_TTY { "tty", 't', 't', NULL, "give the command a terminal (a pty of the machine's own)" }
#define EXEC_OPTION_INTERACTIVE { "interactive", 'i', 'i', NULL, "pass stdin to the command (else /dev/null, with a warning if data waits in it)" }
#define EXEC_OPTIONS_USER                                                                               \
        { "user", 'u', 'u', "USER", "run as USER of the machine (name or UID; default root)" },         \
        { "cwd", 'w', 'w', "DIR", "run in DIR, an absolute path in the machine" },                       \
        { "setenv", 'E', 'E', "NAME=VALUE", "set an environment variable (repeatable)" }
int exec_option(int c, const char *arg, ExecOptions *o, char ***setenv);
/* After P's options: NAME (or SOURCE), then the command (at least a word if
 * REQUIRED). */
int name_and_command(const OptionParser *p, bool command_required, const char **ret_name, char ***ret_cmd);

/* --bind, --bind-ro and --tmpfs of create, start and run: [Files] values
 * (binds.h), checked, one per line. */
typedef struct FilesOptions {
        char *binds, *binds_ro, *tmpfs;
} FilesOptions;

enum {
        FILES_OPT_BIND = 0x100,
        FILES_OPT_BIND_RO,
        FILES_OPT_TMPFS,
};

#define FILES_OPTIONS                                                                                  \
        { "bind", 0, FILES_OPT_BIND, "SRC[:DST[:OPTS]]", "bind-mount a host path into the machine (repeatable)" }, \
        { "bind-ro", 0, FILES_OPT_BIND_RO, "SRC[:DST[:OPTS]]", "the same, read-only (repeatable)" },   \
        { "tmpfs", 0, FILES_OPT_TMPFS, "DST[:OPTS]", "mount a fresh tmpfs on DST (repeatable)" }
#define DEVICE_OPTION(what)                                                                             \
        { "device", 0, 'D', "PATH[:rwm][:privileged]", "give the machine a host device " what " (repeatable)" }

/* Take option C (one of FILES_OPT_*) with ARG into F: 0, or ERR_USAGE
 * (logged) for a bad value. */
int files_option(int c, const char *arg, FilesOptions *f);
void files_options_done(FilesOptions *f);
/* F as --set assignments (for create), appended to *SET. */
void files_options_to_set(const FilesOptions *f, char ***set);

typedef struct StartOptions {
        bool wait;        /* until the guest has booted */
        unsigned timeout; /* for wait, seconds */
        bool ephemeral;
        bool stub_init;   /* berth's minimal PID 1 instead of the machine's init */
        int lifeline_fd;  /* >= 0 (direct mode): the machine stops when this pipe closes */
        pid_t lifeline_pid; /* > 0 (unit mode): ... when this process ends */
        int lock_fd;      /* >= 0 (direct mode): the machine's lock, which the caller holds; the supervisor
                           * holds it too until its runtime state exists, so that a berth killed in
                           * between leaves no moment in which another start sees no supervisor */
        char *ports;      /* --port forwards for this run, space-separated (checked); NULL: none */
        FilesOptions files; /* --bind, --bind-ro, --tmpfs for this run */
        char *devices;    /* --device for this run, ","-separated (checked); NULL: none */
        const char *network; /* --network for this run (MODE or cni:NAME, checked); NULL: as configured */
} StartOptions;

/* --network of start and run: this run's network, as create's --network
 * takes it, never written to machine.conf. */
#define NETWORK_OPTION                                                                                  \
        { "network", 0, 'N', "MODE|cni:NAME", "this run's network (bridge, none, host, macvlan, ipvlan, "  \
          "cni:NAME), not kept in machine.conf" }
/* Check a --network value (logs and returns ERR_USAGE if bad). */
int network_option_check(const char *arg);

/* Check a --device PATH|CLASS[:ACCESS][:privileged] (OPTION) and append it
 * to *LIST (","-separated, as the supervisor takes it).  Logs and returns
 * -EINVAL when it is bad. */
int device_option_add(char **list, const char *option);

/* The supervisor binary ($BERTH_MACHINED overrides, for tests). */
const char *machined_path(void);

/* Start machine NAME (caller holds its lock).  Returns 0 or a verb error. */
int machine_start(Context *ctx, const char *name, const StartOptions *o);

/* Stop a running machine (poweroff signal, then SIGKILL after TIMEOUT_SEC).
 * Caller holds the machine lock. 0 if stopped (or was not running). */
int machine_stop(Context *ctx, const char *name, unsigned timeout_sec, bool force_kill);
