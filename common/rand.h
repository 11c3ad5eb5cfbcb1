/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_RAND_H
#define EIP_COMMON_RAND_H

#include <stddef.h>
#include <stdint.h>

/* Fills dst from the kernel CSPRNG (getrandom). 0 or -errno. */
int eip_random_bytes(void *dst, size_t len);
/* A uniformly random integer in [0, n) (n > 0); for jitter and nonces. */
uint64_t eip_random_below(uint64_t n);
/* Lower-case hex of len random bytes into dst (cap >= 2*len+1). 0 or -errno. */
int eip_random_hex(char *dst, size_t cap, size_t len);

#endif
