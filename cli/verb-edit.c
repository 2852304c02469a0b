/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth edit NAME: machine.conf in the user's editor, like systemctl edit.
 * The editor gets a copy; what it saves is checked with the parser every
 * start uses, and only a valid file replaces machine.conf (atomically,
 * under the machine's lock).  A bad one changes nothing: the copy is kept
 * and its path said, so the work is not lost. */

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "runtime.h"
#include "spawn.h"
#include "util.h"

const VerbSpec edit_verb = {
        .name = "edit",
        .func = verb_edit,
        .args = "NAME",
        .summary = "Edit machine.conf in $VISUAL or $EDITOR (else vi); saved only if it is valid",
        .example = "edit web\nEDITOR=nano berth edit web",
        .options = no_options,
        .complete = COMPLETE_MACHINE,
        .rootless = true,
};

/* The editor: $VISUAL, $EDITOR, else vi where a person can use it.  NULL
 * (logged) when there is nobody to edit: no terminal and no editor set. */
static const char *pick_editor(void) {
        const char *e = getenv("VISUAL");
        if (isempty(e))
                e = getenv("EDITOR");
        if (!isempty(e))
                return e;
        if (!isatty(STDIN_FILENO)) {
                log_error("stdin is not a terminal and neither $VISUAL nor $EDITOR is set: set one (e.g. "
                          "EDITOR=nano), or change keys with 'berth set'.");
                return NULL;
        }
        return "vi";
}

/* Run EDITOR on PATH.  EDITOR is a shell command line ("emacs -nw"), as
 * git takes it: sh runs it with the path as its argument. */
static int run_editor(const char *editor, const char *path) {
        _cleanup_free_ char *cmd = xasprintf("%s \"$@\"", editor);
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", cmd, "sh", path, (char *) NULL);
                _exit(127);
        }
        return wait_child(pid);
}

int verb_edit(Context *ctx, int argc, char **argv) {
        const char *name;
        int r = only_name(&edit_verb, argc, argv, &name);
        if (r != 0)
                return r;
        r = look_up_machine(ctx, name);
        if (r != 0)
                return r;
        const char *editor = pick_editor();
        if (!editor)
                return ERR_USAGE;

        _cleanup_close_ int dfd = open_dir_nofollow(ctx->store.machines_fd, name);
        if (dfd < 0) {
                log_error_errno(dfd, "Failed to open machine '%s': %m", name);
                return ERR_FAILED;
        }
        _cleanup_free_ char *old = NULL;
        size_t old_len = 0;
        r = read_file_at(dfd, "machine.conf", CONFIG_FILE_MAX, &old, &old_len);
        bool old_missing = r == -ENOENT;
        if (old_missing)
                old = xstrdup("# berth machine configuration; see berth.machine(5).\n");
        else if (r < 0) {
                log_error_errno(r, "Failed to read %s/machines/%s/machine.conf: %m", ctx->store.root, name);
                return ERR_FAILED;
        }
        old_len = strlen(old);

        /* The copy: in the temporary dir, named so that editors know the syntax. */
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *copy = xasprintf("%s/berth-edit-%s.XXXXXX.conf", isempty(tmp) ? "/var/tmp" : tmp,
                                              name);
        _cleanup_close_ int cfd = mkostemps(copy, 5, O_CLOEXEC);
        if (cfd < 0) {
                log_error_errno(errno, "Failed to create a copy of machine.conf in %s: %m", isempty(tmp) ? "/var/tmp" : tmp);
                return ERR_FAILED;
        }
        r = write_all(cfd, old, old_len);
        if (r < 0) {
                log_error_errno(r, "Failed to write %s: %m", copy);
                (void) unlink(copy);
                return ERR_FAILED;
        }
        closep(&cfd);

        r = run_editor(editor, copy);
        if (r != 0) {
                if (r < 0)
                        log_error_errno(r, "Failed to run the editor '%s': %m", editor);
                else
                        log_error("The editor '%s' failed (status %d); machine.conf was not changed.", editor, r);
                (void) unlink(copy);
                return ERR_FAILED;
        }
        _cleanup_free_ char *text = NULL;
        size_t len;
        r = read_file_at(AT_FDCWD, copy, CONFIG_FILE_MAX, &text, &len);
        if (r < 0) {
                log_error_errno(r, "Failed to read the edited copy %s: %m%s; machine.conf was not changed.", copy,
                                r == -EFBIG ? " (over 64 KiB)" : "");
                return ERR_USAGE;
        }
        if (len == old_len && memcmp(text, old, len) == 0) {
                (void) unlink(copy);
                if (!ctx->quiet)
                        log_info("No changes.");
                return 0;
        }

        /* The same check a start makes of the machine's own layer. */
        MachineConfig c;
        machine_config_init(&c);
        _cleanup_free_ char *err = NULL;
        r = machine_config_parse_text(&c, text, len, "machine.conf", CONFIG_SOURCE_MACHINE, true, &err);
        machine_config_done(&c);
        if (r < 0) {
                log_error("%s.", err ?: "invalid configuration");
                log_error("machine.conf was not changed; your edit is kept in %s (fix it with 'berth edit %s' "
                          "again, starting over, or copy it over machine.conf once it is valid).", copy, name);
                return ERR_USAGE;
        }

        /* Replace it under the lock, and only if nobody changed it meanwhile
         * (berth set while the editor was open). */
        _cleanup_close_ int lock = -EBADF;
        r = open_machine(ctx, name, &lock);
        if (r != 0)
                return r;
        _cleanup_free_ char *now = NULL;
        size_t now_len = 0;
        r = read_file_at(dfd, "machine.conf", CONFIG_FILE_MAX, &now, &now_len);
        bool changed = r == -ENOENT ? !old_missing : r < 0 || old_missing || !streq(now, old);
        if (changed) {
                log_error("machine.conf changed while it was being edited; it was not replaced.  Your edit is kept "
                          "in %s.", copy);
                return ERR_FAILED;
        }
        r = write_file_atomic_at(dfd, "machine.conf", text, len, 0644);
        if (r < 0) {
                log_error_errno(r, "Failed to write %s/machines/%s/machine.conf: %m; your edit is kept in %s.",
                                ctx->store.root, name, copy);
                return ERR_FAILED;
        }
        (void) unlink(copy);
        if (runtime_is_active(ctx->store.run_fd, name) > 0 && !ctx->quiet)
                log_notice("Machine '%s' is running: the changes take effect at its next start ('berth set' "
                           "changes [Resources] keys live).", name);
        return 0;
}
