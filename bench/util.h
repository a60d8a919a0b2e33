/* util.h - the harness's plumbing: files that are never left half written,
 * whole-file reads, a string hash, the programs that ship beside this one
 * (util.c), and the monotonic clock. Depends on nothing else in bench/. */
#ifndef SPARSEBENCH_UTIL_H
#define SPARSEBENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* mkdir -p; 0 or -1 with errno. */
int bench_mkdir_p(const char *path);
/* Write len bytes to path through a temporary file, fsync and rename. */
int bench_write_atomic(const char *path, const void *data, size_t len);
/* Point `link` at `target` (a relative name), replacing an older link atomically. */
int bench_symlink_replace(const char *target, const char *link);
/* The whole file, NUL-terminated (caller frees), or NULL with errno: ESPIPE
 * for anything but a regular file, EFBIG past BENCH_READ_MAX bytes. */
#define BENCH_READ_MAX     (64u << 20)
#define BENCH_READ_MAX_STR "64 MiB"
char *bench_read_file(const char *path, size_t *len);
/* strerror, with ESPIPE and EFBIG worded as bench_read_file means them. */
const char *bench_read_strerror(int e);

/* FNV-1a 64 of a byte string. */
uint64_t bench_hash(const void *p, size_t n);

/* Seconds on the monotonic clock. Inline because the runner reads it around
 * every timed forward: a call would add its own cost inside the clock. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* An executable shipped with the program: the environment variable `env`
 * when set (0 if it names an executable), else the first of rel[0..n)
 * (each "/..."-prefixed, relative to the directory of /proc/self/exe) that
 * is executable, made absolute into buf. 0, or -1 when none is. */
int bench_find_beside_exe(const char *env, const char *const *rel, size_t n, char *buf, size_t len);

#endif
