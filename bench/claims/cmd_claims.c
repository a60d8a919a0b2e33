/* cmd_claims.c - `sparsebench claims RUN_DIR`: re-derive CLAIMS.md,
 * claims.csv and the claims figures from a finished `make claims` run
 * (results.csv, meta.csv and the extra sweeps' subdirectories), measuring
 * nothing, so a report can be regenerated and tested on stored CSVs. */
#include "../cli.h"
#include "claims.h"

#include <stdio.h>
#include <sys/stat.h>

static const char claims_epilog[] =
    "RUN_DIR is a run of bench/sweeps/claims.sweep (make claims writes one), with the\n"
    "F4/F5 sweeps' runs in RUN_DIR/paper/, RUN_DIR/flaws/ and RUN_DIR/repeat/ when\n"
    "they ran (a sweep that could not run leaves its message in <name>/sweep.log, and\n"
    "its claims are 'not testable here' with that message).\n"
    "Every claim of the sources (UltraMem U1-U11, UltraFastBERT F1-F7; at D = 768 and,\n"
    "for U1, U3, U4, U5, U7, at D = 2048) becomes one row with a verdict: reproduced,\n"
    "partly, not reproduced, not testable here. The rule is printed at the top of\n"
    "CLAIMS.md; every reason is built from the run's numbers.\n"
    "Writes into --out (default RUN_DIR): CLAIMS.md, claims.csv, claims-*.png.\n"
    "Exit status: 0 done, 1 a file could not be written, 2 bad input (RUN_DIR missing,\n"
    "or its results.csv / meta.csv missing or unreadable).\n";

int bench_cmd_claims(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    int no_plot = 0;
    const struct bench_opt opts[] = {
        {NULL, BENCH_OPT_STR, &dir, 0, 0, NULL, "RUN_DIR", "a make claims run directory"},
        {"out", BENCH_OPT_STR, &out, 0, 0, NULL, "DIR", "where to write (RUN_DIR)"},
        {"no-plot", BENCH_OPT_FLAG, &no_plot, 0, 0, NULL, NULL, "skip the gnuplot figures"},
    };
    const struct bench_cmd cmd = {
        .name = "claims",
        .summary = "Derive every published claim's verdict from a make claims run:\n"
                   "CLAIMS.md, claims.csv and figures, measuring nothing.",
        .usage = "RUN_DIR [options]",
        .epilog = claims_epilog,
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    bench_parse_args(&cmd, argc, argv);
    struct stat st;
    if (!dir)
        bench_usage_error("claims", "RUN_DIR missing: give a run directory of make claims");
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        bench_usage_error("claims", "RUN_DIR '%s' is not a directory", dir);
    if (!out)
        out = dir;
    if (stat(out, &st) || !S_ISDIR(st.st_mode))
        bench_usage_error("claims", "--out '%s' is not a directory", out);

    static struct claim_run run;
    static struct claim_row rows[CLAIMS_MAX];
    char err[512];
    size_t n = 0;
    int rc = BENCH_EXIT_FAIL;
    if (claims_load(dir, &run, err, sizeof(err)))
        bench_usage_error("claims", "RUN_DIR '%s': %s", dir, err);
    claims_derive_u(&run, rows, CLAIMS_MAX, &n);
    claims_derive_f(&run, rows, CLAIMS_MAX, &n);
    struct sbuf figs = {0};
    if (!no_plot && claims_plot(out, &run, &figs, err, sizeof(err)))
        fprintf(stderr, "sparsebench claims: no figures: %s\n", err);
    if (claims_write(out, &run, rows, n, figs.p, err, sizeof(err))) {
        fprintf(stderr, "sparsebench claims: %s\n", err);
        goto cleanup;
    }
    size_t count[4] = {0};
    for (size_t i = 0; i < n; i++)
        count[rows[i].verdict]++;
    fprintf(stderr,
            "claims: %zu claims (%zu reproduced, %zu partly, %zu not reproduced, %zu not "
            "testable here) -> %s/CLAIMS.md, %s/claims.csv\n",
            n, count[CLAIM_REPRODUCED], count[CLAIM_PARTLY], count[CLAIM_NOT_REPRODUCED],
            count[CLAIM_NOT_TESTABLE], out, out);
    rc = 0;
cleanup:
    for (size_t i = 0; i < n; i++)
        sb_free(&rows[i].detail);
    sb_free(&figs);
    claims_free(&run);
    return rc;
}
