/* papi.h - private to bench/counters/: PAPI's event sets and the kernel's
 * per-thread accounting behind the papi counter mode (papi.c). */
#ifndef SPARSEBENCH_COUNTERS_PAPI_H
#define SPARSEBENCH_COUNTERS_PAPI_H

#include "../measure.h"

#include <stddef.h>

struct bench_papi;
struct bench_meta;

/* Probe every configured event and set up the event sets; never fails but
 * for memory or a malformed spec (what does not count is NA, with reasons
 * in why). spec may be NULL: the defaults. */
int bench_papi_open(struct bench_papi **out, const char *spec, char *why, size_t whylen, char *err,
                    size_t errlen);
void bench_papi_close(struct bench_papi *p);
int bench_papi_hardware_ok(const struct bench_papi *p);          /* instructions counts */
const char *bench_papi_hardware_why(const struct bench_papi *p); /* and if not, why */
void bench_papi_hooks(struct bench_papi *p, struct bench_hooks *h);
void bench_papi_meta(const struct bench_papi *p, struct bench_meta *m);
/* The default --papi-events specification. */
extern const char bench_papi_default_events[];

#endif
