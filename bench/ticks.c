/* ticks.c - the CPU time /proc/stat counts over all CPUs, read at the
 * start and end of a sweep: the share the hypervisor gave other guests
 * (steal) says how noisy the run's timings are. */
#include "meta.h"

#include <stdio.h>
#include <string.h>

int bench_ticks_read(struct bench_ticks *t)
{
    unsigned long long v[8] = {0};
    memset(t, 0, sizeof(*t));
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return -1;
    for (int i = 0; i < 8; i++)
        t->total += v[i];
    t->steal = n >= 8 ? v[7] : 0;
    return 0;
}
