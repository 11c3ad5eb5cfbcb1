/* SPDX-License-Identifier: MIT */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t read_some(int fd, void *dst, size_t n)
{
    for (;;) {
        ssize_t k = read(fd, dst, n);
        if (k >= 0 || errno != EINTR)
            return k;
    }
}

/* Moves the n bytes of *buf into a fresh buffer of cap bytes, wiping the old one. */
static int grow(char **buf, size_t n, size_t cap)
{
    char *p = malloc(cap);
    if (!p)
        return -ENOMEM;
    memcpy(p, *buf, n);
    explicit_bzero(*buf, n);
    free(*buf);
    *buf = p;
    return 0;
}

int eip_read_file(const char *path, size_t max, char **data, size_t *len)
{
    *data = NULL;
    if (max > SIZE_MAX / 2) /* keeps max + 1 and the doubling below from wrapping */
        max = SIZE_MAX / 2;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    int r = 0;
    char *buf = NULL;
    size_t n = 0;
    /* cap counts the NUL; a regular file's size is a good first guess */
    size_t cap = 4096;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uintmax_t)st.st_size > max) {
            r = -EFBIG;
            goto out;
        }
        cap = (size_t)st.st_size + 1;
    }
    if (cap - 1 > max)
        cap = max + 1;
    buf = malloc(cap);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t k;
        if (n == cap - 1) {
            /* Full: one more byte says whether there is more (the file grew,
             * or its size was unknown) without allocating ahead of it. */
            char c;
            k = read_some(fd, &c, 1);
            if (k == 0)
                break;
            if (k < 0) {
                r = -errno;
                goto out;
            }
            if (n == max) {
                r = -EFBIG;
                goto out;
            }
            size_t want = cap > (max + 1) / 2 ? max + 1 : cap * 2;
            r = grow(&buf, n, want);
            if (r)
                goto out;
            cap = want;
            buf[n++] = c;
            continue;
        }
        k = read_some(fd, buf + n, cap - 1 - n);
        if (k == 0)
            break;
        if (k < 0) {
            r = -errno;
            goto out;
        }
        n += (size_t)k;
    }
    buf[n] = '\0';
    *data = buf;
    buf = NULL;
    if (len)
        *len = n;
out:
    if (buf) {
        explicit_bzero(buf, n);
        free(buf);
    }
    close(fd);
    return r;
}
