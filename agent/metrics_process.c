/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent/metrics.h"

/* Process metrics from /proc/self (the names the Prometheus client libraries
 * use), refreshed at every scrape. procfs reads do not block on I/O. */

struct process_metrics {
    metric_family *rss, *cpu, *start, *fds, *max_fds;
    double start_time; /* computed once */
};

/* Reads a small procfs file into buf (NUL-terminated). 0 or -errno. */
static int read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

/* Fields of /proc/self/stat after the ")" closing the command name: field 3 is
 * the first. Returns 0 and utime, stime, starttime (clock ticks). */
static int read_stat(unsigned long long *utime, unsigned long long *stime,
                     unsigned long long *starttime)
{
    char buf[2048];
    if (read_small("/proc/self/stat", buf, sizeof(buf)))
        return -EIO;
    char *p = strrchr(buf, ')');
    if (!p)
        return -EIO;
    p++;
    unsigned long long v[23] = {0};
    int field = 2;
    while (*p && field < 22) {
        while (*p == ' ')
            p++;
        field++;
        char *end;
        v[field] = strtoull(p, &end, 10);
        if (end == p) /* the state letter (field 3) */
            end = p + 1;
        p = end;
    }
    if (field < 22)
        return -EIO;
    *utime = v[14];
    *stime = v[15];
    *starttime = v[22];
    return 0;
}

static double boot_time(void)
{
    char buf[8192];
    if (read_small("/proc/stat", buf, sizeof(buf)))
        return 0;
    const char *p = strstr(buf, "\nbtime ");
    return p ? strtod(p + 7, NULL) : 0;
}

static double count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    double n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static void collect(metrics *m, void *arg)
{
    (void)m;
    struct process_metrics *p = arg;
    double tick = (double)sysconf(_SC_CLK_TCK);
    unsigned long long ut, st, start;
    if (tick > 0 && read_stat(&ut, &st, &start) == 0) {
        metrics_set(p->cpu, NULL, (double)(ut + st) / tick);
        if (p->start_time == 0) {
            double bt = boot_time();
            if (bt > 0)
                p->start_time = bt + (double)start / tick;
        }
    }
    metrics_set(p->start, NULL, p->start_time);
    char buf[256];
    if (read_small("/proc/self/statm", buf, sizeof(buf)) == 0) {
        unsigned long long size = 0, resident = 0;
        char *end;
        size = strtoull(buf, &end, 10);
        resident = strtoull(end, NULL, 10);
        (void)size;
        metrics_set(p->rss, NULL, (double)resident * (double)sysconf(_SC_PAGESIZE));
    }
    metrics_set(p->fds, NULL, count_fds());
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        metrics_set(p->max_fds, NULL, (double)rl.rlim_cur);
}

int metrics_register_process(metrics *m)
{
    struct process_metrics *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->rss = metrics_register(m, METRIC_GAUGE, "process_resident_memory_bytes",
                              "Resident memory size in bytes.", NULL);
    p->cpu = metrics_register(m, METRIC_COUNTER, "process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.", NULL);
    p->start = metrics_register(m, METRIC_GAUGE, "process_start_time_seconds",
                                "Start time of the process since unix epoch in seconds.", NULL);
    p->fds = metrics_register(m, METRIC_GAUGE, "process_open_fds",
                              "Number of open file descriptors.", NULL);
    p->max_fds = metrics_register(m, METRIC_GAUGE, "process_max_fds",
                                  "Maximum number of open file descriptors.", NULL);
    if (!p->rss || !p->cpu || !p->start || !p->fds || !p->max_fds) {
        free(p);
        return -ENOMEM;
    }
    if (metrics_add_collector(m, collect, free, p)) {
        free(p);
        return -ENOMEM;
    }
    return 0;
}
