/* three labelled dumps: read 1 MiB, read 4 MiB, write 16 MiB (dirty lines evicted) */
#include <valgrind/callgrind.h>
#include <stdlib.h>
#include <string.h>
static volatile long sink;
static void readall(char *p, size_t n)
{
    long s = 0;
    for (size_t i = 0; i < n; i += 64)
        s += p[i];
    sink = s;
}
static void writeall(char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 64)
        p[i] = 1;
}
int main(void)
{
    char *p = malloc(1 << 25);
    memset(p, 0, 1 << 25);
    CALLGRIND_TOGGLE_COLLECT;
    readall(p, 1 << 20);
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT("point 0 read 1 MiB");
    CALLGRIND_TOGGLE_COLLECT;
    readall(p + (1 << 24), 4 << 20);
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT("point 1 read 4 MiB");
    CALLGRIND_TOGGLE_COLLECT;
    writeall(p, 16 << 20);
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT("point 2 write 16 MiB");
    return 0;
}
