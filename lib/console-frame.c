/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "console-frame.h"
#include "fs.h"

void console_frame_header(uint8_t hdr[static CONSOLE_FRAME_HEADER], uint8_t type, size_t len) {
        hdr[0] = type;
        hdr[1] = (uint8_t) (len & 0xff);
        hdr[2] = (uint8_t) (len >> 8);
}

int console_frame_decode(const uint8_t *buf, size_t n, ConsoleFrame *ret) {
        if (n < CONSOLE_FRAME_HEADER)
                return -EAGAIN;
        size_t len = buf[1] | (size_t) buf[2] << 8;
        if (len > CONSOLE_FRAME_MAX)
                return -EBADMSG;
        if (n - CONSOLE_FRAME_HEADER < len)
                return -EAGAIN;
        *ret = (ConsoleFrame) { .type = buf[0], .payload = buf + CONSOLE_FRAME_HEADER, .len = len,
                                .size = CONSOLE_FRAME_HEADER + len };
        return 0;
}

void console_winsize_encode(uint8_t b[static CONSOLE_WINSIZE_LEN], unsigned short rows, unsigned short cols) {
        b[0] = (uint8_t) rows;
        b[1] = (uint8_t) (rows >> 8);
        b[2] = (uint8_t) cols;
        b[3] = (uint8_t) (cols >> 8);
}

void console_winsize_decode(const uint8_t b[static CONSOLE_WINSIZE_LEN], unsigned short *ret_rows,
                            unsigned short *ret_cols) {
        *ret_rows = (unsigned short) (b[0] | b[1] << 8);
        *ret_cols = (unsigned short) (b[2] | b[3] << 8);
}

int console_frame_write(int fd, uint8_t type, const void *data, size_t len) {
        uint8_t hdr[CONSOLE_FRAME_HEADER];
        console_frame_header(hdr, type, len);
        int r = write_all(fd, hdr, sizeof hdr);
        return r < 0 ? r : write_all(fd, data, len);
}
