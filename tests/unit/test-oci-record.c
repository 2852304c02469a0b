/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-oci's records for berth list: machine names made from container
 * IDs, a write read back, what a reader refuses or skips, and the
 * BERTH_OCI_RECORDS override. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "name.h"
#include "oci-record.h"
#include "tap.h"
#include "util.h"

static void name_is(const char *id, const char *want) {
        _cleanup_free_ char *n = oci_record_name_from_id(id);
        TEST_ASSERT(streq(n, want) && machine_name_is_valid(n), "ID \"%s\" is machine %s (got %s)", id, want, n);
}

static void test_names(void) {
        name_is("web", "web");
        name_is("Box_3+x", "Box-3-x");
        name_is("k8s_pod.x", "k8s-pod-x");
        name_is("_.-lead", "lead");
        name_is("___", "oci-container");
        /* A 64-hex podman ID fits exactly; a longer one is cut. */
        char id[101];
        memset(id, 'a', 100);
        id[100] = 0;
        _cleanup_free_ char *n = oci_record_name_from_id(id);
        TEST_ASSERT(strlen(n) == MACHINE_NAME_MAX && machine_name_is_valid(n), "a 100-byte ID is cut to 64");
}

static void test_files(const char *dir) {
        OciRecord r = { .id = (char *) "c1", .name = (char *) "zeta", .state_dir = (char *) "/run/x",
                        .engine = (char *) "podman", .rootfs = (char *) "/b/rootfs", .registered = (char *) "zeta",
                        .pid = getpid() };
        TEST_ASSERT(proc_starttime(getpid(), &r.starttime) == 0, "our start time");
        TEST_ASSERT(oci_record_write(dir, &r) == 0, "write a record (making the dir)");
        OciRecord r2 = r;
        r2.id = (char *) "c2";
        r2.name = (char *) "alpha";
        r2.registered = NULL;
        r2.starttime = r.starttime + 1; /* not this process: stale */
        TEST_ASSERT(oci_record_write(dir, &r2) == 0, "write a second, stale one");
        r2.id = (char *) "c3";
        r2.engine = (char *) "pod\nENGINE=x";
        TEST_ASSERT(oci_record_write(dir, &r2) == -EINVAL, "a value with a newline is refused");

        _cleanup_(oci_record_done) OciRecord back = {};
        TEST_ASSERT(oci_record_read(dir, "c1", &back) == 0 && streq(back.name, "zeta") &&
                            streq(back.state_dir, "/run/x") && streq(back.engine, "podman") &&
                            streq(back.rootfs, "/b/rootfs") && streq_ptr(back.registered, "zeta") &&
                            back.pid == getpid() && back.starttime == r.starttime,
                    "read it back");
        TEST_ASSERT(oci_record_alive(&back), "its process is alive");

        /* Not berth-oci's: malformed, a bad name, a symlink. */
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        const char *junk = "NAME=x\nNAME=y\n", *badname = "NAME=-x\nSTATE_DIR=/s\nENGINE=e\nPID=1\nSTARTTIME=1\n";
        TEST_ASSERT(write_file_atomic_at(dfd, "junk", junk, strlen(junk), 0644) == 0, "a malformed file");
        TEST_ASSERT(write_file_atomic_at(dfd, "badname", badname, strlen(badname), 0644) == 0,
                    "a file with a bad name");
        TEST_ASSERT(symlinkat("c1", dfd, "link") == 0, "a symlink");
        OciRecord tmp;
        TEST_ASSERT(oci_record_read(dir, "junk", &tmp) == -EBADMSG, "the malformed file is refused");
        TEST_ASSERT(oci_record_read(dir, "badname", &tmp) == -EBADMSG, "the bad name is refused");
        TEST_ASSERT(oci_record_read(dir, "link", &tmp) < 0, "the symlink is not followed");

        OciRecord *v;
        size_t n;
        TEST_ASSERT(oci_record_list(dir, &v, &n) == 0 && n == 2 && streq(v[0].name, "alpha") &&
                            streq(v[1].name, "zeta") && !oci_record_alive(&v[0]),
                    "list: the two records, by name, the stale one too");
        oci_record_list_free(v, n);

        _cleanup_(oci_record_done) OciRecord f = {};
        TEST_ASSERT(oci_record_find(dir, "zeta", &f) == 0 && streq(f.id, "c1"), "find by name");
        TEST_ASSERT(oci_record_find(dir, "nope", &tmp) == -ENOENT, "find: none of that name");

        TEST_ASSERT(oci_record_remove(dir, "c1") == 0 && oci_record_read(dir, "c1", &tmp) == -ENOENT,
                    "remove one");
        TEST_ASSERT(oci_record_remove(dir, "c1") == 0, "removing it again is fine");
        TEST_ASSERT(oci_record_list("/nonexistent/records", &v, &n) == 0 && n == 0, "no dir is no records");
}

static void test_dir(void) {
        bool explicit;
        unsetenv("BERTH_OCI_RECORDS");
        TEST_ASSERT(streq(oci_record_dir(&explicit), OCI_RECORD_DIR) && !explicit, "default dir");
        setenv("BERTH_OCI_RECORDS", "", 1);
        TEST_ASSERT(streq(oci_record_dir(&explicit), OCI_RECORD_DIR) && !explicit, "empty counts as unset");
        setenv("BERTH_OCI_RECORDS", "/tmp/r", 1);
        TEST_ASSERT(streq(oci_record_dir(&explicit), "/tmp/r") && explicit, "BERTH_OCI_RECORDS overrides");
        unsetenv("BERTH_OCI_RECORDS");
}

int main(void) {
        char tmpl[] = "/tmp/test-oci-record.XXXXXX";
        if (!mkdtemp(tmpl))
                return 1;
        _cleanup_free_ char *dir = xasprintf("%s/records", tmpl);
        test_names();
        test_files(dir);
        test_dir();
        (void) rm_rf_at(AT_FDCWD, tmpl);
        return tap_finish();
}
