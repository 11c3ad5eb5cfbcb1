/* SPDX-License-Identifier: MIT */
#ifndef EIP_TESTS_FUZZ_H
#define EIP_TESTS_FUZZ_H

/* Shared by the fuzz targets: the libFuzzer entry point (also driven by
 * replay_main.c in the normal build) and a small reader that takes control
 * values from the front of an input, so the rest stays readable in seeds. */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

/* The next byte, 0 once the input is used up. */
static inline uint8_t fuzz_u8(fuzz_in *in)
{
    if (in->n == 0)
        return 0;
    uint8_t b = in->p[0];
    in->p++;
    in->n--;
    return b;
}

static inline uint16_t fuzz_u16(fuzz_in *in)
{
    uint16_t hi = fuzz_u8(in);
    return (uint16_t)((hi << 8) | fuzz_u8(in));
}

/* Targets never print per input: library debug logs go nowhere. */
static inline void fuzz_quiet(void)
{
    eip_log_max_level = -1;
}

#endif
