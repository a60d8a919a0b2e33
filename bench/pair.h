/* pair.h - two layers measured in pairs of rounds, for the ratio of their
 * times with a confidence interval (pair.c): what `sparsebench compare`
 * and a sweep slot's `pair = LABEL` run. The statistics are stats.h's. */
#ifndef SPARSEBENCH_PAIR_H
#define SPARSEBENCH_PAIR_H

#include "measure.h"
#include "row.h"

#include <stddef.h>

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

#endif
