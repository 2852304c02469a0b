#!/bin/bash
# Entering a running machine (lib/enter.c, for berth exec and berth cp): a
# command joins every namespace of the machine's init and its cgroup, a copy
# into the machine is owned by the machine's root; and the privileged part
# lives in lib/, the CLI only calls it.
. "$(dirname "$0")/lib.sh"

# --- the CLI is a front end ------------------------------------------------
# BERTH_SRCDIR: the source tree (meson sets it).
src=${BERTH_SRCDIR:-$(dirname "$0")/../..}
check_eq "no namespace, seccomp or capability calls in cli/" "" \
        "$(grep -n 'setns\|unshare\|seccomp_\|capng\|cap_set\|CLONE_NEW' "$src"/cli/*.c)"
check_eq "no 'same namespace?' check of its own in cli/" "" "$(grep -n '/ns/' "$src"/cli/*.c)"

# --- exec joins all of the machine ----------------------------------------
check "create a busybox machine" berth create en --template busybox
check "start it" berth start en
for ns in mnt uts ipc net user cgroup pid; do
        check_eq "exec'd command is in the init's $ns namespace" "same" \
                "$(berth exec en -- sh -c "[ \"\$(readlink /proc/self/ns/$ns)\" = \"\$(readlink /proc/1/ns/$ns)\" ] && echo same")"
done
check_eq "exec'd command is in the init's cgroup" "$(berth exec en -- sh -c 'cat /proc/1/cgroup')" \
        "$(berth exec en -- sh -c 'cat /proc/self/cgroup')"
check_eq "exec'd command has the init's bounding set" \
        "$(berth exec en -- sh -c 'grep CapBnd /proc/1/status')" \
        "$(berth exec en -- sh -c 'grep CapBnd /proc/self/status')"
check_eq "exec'd command has a system call filter" "2" \
        "$(berth exec en -- sh -c 'grep ^Seccomp: /proc/self/status' | awk '{print $2}')"
check_eq "exec --user takes the user" "65534" "$(berth exec --user nobody en -- id -u)"

# --- cp into the running machine: files of the machine's root ------------
echo entered >"$TEST_TMP/f"
check "cp into the running machine" berth cp "$TEST_TMP/f" en:/tmp/f
check_eq "the copy is there" "entered" "$(berth exec en -- cat /tmp/f)"
check_eq "owned by the machine's root" "0:0" "$(berth exec en -- stat -c %u:%g /tmp/f)"
check "cp out of the running machine" berth cp en:/tmp/f "$TEST_TMP/back"
check_eq "the copy came back" "entered" "$(cat "$TEST_TMP/back")"

check "stop it" berth stop en
done_testing
