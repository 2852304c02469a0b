/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/console-frame: frames "berth console" writes decode to what it sent;
 * incomplete and oversized ones are told apart. */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "console-frame.h"
#include "fs.h"
#include "tap.h"

static void test_round_trip(size_t len) {
        static uint8_t buf[CONSOLE_FRAME_HEADER + CONSOLE_FRAME_MAX];
        console_frame_header(buf, CONSOLE_FRAME_DATA, len);
        for (size_t i = 0; i < len; i++)
                buf[CONSOLE_FRAME_HEADER + i] = (uint8_t) (i * 7);
        ConsoleFrame f = {};
        int r = console_frame_decode(buf, CONSOLE_FRAME_HEADER + len, &f);
        TEST_ASSERT(r == 0 && f.type == CONSOLE_FRAME_DATA && f.len == len && f.size == CONSOLE_FRAME_HEADER + len &&
                            f.payload == buf + CONSOLE_FRAME_HEADER,
                    "a %zu-byte frame decodes to what was encoded", len);
        /* One byte short: not yet a frame. */
        r = console_frame_decode(buf, CONSOLE_FRAME_HEADER + len - 1, &f);
        TEST_ASSERT(r == -EAGAIN, "a %zu-byte frame one byte short is incomplete", len);
}

int main(void) {
        uint8_t hdr[CONSOLE_FRAME_HEADER];
        console_frame_header(hdr, CONSOLE_FRAME_DATA, 0x1234);
        TEST_ASSERT(hdr[0] == 'D' && hdr[1] == 0x34 && hdr[2] == 0x12, "the header is type, then length little-endian");

        test_round_trip(0);
        test_round_trip(1);
        test_round_trip(300);
        test_round_trip(CONSOLE_FRAME_MAX);

        ConsoleFrame f;
        TEST_ASSERT(console_frame_decode(hdr, 0, &f) == -EAGAIN && console_frame_decode(hdr, 2, &f) == -EAGAIN,
                    "a partial header is incomplete");
        uint8_t big[CONSOLE_FRAME_HEADER];
        console_frame_header(big, CONSOLE_FRAME_DATA, CONSOLE_FRAME_MAX + 1);
        TEST_ASSERT(console_frame_decode(big, sizeof big, &f) == -EBADMSG,
                    "a length over CONSOLE_FRAME_MAX is refused at once, before its payload");

        /* Two frames back to back: the second starts where the first ends. */
        uint8_t two[2 * CONSOLE_FRAME_HEADER + 1 + CONSOLE_WINSIZE_LEN];
        console_frame_header(two, CONSOLE_FRAME_DATA, 1);
        two[CONSOLE_FRAME_HEADER] = 'x';
        console_frame_header(two + CONSOLE_FRAME_HEADER + 1, CONSOLE_FRAME_WINSIZE, CONSOLE_WINSIZE_LEN);
        console_winsize_encode(two + 2 * CONSOLE_FRAME_HEADER + 1, 50, 300);
        ConsoleFrame g;
        unsigned short rows = 0, cols = 0;
        int r = console_frame_decode(two, sizeof two, &f);
        if (r == 0)
                r = console_frame_decode(two + f.size, sizeof two - f.size, &g);
        if (r == 0)
                console_winsize_decode(g.payload, &rows, &cols);
        TEST_ASSERT(r == 0 && f.len == 1 && f.payload[0] == 'x' && g.type == CONSOLE_FRAME_WINSIZE &&
                            g.len == CONSOLE_WINSIZE_LEN && rows == 50 && cols == 300,
                    "a data frame then a window size decode in turn (50x300)");

        /* What console_frame_write() puts on the wire is one frame. */
        int p[2];
        uint8_t wire[64];
        ssize_t n = -1;
        if (pipe(p) == 0) {
                if (console_frame_write(p[1], CONSOLE_FRAME_DATA, "hello", 5) == 0)
                        n = read(p[0], wire, sizeof wire);
                close(p[0]);
                close(p[1]);
        }
        TEST_ASSERT(n == CONSOLE_FRAME_HEADER + 5 && console_frame_decode(wire, (size_t) n, &f) == 0 &&
                            f.type == CONSOLE_FRAME_DATA && f.len == 5 && memcmp(f.payload, "hello", 5) == 0,
                    "console_frame_write() writes one whole frame");
        return tap_finish();
}
