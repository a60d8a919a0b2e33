/* pair.h - two layers measured in pairs of rounds, for the ratio of their
 * times with a confidence interval (pair.c): what `sparsebench compare`
 * and a sweep slot's `pair = LABEL` run. The statistics are stats.h's. */
#ifndef SPARSEBENCH_PAIR_H
#define SPARSEBENCH_PAIR_H

#include "measure.h"
#include "row.h"

#include <stddef.h>
#include <stdint.h>

/* Two layers of the same D, created for at least row_a->tokens tokens,
 * measured in pairs: both checked (neither is timed if either disagrees
 * with its reference: both rows status=wrong, the note says which), then
 * opts->pairs pairs of rounds, A B, B A, A B, ... (ABBA: drift and the
 * position in a pair cancel), both on the same token windows with the same
 * forwards per round. row_a gets A's latency columns and pair_ratio =
 * median of time_b / time_a (how many times faster A is), row_b the
 * mirror. opts->hooks see A's timed forwards only. Returns 0, BENCH_WRONG,
 * BENCH_INTERRUPTED or a LAYER_E* code (err filled); both rows' status set. */
int bench_measure_pair(struct bench_layer *a, struct bench_layer *b, const struct bench_opts *opts,
                       struct bench_row *row_a, struct bench_row *row_b, char *err, size_t errlen);

/* The same over k instances of each side (a[0..k), b[0..k), created from
 * one configuration each): instance 0 of each is checked (the others hold
 * the same bytes: weights are a pure function of the configuration), all are
 * warmed up, and the pairs rotate over them, two pairs (AB, BA) per
 * instance in turn, so where each instance's memory landed varies inside
 * the interval. k = 1 is bench_measure_pair. */
int bench_measure_pair_n(struct bench_layer *a, struct bench_layer *b, size_t k,
                         const struct bench_opts *opts, struct bench_row *row_a,
                         struct bench_row *row_b, char *err, size_t errlen);

/* How many instances of a pair fit: at most `want`, at least 1, such that
 * want x (bytes_a + bytes_b) stays within the memory the machine can give
 * (common_mem_available's figure, less a tenth). */
size_t bench_pair_instances_fit(size_t want, uint64_t bytes_a, uint64_t bytes_b);

#endif
