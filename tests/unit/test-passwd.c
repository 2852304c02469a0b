/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "passwd.h"
#include "tap.h"
#include "util.h"

static const char passwd_text[] = "root:x:0:0:root:/root:/bin/bash\n"
                                  "# a comment\n"
                                  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                  "broken:x:notanumber:1::/:/bin/sh\n"
                                  "short:x:5\n"
                                  "alice:x:1000:1000:Alice,,,:/home/alice:/bin/zsh\n"
                                  "noshell:x:1001:1001:::\n";
static const char group_text[] = "root:x:0:\n"
                                 "adm:x:4:alice,bob\n"
                                 "wheel:x:10:bob,alice\n"
                                 "alice:x:1000:\n"
                                 "other:x:20:alicex\n";

static FILE *text(const char *s) {
        return fmemopen((void *) s, strlen(s), "r");
}

int main(void) {
        PasswdEntry e;
        FILE *f;

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "alice", &e) == 0 && e.uid == 1000 && e.gid == 1000 &&
                            streq(e.home, "/home/alice") && streq(e.shell, "/bin/zsh"),
                    "finds a user by name");
        passwd_entry_done(&e);
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "0", &e) == 0 && streq(e.name, "root") && streq(e.shell, "/bin/bash"),
                    "finds a user by number");
        passwd_entry_done(&e);
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "4242", &e) == 0 && e.uid == 4242 && e.gid == 4242 && streq(e.home, "/"),
                    "an unknown number is still a user");
        passwd_entry_done(&e);
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "nobodyhere", &e) == -ESRCH, "an unknown name is -ESRCH");
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "broken", &e) == -EBADMSG, "a malformed matching line is -EBADMSG");
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "noshell", &e) == 0 && streq(e.shell, "/bin/sh") && streq(e.home, "/"),
                    "empty home and shell get defaults");
        passwd_entry_done(&e);
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "4294967295", &e) < 0, "uid -1 is refused");
        fclose(f);

        f = text(passwd_text);
        TEST_ASSERT(passwd_lookup(f, "", &e) == -EINVAL, "empty user is refused");
        fclose(f);

        gid_t *g;
        size_t n;
        f = text(group_text);
        TEST_ASSERT(group_list_for(f, "alice", 1000, &g, &n) == 0 && n == 3 && g[0] == 1000 && g[1] == 4 &&
                            g[2] == 10,
                    "supplementary groups: primary first, then memberships");
        free(g);
        fclose(f);

        f = text(group_text);
        TEST_ASSERT(group_list_for(f, "carol", 7, &g, &n) == 0 && n == 1 && g[0] == 7,
                    "a user in no group gets only the primary one");
        free(g);
        fclose(f);

        TEST_ASSERT(group_list_for(NULL, "alice", 5, &g, &n) == 0 && n == 1 && g[0] == 5,
                    "no group file: primary only");
        free(g);

        return tap_finish();
}
