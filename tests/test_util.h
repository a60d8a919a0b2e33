/* test_util.h - small helpers shared by the Check suites. */
#ifndef SPARSEBENCH_TEST_UTIL_H
#define SPARSEBENCH_TEST_UTIL_H

#include "../impls/layer.h"

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Create a registered layer or fail the test with the layer's message. */
struct layer *tu_create(const char *impl, size_t d_model, unsigned scale, const char *knobs,
                        uint64_t seed, size_t max_tokens);
/* The same with a thread budget (tu_create uses 1). */
struct layer *tu_create_threads(const char *impl, size_t d_model, unsigned scale, const char *knobs,
                                uint64_t seed, size_t max_tokens, int threads);

/* Create expecting failure; returns the code, message in err. */
int tu_create_fails(const char *impl, size_t d_model, unsigned scale, const char *knobs, char *err,
                    size_t errlen);

/* n x D distinct N(0, 1) tokens (caller frees with free()). */
float *tu_tokens(size_t n, size_t d_model, uint64_t seed);
float *tu_zeros(size_t n);

double tu_max_abs_diff(const float *a, const float *b, size_t n);
double tu_max_abs(const float *a, size_t n);

/* Run forward and forward_ref on T tokens; return max |y - y_ref| / max(1, max|y_ref|). */
double tu_forward_vs_ref(struct layer *l, size_t d_model, size_t n_tokens, uint64_t seed,
                         struct layer_stats *st);

/* A layer for the harness's tests: dense, but the first output of every
 * forward is off by one, so it disagrees with its reference (not registered). */
extern const struct layer_ops tu_broken_ops;

/* A fresh directory /tmp/sb_NAME_XXXXXX into dir (len >= 64), removed
 * (rm -rf) at exit by the process that made it only: Check forks each
 * test, and a child that inherits the atexit list must not remove its
 * parent's directory. */
void tu_tmpdir(char *dir, size_t len, const char *name);

/* Run a bench command (bench/cli.h's bench_cmd_*) with a NULL-terminated
 * argument list, its stdout into the file `out`, the suite's own stdout
 * restored after (Check's summary must still reach it). Returns its code. */
int tu_run_cmd(int (*cmd)(int, char **), const char *out, const char *first, ...);

/* Standard main: run the suite with CK_ENV verbosity, exit status = failures. */
int tu_run_suite(Suite *s);

#endif
