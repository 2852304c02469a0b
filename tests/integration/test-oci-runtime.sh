#!/bin/bash
# berth-oci, the OCI runtime: its own verbs on a bundle, then the real
# engines from Debian driving it: podman 4.3 (conmon) and containerd 1.6
# (its runc shim, through ctr).  Everything local: a static busybox rootfs,
# no image pull, no network.  The engines' state lives in the test's dirs;
# berth-oci's own state is under a --root of the test's where the engine
# lets us pass one (ctr --runc-root), else in the default /run/berth-oci,
# where container IDs are the engines' unique ones.
. "$(dirname "$0")/lib.sh"
: "${BERTH_OCI:?set BERTH_OCI to the berth-oci binary}"

OCI_ROOT=$TEST_TMP/oci-state
# The records of machine-profile containers (for berth list) are the test's
# own too where the environment reaches berth-oci (here, ctr); podman passes
# the runtime none of its own, so its go to the default /run/berth/.oci,
# read below only for the podman container's unique ID.
export BERTH_OCI_RECORDS=$TEST_TMP/oci-records
oci() { "$BERTH_OCI" --root "$OCI_ROOT" "$@"; }
# has_status ID STATUS: berth-oci state says so.
has_status() { [ "$(oci state "$1" | jq -r .status)" = "$2" ]; }

# A rootfs of a static busybox, as the busybox template makes it.
ROOTFS=$TEST_TMP/rootfs
mkdir -p "$ROOTFS"/{bin,proc,dev,sys,tmp,etc}
cp "$(command -v busybox)" "$ROOTFS/bin/busybox"
for c in sh sleep cat echo id ls ps hostname true tty touch; do ln -s busybox "$ROOTFS/bin/$c"; done

# make_bundle DIR ARGS-JSON [JQ-FILTER]: a bundle whose config is what
# podman and containerd write, trimmed, with ARGS as process.args.
make_bundle() {
        local dir=$1 args=$2 filter=${3:-.}
        mkdir -p "$dir"
        ln -sfn "$ROOTFS" "$dir/rootfs"
        jq --argjson args "$args" "(.process.args = \$args) | $filter" >"$dir/config.json" <<EOF
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
    "env": ["PATH=/bin", "TERM=xterm"], "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"],
      "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"],
      "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true, "oomScoreAdj": 100
  },
  "root": {"path": "rootfs", "readonly": false},
  "hostname": "ocibox",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "nosuid", "nodev"]}
  ],
  "hooks": {
    "prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "cat >> $dir/hooks.log; echo >> $dir/hooks.log"]}],
    "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "echo poststop >> $dir/hooks.log"]}]
  },
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
    "resources": {"devices": [{"allow": false, "access": "rwm"}], "memory": {"limit": 134217728}, "pids": {"limit": 64}},
    "sysctl": {"net.ipv4.ping_group_range": "0 0"},
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
    "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
                "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
  }
}
EOF
}

# No trace of container ID under berth-oci's root ROOT and in no cgroup
# hierarchy under GROUP (its cgroup, relative to the hierarchies).
no_trace_left() {
        local root=$1 id=$2 group=$3 d
        [ -e "$root/$id" ] && { echo "state $root/$id is left"; return 1; }
        for d in /sys/fs/cgroup/*/"$group" /sys/fs/cgroup/"$group"; do
                [ -e "$d" ] && { echo "cgroup $d is left"; return 1; }
        done
        grep -q "$id" /proc/self/mountinfo && { echo "a mount of $id is left"; return 1; }
        return 0
}

# --- berth-oci on its own ------------------------------------------------------
check_output_contains "--version names the spec" '^spec: 1\.' "$BERTH_OCI" --version

B=$TEST_TMP/b1
# /bin a tmpfs with podman's tmpcopyup: sh must still be there.
make_bundle "$B" '["sh", "-c", "echo out:$(hostname):$(cat /proc/self/oom_score_adj); echo bin:$(grep \" /bin \" /proc/mounts | cut -d\" \" -f3); cat /proc/sys/net/ipv4/ping_group_range; echo 0 0 2>&1 >/proc/sys/net/ipv4/ping_group_range; hostname evil 2>&1; echo timer:$(cat /proc/timer_list | wc -c); echo fw:$(ls /sys/firmware | wc -l); exit 3"]' \
        '.mounts += [{"destination":"/bin","type":"tmpfs","source":"tmpfs","options":["tmpcopyup","mode=755"]}]'
# The container's stdio is create's own.
oci --log "$TEST_TMP/b1.log" --log-format json create --bundle "$B" --pid-file "$TEST_TMP/b1.pid" b1 >"$TEST_TMP/b1.out" 2>&1
check "create b1" test $? = 0
PID=$(cat "$TEST_TMP/b1.pid")
check "b1 is created" has_status b1 created
check_eq "b1's pid is the one in the pid file" "$PID" "$(oci state b1 | jq -r .pid)"
check "the pid is in new PID and mount namespaces" \
        sh -c "[ \$(readlink /proc/$PID/ns/pid) != \$(readlink /proc/self/ns/pid) ] && [ \$(readlink /proc/$PID/ns/mnt) != \$(readlink /proc/self/ns/mnt) ]"
check_output_contains "the prestart hook got the state on stdin" '"id":"b1"' tr -d ' \n' <"$B/hooks.log"
check_output_contains "ps --format json lists the init" "^\[$PID\]$" oci ps --format json b1
check "start b1" oci start b1
wait_for 10 has_status b1 stopped
check_output_contains "b1 ran, with its hostname and oomScoreAdj" '^out:ocibox:100$' cat "$TEST_TMP/b1.out" /dev/null
check_output_contains "tmpcopyup: /bin is a tmpfs with the image's files" '^bin:tmpfs$' cat "$TEST_TMP/b1.out"
check_output_contains "b1's /proc/timer_list is masked (a file)" '^timer:0$' cat "$TEST_TMP/b1.out"
check_output_contains "b1's /sys/firmware is masked (a directory)" '^fw:0$' cat "$TEST_TMP/b1.out"
check_output_contains "b1's /proc/sys is read-only" 'Read-only file system' cat "$TEST_TMP/b1.out"
check_fails "start of a stopped container fails" oci start b1
check "delete b1" oci delete b1
check_output_contains "the poststop hook ran" '^poststop$' cat "$B/hooks.log"
check "nothing of b1 is left" no_trace_left "$OCI_ROOT" b1 berth-oci/b1
check_output_contains "delete of a missing container says it does not exist" 'does not exist' oci delete b1

B=$TEST_TMP/b2
make_bundle "$B" '["sh", "-c", "cat /proc/self/status | grep -E \"^(CapBnd|NoNewPrivs|Seccomp):\"; sethostname=$(hostname x 2>&1); echo \"hn:$sethostname\"; ls /dev; echo; sleep 30"]'
oci create --bundle "$B" --pid-file "$TEST_TMP/b2.pid" b2 >"$TEST_TMP/b2.out" 2>&1
check "create b2" test $? = 0
check "start b2" oci start b2
wait_for 10 grep -q '^hn:' "$TEST_TMP/b2.out"
check_output_contains "b2 has no new privileges and a seccomp filter" '^Seccomp:.*2' cat "$TEST_TMP/b2.out"
check_output_contains "the seccomp rule makes sethostname fail" '^hn:.*(not permitted|denied)' cat "$TEST_TMP/b2.out"
check_output_contains "b2's bounding set is the spec's" '^CapBnd:[[:space:]]*00000000000004e1' cat "$TEST_TMP/b2.out"
check_output_contains "b2's /dev has the default nodes" '^urandom$' cat "$TEST_TMP/b2.out"
check "b2 is running" has_status b2 running
# The limits sit on the container's group, its processes one below (payload).
mem_limit() { cat /sys/fs/cgroup/memory/berth-oci/b2/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/berth-oci/b2/memory.max; }
pids_limit() { cat /sys/fs/cgroup/pids/berth-oci/b2/pids.max 2>/dev/null || cat /sys/fs/cgroup/berth-oci/b2/pids.max; }
check_eq "b2's memory limit is the spec's" 134217728 "$(mem_limit)"
check_eq "b2's pids limit is the spec's" 64 "$(pids_limit)"
check_status "delete without --force refuses a running container" 1 oci delete b2

printf '{"args":["sh","-c","echo exec:$(hostname); exit 4"],"env":["PATH=/bin"],"cwd":"/","user":{"uid":0,"gid":0}}' >"$TEST_TMP/p.json"
check_status "exec in b2 returns the process's status" 4 oci exec --process "$TEST_TMP/p.json" b2
check_output_contains "exec runs inside b2" '^exec:ocibox$' oci exec --process "$TEST_TMP/p.json" b2

# pause/resume: the cgroup freezer.  A counter the container bumps every
# 50 ms stands still while it is paused.  It is replaced by a rename: a
# file rewritten in place is empty between the truncation and the write,
# to a reader and for the whole pause if the freezer stops it there.
B=$TEST_TMP/bp
make_bundle "$B" '["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/bp.new; mv /tmp/bp.new /tmp/bp.count; sleep 0.05; done"]'
rm -f "$ROOTFS/tmp/bp.count"
oci create --bundle "$B" bp >/dev/null 2>&1 && oci start bp
check "create and start bp" test $? = 0
count() { cat "$ROOTFS/tmp/bp.count" 2>/dev/null; }
wait_for 10 test -s "$ROOTFS/tmp/bp.count"
check "pause bp" oci pause bp
check "bp is paused" has_status bp paused
c1=$(count); sleep 0.5; c2=$(count)
check_eq "a paused container does not run" "$c1" "$c2"
check_fails "pause of a paused container fails" oci pause bp
check_output_contains "exec in a paused container is refused" 'paused' oci exec --process "$TEST_TMP/p.json" bp
check_status "delete without --force refuses a paused container" 1 oci delete bp
check "resume bp" oci resume bp
check "bp is running again" has_status bp running
counts_on() { [ "$(count)" -gt "$c2" ]; }
check "a resumed container runs" wait_for 10 counts_on
check_fails "resume of a running container fails" oci resume bp
check "pause bp again" oci pause bp
check "delete --force of a paused container" oci delete --force bp
check "nothing of bp is left" no_trace_left "$OCI_ROOT" bp berth-oci/bp

# update: LinuxResources from a file or stdin, only what it names changes.
echo '{"memory":{"limit":268435456},"cpu":{"shares":512,"quota":50000,"period":100000}}' >"$TEST_TMP/res.json"
check "update --resources FILE" oci update --resources "$TEST_TMP/res.json" b2
check_eq "update: the new memory limit" 268435456 "$(mem_limit)"
check_eq "update: the pids limit it did not name stays" 64 "$(pids_limit)"
cpu_quota() { cat /sys/fs/cgroup/cpu/berth-oci/b2/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/berth-oci/b2/cpu.max; }
check_eq "update: the CPU quota (50000 per 100000 us)" 50000 "$(cpu_quota)"
check "update --resources - (stdin): pids unlimited" sh -c "echo '{\"pids\":{\"limit\":-1}}' | $BERTH_OCI --root $OCI_ROOT update -r - b2"
check_eq "update: pids unlimited" max "$(pids_limit)"
check_eq "update: the memory limit of the first update stays" 268435456 "$(mem_limit)"
check_output_contains "update: a bad file names the field, changes nothing" 'memory\.limit: must be an integer' \
        sh -c "echo '{\"memory\":{\"limit\":\"1g\"}}' | $BERTH_OCI --root $OCI_ROOT update -r - b2"
check_eq "update: the refused file changed nothing" 268435456 "$(mem_limit)"
check_output_contains "update without --resources says what it needs" 'needs --resources' oci update b2
# A CRI app container joins the pod sandbox's network, IPC and UTS namespaces by path.
B=$TEST_TMP/b3
P2=$(oci state b2 | jq -r .pid)
make_bundle "$B" '["sh", "-c", "hostname; sleep 30"]' \
        "del(.hostname) | .linux.namespaces = [{\"type\":\"pid\"},{\"type\":\"mount\"},
         {\"type\":\"network\",\"path\":\"/proc/$P2/ns/net\"},{\"type\":\"ipc\",\"path\":\"/proc/$P2/ns/ipc\"},
         {\"type\":\"uts\",\"path\":\"/proc/$P2/ns/uts\"}] | .annotations = {\"io.kubernetes.cri.container-type\":\"container\"}"
oci create --bundle "$B" --pid-file "$TEST_TMP/b3.pid" b3 >"$TEST_TMP/b3.out" 2>&1 && oci start b3
check "create and start b3 in b2's namespaces" test $? = 0
P3=$(cat "$TEST_TMP/b3.pid")
check_eq "b3 is in b2's network namespace" "$(readlink /proc/$P2/ns/net)" "$(readlink /proc/$P3/ns/net)"
check_eq "b3 has a PID namespace of its own" false \
        "$([ "$(readlink /proc/$P2/ns/pid)" = "$(readlink /proc/$P3/ns/pid)" ] && echo true || echo false)"
wait_for 10 grep -q . "$TEST_TMP/b3.out"
check_output_contains "b3 has b2's hostname" '^ocibox$' cat "$TEST_TMP/b3.out"
check "kill --all b3" oci kill --all b3 9
wait_for 10 has_status b3 stopped
check "b3 is stopped after kill --all" has_status b3 stopped
check "delete b3" oci delete b3
check "kill b2 with a signal name" oci kill b2 KILL
wait_for 10 has_status b2 stopped
check_output_contains "kill of a stopped container: not running" 'container not running' oci kill b2 9
check "delete b2" oci delete b2
check "nothing of b2 is left" no_trace_left "$OCI_ROOT" b2 berth-oci/b2

# fds passed on (--preserve-fds), additional groups, rlimits, a systemd-style cgroupsPath
# (a slice of the test's own, removed after).
SLICE=berthocitest$$.slice
B=$TEST_TMP/b4
make_bundle "$B" '["sh", "-c", "echo via-fd3 >&3; id -G; ulimit -n; cat /proc/self/cgroup"]' \
        '.process.user.additionalGids = [10, 20] | .process.rlimits = [{"type":"RLIMIT_NOFILE","soft":321,"hard":321}] |
         .linux.cgroupsPath = "'"$SLICE"':berth:b4" | .linux.namespaces -= [{"type":"cgroup"}]'
oci create --bundle "$B" --preserve-fds 1 b4 3>"$TEST_TMP/fd3" >"$TEST_TMP/b4.out" 2>&1 && oci start b4
check "create and start b4 with --preserve-fds 1" test $? = 0
wait_for 10 has_status b4 stopped
check_output_contains "fd 3 was passed on" '^via-fd3$' cat "$TEST_TMP/fd3"
check_output_contains "additionalGids" '^0 10 20$' cat "$TEST_TMP/b4.out"
check_output_contains "rlimits" '^321$' cat "$TEST_TMP/b4.out"
check_output_contains "slice:prefix:name is slice/prefix-name.scope" ":/$SLICE/berth-b4\\.scope/payload\$" cat "$TEST_TMP/b4.out"
check "delete b4" oci delete b4
check "nothing of b4 is left" no_trace_left "$OCI_ROOT" b4 "$SLICE/berth-b4.scope"
rmdir /sys/fs/cgroup/*/"$SLICE" /sys/fs/cgroup/"$SLICE" 2>/dev/null

# Bad input: a clear error that names the field, in the JSON log too; nothing made.
B=$TEST_TMP/bad
make_bundle "$B" '["sh"]' '.mounts[0].destination = "proc"'
check_status "a relative mount destination is refused" 1 \
        oci --log "$TEST_TMP/bad.log" --log-format json create --bundle "$B" bad
check_output_contains "the JSON log names the field" '^\{"level":"error","msg":".*mounts\[0\]\.destination' cat "$TEST_TMP/bad.log"
check "no state is left by the refused create" test ! -e "$OCI_ROOT/bad"
make_bundle "$B" '["no-such-program"]'
check_output_contains "a missing program fails create, not start" 'executable file not found' oci create --bundle "$B" bad
check "no state or cgroup is left by the failed create" no_trace_left "$OCI_ROOT" bad berth-oci/bad

# A user namespace from the spec's mappings: the rootfs belongs to its root,
# who must be able to reach it.
chmod 0711 "$TEST_TMP"
UROOT=$TEST_TMP/urootfs
cp -a "$ROOTFS" "$UROOT"
chown -R -h 1900000000:1900000000 "$UROOT"
B=$TEST_TMP/bu
make_bundle "$B" '["sh", "-c", "cat /proc/self/uid_map; id -u; touch /tmp/ok && echo wrote"]' \
        '.linux.namespaces += [{"type":"user"}] | .linux.uidMappings = [{"containerID":0,"hostID":1900000000,"size":65536}] |
         .linux.gidMappings = .linux.uidMappings | (.mounts[] | select(.type == "devpts") | .options) -= ["gid=5"] |
         .mounts += [{"destination":"/tmp","type":"tmpfs","source":"tmpfs"}]'
ln -sfn "$UROOT" "$B/rootfs"
oci create --bundle "$B" bu >"$TEST_TMP/bu.out" 2>&1 && oci start bu
check "create and start bu (user namespace)" test $? = 0
wait_for 10 has_status bu stopped
check_output_contains "bu's root is host UID 1900000000" '^ +0 +1900000000 +65536$' cat "$TEST_TMP/bu.out"
check_output_contains "bu writes as its root" '^wrote$' cat "$TEST_TMP/bu.out"
check "delete bu" oci delete bu
rm -rf "$UROOT"

# The machine profile.  An init that resolves to systemd inside the root
# (here a script of that name stands in for it) gets its own 65536-ID range
# from the host-wide registry, the root through an idmapped mount (no
# chown), tmpfs /run and /tmp, container=berth, and SIGTERM as SIGRTMIN+3.
REG=/var/lib/berth/uid-ranges
MROOT=$TEST_TMP/mrootfs
cp -a "$ROOTFS" "$MROOT"
mkdir -p "$MROOT/lib/systemd" "$MROOT/sbin"
cat >"$MROOT/lib/systemd/systemd" <<'INIT'
#!/bin/sh
trap 'echo got:rtmin3; exit 0' 37
trap 'echo got:term; exit 0' TERM
cat /proc/self/uid_map
echo owner:$(busybox stat -c %u /bin/busybox)
echo env:$container
busybox grep -E ' /(run|tmp|run/lock) ' /proc/mounts | busybox cut -d' ' -f2,3
touch /etc/ok && echo wrote
while :; do sleep 0.1; done
INIT
chmod 755 "$MROOT/lib/systemd/systemd"
ln -s /lib/systemd/systemd "$MROOT/sbin/init"
B=$TEST_TMP/bm
make_bundle "$B" '["/sbin/init"]' 'del(.hooks)'
ln -sfn "$MROOT" "$B/rootfs"
oci create --bundle "$B" m1 >"$TEST_TMP/m1.out" 2>&1 && oci start m1
check "create and start m1 (/sbin/init -> systemd)" test $? = 0
wait_for 10 grep -q '^wrote$' "$TEST_TMP/m1.out"
check_output_contains "m1 gets the machine profile" '"profile":"machine"' cat "$OCI_ROOT/m1/state.json"
check_output_contains "m1 has its own ID range (not identity)" '^ +0 +[1-9][0-9]* +65536$' cat "$TEST_TMP/m1.out"
BASE=$(awk '$1 == 0 && $3 == 65536 {print $2}' "$TEST_TMP/m1.out")
check "the range is in the host-wide registry, owned by m1's state" \
        grep -qx "OWNER=$OCI_ROOT/m1" "$REG/$(printf %08x "${BASE:-0}")"
check_output_contains "m1's files are its root's (idmapped root)" '^owner:0$' cat "$TEST_TMP/m1.out"
check_eq "what m1's root writes is host root's on disk: nothing chowned" 0 "$(stat -c %u "$MROOT/etc/ok")"
check_eq "the rootfs was not chowned" 0 "$(stat -c %u "$MROOT/bin/busybox")"
check_output_contains "m1 has container=berth" '^env:berth$' cat "$TEST_TMP/m1.out"
check_output_contains "m1 gets a tmpfs /run" '^/run tmpfs$' cat "$TEST_TMP/m1.out"
check_output_contains "m1 gets a tmpfs /run/lock" '^/run/lock tmpfs$' cat "$TEST_TMP/m1.out"
check_output_contains "m1 gets a tmpfs /tmp" '^/tmp tmpfs$' cat "$TEST_TMP/m1.out"
check "kill m1 (SIGTERM)" oci kill m1
wait_for 10 has_status m1 stopped
check_output_contains "SIGTERM reached m1's init as SIGRTMIN+3" '^got:rtmin3$' cat "$TEST_TMP/m1.out"
check "delete m1" oci delete m1
check "m1's range is gone from the registry" test ! -e "$REG/$(printf %08x "${BASE:-0}")"
check "nothing of m1 is left" no_trace_left "$OCI_ROOT" m1 berth-oci/m1
# The annotation decides: none is a plain container (identity map, SIGTERM as it is).
jq '.annotations = {"org.berth.profile": "none"}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
oci create --bundle "$B" m2 >"$TEST_TMP/m2.out" 2>&1 && oci start m2
check "create and start m2 (org.berth.profile=none)" test $? = 0
wait_for 10 grep -q '^wrote$' "$TEST_TMP/m2.out"
check_output_contains "m2 has no user namespace" '^ +0 +0 +4294967295$' cat "$TEST_TMP/m2.out"
oci kill m2 && wait_for 10 has_status m2 stopped
check_output_contains "m2's init got SIGTERM" '^got:term$' cat "$TEST_TMP/m2.out"
check "delete m2" oci delete m2
jq '.annotations = {"org.berth.profile": "vm"}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
check_output_contains "a bad profile annotation is refused, naming it" 'org.berth.profile="vm"' oci create --bundle "$B" m3
check "the refused create left nothing" no_trace_left "$OCI_ROOT" m3 berth-oci/m3
# A guest symlink is resolved inside the root, never on the host (which has
# a systemd where it leads): no profile, and the program is not found.
rm -f "$MROOT/sbin/init" "$MROOT/lib/systemd/systemd"
ln -s ../../../../../usr/lib/systemd/systemd "$MROOT/sbin/init"
jq 'del(.annotations)' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
check_output_contains "an init symlink that leads out of the root finds nothing" 'executable file not found' \
        oci create --bundle "$B" m4
check "and claims no ID range" sh -c "! grep -rqs 'OWNER=$OCI_ROOT/' $REG"
check "and leaves nothing" no_trace_left "$OCI_ROOT" m4 berth-oci/m4
rm -rf "$MROOT"

# A Debian rootfs with systemd, from berth's template (its cache is shared).
DEB=$BERTH_ROOT/machines/deb/rootfs
deb_rootfs() { [ -d "$DEB" ] || online "$BERTH" create deb --template debian >"$TEST_TMP/deb.log" 2>&1; }

# READY=1: called with NOTIFY_SOCKET (as podman --sdnotify=container calls
# it), start returns once systemd inside says it has booted, and the
# caller's socket gets READY=1 and the init's pid.
if deb_rootfs; then
        B=$TEST_TMP/bn
        CAPS='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_NET_BIND_SERVICE",
               "CAP_SETFCAP","CAP_SETGID","CAP_SETPCAP","CAP_SETUID","CAP_SYS_CHROOT"]'
        make_bundle "$B" '["/sbin/init"]' "del(.hooks) | del(.linux.seccomp) | .process.noNewPrivileges = false |
                .process.capabilities = {bounding: $CAPS, effective: $CAPS, permitted: $CAPS}"
        ln -sfn "$DEB" "$B/rootfs"
        timeout 120 python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2], "wb").write(s.recv(4096))' "$TEST_TMP/notify.sock" "$TEST_TMP/notify.out" &
        LISTENER=$!
        wait_for 10 test -S "$TEST_TMP/notify.sock"
        NOTIFY_SOCKET=$TEST_TMP/notify.sock oci create --bundle "$B" n1 >"$TEST_TMP/n1.out" 2>&1 &&
                NOTIFY_SOCKET=$TEST_TMP/notify.sock timeout 90 "$BERTH_OCI" --root "$OCI_ROOT" start n1
        check "create and start n1 (Debian) with NOTIFY_SOCKET" test $? = 0
        wait "$LISTENER"
        check_output_contains "the caller's socket got READY=1" '^READY=1$' cat "$TEST_TMP/notify.out"
        check_eq "and the init's pid" "MAINPID=$(oci state n1 | jq -r .pid)" "$(grep MAINPID "$TEST_TMP/notify.out")"
        printf '{"args":["systemctl","is-system-running"],"env":["PATH=/usr/bin:/bin"],"cwd":"/","user":{"uid":0,"gid":0}}' \
                >"$TEST_TMP/sd.json"
        check_output_contains "systemd has booted when start returns" '^running$' oci exec --process "$TEST_TMP/sd.json" n1
        check "kill n1: systemd powers off" oci kill n1
        wait_for 30 has_status n1 stopped
        check "n1 stopped" has_status n1 stopped
        check "delete n1" oci delete n1
        check "nothing of n1 is left" no_trace_left "$OCI_ROOT" n1 berth-oci/n1
fi

# --- podman 4.3 (conmon 2.1) ---------------------------------------------------
if command -v podman >/dev/null && command -v conmon >/dev/null; then
        PM=$TEST_TMP/podman
        mkdir -p "$PM"
        # runtime_supports_json: conmon passes --log-format json (our JSON log).
        cat >"$PM/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "berth"
runtime_supports_json = ["berth"]
[engine.runtimes]
berth = ["$BERTH_OCI"]
EOF
        pm() {
                CONTAINERS_CONF=$PM/containers.conf podman --root "$PM/root" --runroot "$PM/runroot" \
                        --storage-driver vfs "$@"
        }
        # --ulimit: podman's defaults exceed what a test may set here.
        RUN=(--network none --log-driver k8s-file --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --rootfs "$ROOTFS")
        check_status "podman: an app's exit code comes back (3)" 3 pm run --rm "${RUN[@]}" sh -c 'exit 3'
        check_status "podman: an app's exit code comes back (7)" 7 pm run --rm "${RUN[@]}" sh -c 'exit 7'
        out=$(timeout 60 script -qec "CONTAINERS_CONF=$PM/containers.conf podman --root $PM/root --runroot $PM/runroot --storage-driver vfs run --rm -t ${RUN[*]} sh -c 'tty; exit 7'" /dev/null)
        check_eq "podman run -t: the exit code through the tty" 7 $?
        check_output_contains "podman run -t gives a tty" '/dev/pts/0' echo "$out"
        check_output_contains "podman --user --cap-drop all: no capability left" '^CapEff:[[:space:]]+0+$' \
                pm run --rm --user 1000:1000 --cap-drop all "${RUN[@]}" sh -c 'id; grep CapEff /proc/self/status'
        check_output_contains "podman --read-only: a read-only root" 'Read-only file system' \
                pm run --rm --read-only "${RUN[@]}" touch /x
        # --systemd=always: tmpfs with tmpcopyup, and on a v1 host a bind of the host's
        # systemd hierarchy onto the container's cgroup view.
        check_output_contains "podman --systemd=always: its mounts are made" '^tmpfs /run/lock ' \
                pm run --rm --systemd=always "${RUN[@]}" cat /proc/mounts
        ID=$(pm run -d --name pc "${RUN[@]}" sleep 1013)
        check "podman run -d" test -n "$ID"
        check_output_contains "podman sees it running" '^running$' pm inspect -f '{{.State.Status}}' pc
        check_status "podman exec without a tty: its status" 5 pm exec pc sh -c 'exit 5'
        check_output_contains "podman exec without a tty: its output" '^ +1 +0 +sleep 1013$' pm exec pc ps
        check_output_contains "podman exec -t gives a tty" '/dev/pts/[0-9]' \
                timeout 60 script -qec "CONTAINERS_CONF=$PM/containers.conf podman --root $PM/root --runroot $PM/runroot --storage-driver vfs exec -t pc tty" /dev/null
        check "podman pause" pm pause pc
        check_output_contains "podman sees it paused" '^paused$' pm inspect -f '{{.State.Status}}' pc
        check "podman unpause" pm unpause pc
        check_output_contains "podman sees it running again" '^running$' pm inspect -f '{{.State.Status}}' pc
        # podman update hands the runtime "update --resources -".
        pc_mem() { cat /sys/fs/cgroup/memory/libpod_parent/libpod-$ID/memory.limit_in_bytes 2>/dev/null ||
                   cat /sys/fs/cgroup/libpod_parent/libpod-$ID/memory.max; }
        check "podman update --memory 256m" pm update --memory 256m pc
        check_eq "podman update: the new memory limit" 268435456 "$(pc_mem)"
        check "podman stop" pm stop -t 2 pc
        check_output_contains "podman sees it exited" '^exited$' pm inspect -f '{{.State.Status}}' pc
        check "podman rm" pm rm pc
        check "podman: nothing of the container is left (state, cgroup, mounts)" \
                no_trace_left /run/berth-oci "$ID" "libpod_parent/libpod-$ID"
        # A sleep of its own length: other tests on the host run "sleep 1000".
        check "podman: no process of it is left" sh -c "! pgrep -f '^sleep 1013$'"
        ID=$(pm run -d "${RUN[@]}" sleep 1013)
        check "podman kill" pm kill "$ID"
        check "podman rm after kill" pm rm "$ID"
        check "podman kill + rm: nothing left" no_trace_left /run/berth-oci "$ID" "libpod_parent/libpod-$ID"

        # A system container: Debian with systemd (berth's template) boots to
        # "running" under podman --systemd=always with the machine profile and
        # powers off on podman stop.
        if deb_rootfs; then
                ok "a Debian rootfs from berth's template"
                DRUN=(--network none --log-driver k8s-file --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
                      --rootfs "$DEB")
                ID=$(pm run -d --systemd=always "${DRUN[@]}" /sbin/init)
                check "podman run --systemd=always /sbin/init" test -n "$ID"
                sd_state() { pm exec "$ID" systemctl is-system-running 2>/dev/null; }
                sd_settled() { case "$(sd_state)" in running | degraded) return 0 ;; *) return 1 ;; esac; }
                wait_for 90 sd_settled
                check_eq "systemd reaches running (not degraded)" running "$(sd_state)"
                check_output_contains "systemd is PID 1" '^systemd$' pm exec "$ID" cat /proc/1/comm
                check_output_contains "the machine profile: its own ID range" '^ +0 +[1-9][0-9]* +65536$' \
                        pm exec "$ID" cat /proc/self/uid_map
                DBASE=$(pm exec "$ID" cat /proc/self/uid_map | awk '{print $2}')
                check_output_contains "the machine profile: container=berth for systemd" '^container=berth$' \
                        pm exec "$ID" sh -c 'tr "\0" "\n" </proc/1/environ'
                check_eq "berth list shows it: an OCI container of podman, running" "podman running" \
                        "$(BERTH_OCI_RECORDS=/run/berth/.oci berth list --json |
                                jq -r --arg id "$ID" '.[] | select(.oci_id == $id) | "\(.oci_engine) \(.state)"')"
                check "podman stop: systemd powers off (SIGRTMIN+3)" pm stop -t 30 "$ID"
                check_eq "and exits 0" 0 "$(pm inspect -f '{{.State.ExitCode}}' "$ID")"
                check "podman rm the system container" pm rm "$ID"
                check "its record for berth list is gone" test ! -e "/run/berth/.oci/$ID"
                check "nothing of the system container is left" no_trace_left /run/berth-oci "$ID" "libpod_parent/libpod-$ID"
                check "its ID range is gone from the registry" test ! -e "$REG/$(printf %08x "${DBASE:-0}")"
        else
                not_ok "a Debian rootfs from berth's template"
                sed 's/^/# /' "$TEST_TMP/deb.log"
        fi
else
        ok "podman # SKIP podman or conmon is not installed"
fi

# --- containerd 1.6 (containerd-shim-runc-v2, ctr) -------------------------------
if command -v containerd >/dev/null && command -v ctr >/dev/null; then
        CD=$TEST_TMP/containerd
        mkdir -p "$CD"
        cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CD/containerd.sock"
[ttrpc]
  address = "$CD/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
        containerd --config "$CD/config.toml" >"$CD/log" 2>&1 &
        CD_PID=$!
        trap 'kill $CD_PID 2>/dev/null; wait $CD_PID 2>/dev/null; cleanup' EXIT
        wait_for 30 test -S "$CD/containerd.sock"
        ctrc() { ctr --address "$CD/containerd.sock" "$@"; }
        check "containerd serves its own socket" ctrc version
        CR=$CD/runc
        RUN=(--runc-binary "$BERTH_OCI" --runc-root "$CR" --rootfs "$ROOTFS")
        check_status "ctr run: an app's exit code comes back (3)" 3 ctrc run --rm "${RUN[@]}" c3 sh -c 'exit 3'
        out=$(timeout 60 script -qec "ctr --address $CD/containerd.sock run --rm -t ${RUN[*]} c7 sh -c 'tty; exit 7'" /dev/null)
        check_eq "ctr run -t: an app's exit code comes back (7)" 7 $?
        check_output_contains "ctr run -t gives a tty" '/dev/pts/0' echo "$out"
        check "ctr run -d" ctrc run -d "${RUN[@]}" cs sleep 1017
        check_output_contains "ctr task ls: running" '^cs +[0-9]+ +RUNNING' ctrc task ls
        check_status "ctr task exec without a tty: its status" 4 ctrc task exec --exec-id e1 cs sh -c 'exit 4'
        check_output_contains "ctr task exec -t gives a tty" '/dev/pts/[0-9]' \
                timeout 60 script -qec "ctr --address $CD/containerd.sock task exec -t --exec-id e2 cs tty" /dev/null
        check "ctr task pause" ctrc task pause cs
        check_output_contains "ctr task ls: paused" '^cs +[0-9]+ +PAUSED' ctrc task ls
        check "ctr task resume" ctrc task resume cs
        check_output_contains "ctr task ls: running again" '^cs +[0-9]+ +RUNNING' ctrc task ls
        check "ctr task kill" ctrc task kill -s SIGKILL cs
        wait_for 10 sh -c "ctr --address $CD/containerd.sock task ls | grep -q '^cs .*STOPPED'"
        check_output_contains "ctr task ls: stopped" '^cs +[0-9]+ +STOPPED' ctrc task ls
        check "ctr task delete" ctrc task delete cs
        check "ctr container rm" ctrc container rm cs
        check "containerd: nothing of the container is left" no_trace_left "$CR" cs default/cs
        check "containerd: no process of it is left" sh -c "! pgrep -f '^sleep 1017$'"

        # Debian with systemd under ctr: the machine profile, "running", and
        # ctr task kill (SIGTERM) powers it off.
        if deb_rootfs; then
                ctrc run -d --runc-binary "$BERTH_OCI" --runc-root "$CR" --rootfs "$DEB" sd /sbin/init >/dev/null 2>&1
                check "ctr run -d Debian with /sbin/init" test $? = 0
                n=0
                sd_state() { n=$((n + 1)); ctrc task exec --exec-id "s$n" sd systemctl is-system-running 2>/dev/null; }
                sd_settled() { case "$(sd_state)" in running | degraded) return 0 ;; *) return 1 ;; esac; }
                wait_for 90 sd_settled
                check_eq "ctr: systemd reaches running (not degraded)" running "$(sd_state)"
                check_output_contains "ctr: the machine profile, its own ID range" '^ +0 +[1-9][0-9]* +65536$' \
                        ctrc task exec --exec-id u1 sd cat /proc/self/uid_map
                DBASE=$(ctrc task exec --exec-id u2 sd cat /proc/self/uid_map | awk '{print $2}')
                check_eq "berth list shows it: an OCI container of containerd" "containerd sd" \
                        "$(berth list --json | jq -r '.[] | select(.oci_id == "sd") | "\(.oci_engine) \(.name)"')"
                check "ctr task kill (SIGTERM)" ctrc task kill sd
                wait_for 30 sh -c "ctr --address $CD/containerd.sock task ls | grep -q '^sd .*STOPPED'"
                check_output_contains "ctr: systemd powered off" '^sd +[0-9]+ +STOPPED' ctrc task ls
                check "ctr task delete sd" ctrc task delete sd
                check "ctr: its record for berth list is gone" test ! -e "$BERTH_OCI_RECORDS/sd"
                check "ctr container rm sd" ctrc container rm sd
                check "ctr: nothing of the system container is left" no_trace_left "$CR" sd default/sd
                check "ctr: its ID range is gone from the registry" test ! -e "$REG/$(printf %08x "${DBASE:-0}")"
        else
                not_ok "a Debian rootfs from berth's template"
                sed 's/^/# /' "$TEST_TMP/deb.log"
        fi
        kill "$CD_PID"
        wait "$CD_PID" 2>/dev/null
else
        ok "containerd # SKIP containerd or ctr is not installed"
fi

done_testing
