/* progress.h - private to bench/sweep/: where a sweep is, on stderr
 * (progress.c). */
#ifndef SPARSEBENCH_SWEEP_PROGRESS_H
#define SPARSEBENCH_SWEEP_PROGRESS_H

#include "sweep.h"
#include "../row.h"

#include <stddef.h>

struct bench_progress {
    int tty;     /* stderr is a terminal: draw the line */
    int verbose; /* one summary line per point instead */
    size_t total, done;
    double w_total, w_done; /* work weights of the points, for the time left */
    double t0;
    int drawn;
};

/* A point's rough share of the work: bigger batches take longer. */
double bench_progress_weight(const struct bench_point *p);
void bench_progress_start(struct bench_progress *pr, size_t total, double w_total, int verbose);
/* Before a point starts: "[i/n] slot D=... T=... | elapsed, ~left". */
void bench_progress_show(struct bench_progress *pr, const struct bench_point *p);
/* After a point: count it; in verbose mode print its summary. */
void bench_progress_done(struct bench_progress *pr, const struct bench_point *p,
                         const struct bench_row *row);
/* Erase the line before other output. */
void bench_progress_clear(struct bench_progress *pr);
/* "12:34" */
void bench_format_duration(double s, char *buf, size_t len);

#endif
