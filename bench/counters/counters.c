/* counters.c - `--counters=auto|papi|callgrind|none`: which source fills a
 * run's counter columns, and why (research/harness.md sections 3, 4 and
 * 9.4).
 *
 * papi reads the machine's own counters around every timed forward
 * (papi.c); callgrind re-runs the points under valgrind and counts one
 * simulated forward each (callgrind.c); none leaves the columns NA. auto
 * takes papi when its instructions event really counts (the probe), else
 * callgrind when every point is gate-sized (small enough that valgrind's
 * 60-150x slowdown stays in seconds), else none, and says which and why in
 * one line on stderr and in meta.csv.
 */
#include "counters.h"
#include "callgrind.h"
#include "papi.h"
#include "../measure.h"
#include "../meta.h"
#include "../../impls/layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_names[] = {
    [BENCH_COUNTERS_NONE] = "none",
    [BENCH_COUNTERS_PAPI] = "papi",
    [BENCH_COUNTERS_CALLGRIND] = "callgrind",
    [BENCH_COUNTERS_AUTO] = "auto",
};

int bench_counters_mode(const char *name)
{
    for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
        if (name && !strcmp(name, mode_names[i]))
            return (int)i;
    return -1;
}

const char *bench_counters_mode_name(enum bench_counter_mode m)
{
    return (size_t)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : "?";
}

int bench_counters_gate_sized(uint64_t d_model, uint64_t scale, uint64_t tokens)
{
    double params = (double)layer_dense_params((size_t)d_model) * (double)scale;
    return params <= BENCH_GATE_PARAMS && params * (double)tokens <= BENCH_GATE_PARAM_TOKENS;
}

static int open_papi(struct bench_counters *c, const char *spec, char *why, size_t whylen,
                     char *err, size_t errlen)
{
    if (bench_papi_open(&c->papi, spec, why, whylen, err, errlen))
        return -1;
    return 0;
}

int bench_counters_open(struct bench_counters *c, const char *requested, const char *papi_events,
                        int gate_sized, const char *prefix, char *err, size_t errlen)
{
    char papi_why[512] = "", cg_why[256] = "";
    int m = bench_counters_mode(requested ? requested : "none");

    memset(c, 0, sizeof(*c));
    if (m < 0) {
        snprintf(err, errlen, "--counters: '%s' is not allowed; allowed: %s", requested,
                 BENCH_COUNTER_CHOICES);
        return -1;
    }
    c->requested = (enum bench_counter_mode)m;
    /* A malformed --papi-events is bad input whatever --counters says:
     * parsed (and dropped) even when no PAPI counter will be read. */
    if (papi_events && c->requested != BENCH_COUNTERS_PAPI && c->requested != BENCH_COUNTERS_AUTO) {
        struct bench_papi *p = NULL;
        if (bench_papi_open(&p, papi_events, papi_why, sizeof(papi_why), err, errlen))
            return -1;
        bench_papi_close(p);
        papi_why[0] = '\0';
    }
    switch (c->requested) {
    case BENCH_COUNTERS_NONE:
        c->mode = BENCH_COUNTERS_NONE;
        snprintf(c->why, sizeof(c->why), "none: counter columns NA (--counters=none)");
        return 0;
    case BENCH_COUNTERS_PAPI:
        if (open_papi(c, papi_events, papi_why, sizeof(papi_why), err, errlen))
            return -1;
        c->mode = BENCH_COUNTERS_PAPI;
        snprintf(c->why, sizeof(c->why), "%s", papi_why);
        break;
    case BENCH_COUNTERS_CALLGRIND:
        if (!bench_callgrind_available(c, cg_why, sizeof(cg_why))) {
            snprintf(err, errlen, "--counters=callgrind: %s", cg_why);
            return -1;
        }
        c->mode = BENCH_COUNTERS_CALLGRIND;
        snprintf(c->why, sizeof(c->why),
                 "callgrind: each point re-run under valgrind, one forward counted on 1 thread "
                 "(60-150x slower)");
        break;
    case BENCH_COUNTERS_AUTO:
        if (open_papi(c, papi_events, papi_why, sizeof(papi_why), err, errlen))
            return -1;
        if (bench_papi_hardware_ok(c->papi)) {
            c->mode = BENCH_COUNTERS_PAPI;
            snprintf(c->why, sizeof(c->why), "auto chose papi: its instructions event counts; %s",
                     papi_why);
        } else if (!gate_sized) {
            c->mode = BENCH_COUNTERS_NONE;
            snprintf(c->why, sizeof(c->why),
                     "auto chose none: no hardware counters (%.300s) and some point is too big "
                     "for callgrind (gate-sized: params <= %.0e, params x tokens <= %.1e)",
                     bench_papi_hardware_why(c->papi), BENCH_GATE_PARAMS, BENCH_GATE_PARAM_TOKENS);
        } else if (!bench_callgrind_available(c, cg_why, sizeof(cg_why))) {
            c->mode = BENCH_COUNTERS_NONE;
            snprintf(c->why, sizeof(c->why),
                     "auto chose none: no hardware counters (%.250s) and callgrind cannot run: "
                     "%.180s",
                     bench_papi_hardware_why(c->papi), cg_why);
        } else {
            c->mode = BENCH_COUNTERS_CALLGRIND;
            snprintf(c->why, sizeof(c->why),
                     "auto chose callgrind: no hardware counters (%.300s); every point is "
                     "gate-sized, one forward each is counted under valgrind on 1 thread",
                     bench_papi_hardware_why(c->papi));
        }
        break;
    }
    if (c->mode == BENCH_COUNTERS_PAPI)
        bench_papi_hooks(c->papi, &c->hooks);
    fprintf(stderr, "%s: counters: %s\n", prefix, c->why);
    return 0;
}

void bench_counters_close(struct bench_counters *c)
{
    bench_papi_close(c->papi);
    c->papi = NULL;
}

const struct bench_hooks *bench_counters_hooks(struct bench_counters *c)
{
    return c->mode == BENCH_COUNTERS_PAPI ? &c->hooks : NULL;
}

/* `valgrind --version`, or "". */
static void valgrind_version(const char *valgrind, char *buf, size_t len)
{
    char cmd[4200];
    buf[0] = '\0';
    snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", valgrind);
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    if (fgets(buf, (int)len, p))
        buf[strcspn(buf, "\r\n")] = '\0';
    pclose(p);
}

void bench_counters_meta(const struct bench_counters *c, struct bench_meta *m)
{
    bench_meta_set(m, "counters", "%s", bench_counters_mode_name(c->mode));
    bench_meta_set(m, "counters_requested", "%s", bench_counters_mode_name(c->requested));
    bench_meta_set(m, "counters_why", "%s", c->why);
    if (c->papi)
        bench_papi_meta(c->papi, m);
    if (c->mode != BENCH_COUNTERS_CALLGRIND)
        return;
    char ver[128];
    valgrind_version(c->valgrind, ver, sizeof(ver));
    bench_meta_set(m, "callgrind_valgrind", "%s (%s)", ver[0] ? ver : "unknown", c->valgrind);
    bench_meta_set(m, "callgrind_exe", "%s", c->cg_exe);
    bench_meta_set(m, "callgrind_cache", "I1 %s, D1 %s, LL %s (size,assoc,line)", BENCH_CG_I1,
                   BENCH_CG_D1, BENCH_CG_LL);
    bench_meta_set(m, "callgrind_options", "%s",
                   "setarch $(uname -m) -R valgrind -q --tool=callgrind --instr-atstart=no "
                   "--collect-atstart=no --cache-sim=yes --simulate-wb=yes --I1=" BENCH_CG_I1
                   " --D1=" BENCH_CG_D1 " --LL=" BENCH_CG_LL " --combine-dumps=yes; env: PATH "
                   "and OPENBLAS_* only");
    bench_meta_set(m, "callgrind_rule", "%s",
                   "one forward per point on 1 thread on the checked tokens, after one warm-up "
                   "forward on others; cold: simulated caches emptied by reading a 32 MiB "
                   "buffer, then a second layer of the same configuration runs (code warm) and "
                   "x and y are re-read; CALLGRIND_TOGGLE_COLLECT around the counted forward "
                   "only");
    if (c->cg_corename[0])
        bench_meta_set(m, "callgrind_openblas_corename", "%s", c->cg_corename);
    bench_meta_set(m, "callgrind_seconds", "%.1f", c->cg_seconds);
    bench_meta_set(m, "callgrind_points", "%zu", c->cg_points);
}
