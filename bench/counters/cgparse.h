/* cgparse.h - private to bench/counters/: one callgrind output file read
 * down to the counter columns (cgparse.c). */
#ifndef SPARSEBENCH_COUNTERS_CGPARSE_H
#define SPARSEBENCH_COUNTERS_CGPARSE_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_CG_EVENTS_MAX 32

/* One dump of a callgrind output file. */
struct bench_cg_dump {
    char label[128]; /* the client request's label, or the trigger ("Program termination") */
    int client_request;
    char i1[64], d1[64], ll[64]; /* "8388608 B, 64 B, 16-way associative" */
    size_t n_events;
    char events[BENCH_CG_EVENTS_MAX][16];
    uint64_t totals[BENCH_CG_EVENTS_MAX]; /* omitted trailing counts are 0 */
    int have_totals;
};

struct bench_cg_counts {
    uint64_t instructions, l1_misses, ll_misses, writebacks, dram_bytes_est;
};

/* Every dump of a callgrind output file's text (one, or several with
 * --combine-dumps=yes) into out[0..max). name is for messages. Returns 0
 * with *n set, or -1 with err filled. */
int bench_cg_parse(const char *name, const char *text, size_t len, struct bench_cg_dump *out,
                   size_t max, size_t *n, char *err, size_t errlen);
/* One event's total, or -1 when the dump has no such event. */
int bench_cg_event(const struct bench_cg_dump *d, const char *event, uint64_t *out);
/* The counter columns of a dump; -1 when the cache or write-back events are missing. */
int bench_cg_counts(const struct bench_cg_dump *d, struct bench_cg_counts *c, char *err,
                    size_t errlen);

#endif
