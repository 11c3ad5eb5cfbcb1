/* SPDX-License-Identifier: MIT */
/* Seed replay for the normal (non-libFuzzer) build: runs LLVMFuzzerTestOneInput
 * once on the empty input, then on every file argument and every file of every
 * directory argument (sorted by name, so runs are reproducible). Each input is
 * passed in a buffer of exactly its size, so sanitizers see overreads. Exits 1
 * when a path cannot be read; memory errors, leaks and UB abort through the
 * sanitizers. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    int r = 0;
    while (buf) {
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "replay: %s: read failed\n", path);
        r = -1;
    } else {
        /* an exact-size copy: a read past the input is a heap overflow */
        uint8_t *exact = malloc(len ? len : 1);
        if (!exact) {
            r = -1;
        } else {
            memcpy(exact, buf, len);
            LLVMFuzzerTestOneInput(exact, len);
            free(exact);
        }
    }
    free(buf);
    fclose(f);
    return r;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nn = realloc(names, nc * sizeof(*names));
            if (!nn) {
                r = -1;
                break;
            }
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(e->d_name))) {
            r = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        size_t pl = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(pl);
        if (!path) {
            r = -1;
        } else {
            snprintf(path, pl, "%s/%s", dir, names[i]);
            struct stat st;
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                if (run_file(path))
                    r = -1;
                else
                    (*count)++;
            }
            free(path);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int failed = 0;
    static const uint8_t empty[1];
    LLVMFuzzerTestOneInput(empty, 0);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            failed = 1;
        } else if (S_ISDIR(st.st_mode)) {
            if (run_dir(argv[i], &count))
                failed = 1;
        } else if (run_file(argv[i])) {
            failed = 1;
        } else {
            count++;
        }
    }
    printf("replay: %zu inputs%s\n", count, failed ? ", some unreadable" : "");
    return failed;
}
