/* tokens.h - the input tokens a point is measured on (tokens.c): a pool of
 * N(0, 1) rows, seeded, walked in windows so that consecutive forwards see
 * different tokens; or, as the published FFF benchmark does, one row
 * repeated (a labelled flaw, research/fff.md section 2.2). */
#ifndef SPARSEBENCH_TOKENS_H
#define SPARSEBENCH_TOKENS_H

#include <stddef.h>
#include <stdint.h>

/* random: distinct N(0, 1) tokens; repeat: one such row for every token,
 * as the published FFF benchmark (research/fff.md section 2.2 item 2). */
enum bench_inputs { BENCH_INPUTS_RANDOM, BENCH_INPUTS_REPEAT };
#define BENCH_INPUTS_CHOICES "random|repeat"
const char *bench_inputs_name(enum bench_inputs in); /* "random", "repeat" */
enum bench_inputs bench_inputs_parse(const char *s); /* "repeat"; anything else random */

struct bench_tokens {
    float *x; /* (n, D) N(0, 1) tokens, distinct or one repeated */
    size_t n, d_model;
};

int bench_tokens_create(struct bench_tokens *tk, size_t n, size_t d_model, uint64_t seed,
                        enum bench_inputs inputs);
void bench_tokens_destroy(struct bench_tokens *tk);
/* The i-th window of `count` consecutive tokens; windows rotate through the pool. */
const float *bench_tokens_window(const struct bench_tokens *tk, size_t i, size_t count);

#endif
