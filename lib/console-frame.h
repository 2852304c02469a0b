/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The protocol of a machine's console socket (RUN/NAME/console.sock), spoken
 * by "berth console" and the supervisor (machined/console.c).  The first byte
 * a viewer sends is its mode, CONSOLE_MODE_WRITE or CONSOLE_MODE_READ; it then
 * gets the console's history and live output, raw.  After that a read-write
 * viewer sends frames: a type byte, a 16-bit little-endian length and the
 * payload: CONSOLE_FRAME_DATA input for the guest, CONSOLE_FRAME_WINSIZE a
 * window size (rows, cols, 16-bit little-endian each). */

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_MODE_WRITE 'W'
#define CONSOLE_MODE_READ 'R'

#define CONSOLE_FRAME_DATA 'D'
#define CONSOLE_FRAME_WINSIZE 'S'

#define CONSOLE_FRAME_HEADER 3
#define CONSOLE_FRAME_MAX 4096 /* payload; longer input goes in several frames */
#define CONSOLE_WINSIZE_LEN 4

typedef struct ConsoleFrame {
        uint8_t type;
        const uint8_t *payload; /* points into the buffer decoded */
        size_t len;             /* of the payload */
        size_t size;            /* of the whole frame, header included */
} ConsoleFrame;

/* The header of a frame of TYPE with LEN (<= CONSOLE_FRAME_MAX) bytes of payload. */
void console_frame_header(uint8_t hdr[static CONSOLE_FRAME_HEADER], uint8_t type, size_t len);

/* Decode the frame at the start of BUF (N bytes).  0 with RET filled in;
 * -EAGAIN if the frame is not complete yet; -EBADMSG if its length is over
 * CONSOLE_FRAME_MAX.  The type is not checked: what it means is the reader's. */
int console_frame_decode(const uint8_t *buf, size_t n, ConsoleFrame *ret);

void console_winsize_encode(uint8_t b[static CONSOLE_WINSIZE_LEN], unsigned short rows, unsigned short cols);
void console_winsize_decode(const uint8_t b[static CONSOLE_WINSIZE_LEN], unsigned short *ret_rows,
                            unsigned short *ret_cols);

/* Write a whole frame to FD.  LEN <= CONSOLE_FRAME_MAX.  0, or -errno. */
int console_frame_write(int fd, uint8_t type, const void *data, size_t len);
