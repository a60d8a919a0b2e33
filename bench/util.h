/* util.h - the harness's plumbing: files that are never left half written,
 * whole-file reads, a string hash, the monotonic clock, and the programs
 * that ship beside this one (util.c). Depends on nothing else in bench/. */
#ifndef SPARSEBENCH_UTIL_H
#define SPARSEBENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* mkdir -p; 0 or -1 with errno. */
int bench_mkdir_p(const char *path);
/* Write len bytes to path through a temporary file, fsync and rename. */
int bench_write_atomic(const char *path, const void *data, size_t len);
/* Point `link` at `target` (a relative name), replacing an older link atomically. */
int bench_symlink_replace(const char *target, const char *link);
/* The whole file, NUL-terminated (caller frees), or NULL with errno. */
char *bench_read_file(const char *path, size_t *len);

/* FNV-1a 64 of a byte string. */
uint64_t bench_hash(const void *p, size_t n);

/* Seconds on the monotonic clock. */
double bench_now(void);

/* An executable shipped with the program: the environment variable `env`
 * when set (0 if it names an executable), else the first of rel[0..n)
 * (each "/..."-prefixed, relative to the directory of /proc/self/exe) that
 * is executable, made absolute into buf. 0, or -1 when none is. */
int bench_find_beside_exe(const char *env, const char *const *rel, size_t n, char *buf, size_t len);

#endif
