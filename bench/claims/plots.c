/* plots.c - the claims figures (issues 13 §3, 20): data files written from
 * the run's rows and one gnuplot script, run in the output directory.
 *   claims-speedup.png   UltraMem and PKM over MoE vs batch, the 2-6x band
 *   claims-fff.png       fff over dense-4095 (and at D = 12288), lines at 78x, 341x
 *   claims-bytes.png     MoE / UltraMem bytes vs batch, the 13-18.8x band
 *   claims-scale.png     latency vs scale at 512 tokens
 *   claims-time.png      where the time goes: bytes / roof, FLOPs / peak, the rest
 * Each width (D = 768, 2048) is its own series. */
#include "claims.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A paired slot's ratio per batch (or scale): "x ratio lo hi". */
static void dat_pair(const struct claim_run *run, struct sbuf *sb, const char *label,
                     unsigned long d, int by_scale)
{
    struct crow p[64];
    size_t k = claim_rows(run, label, d, by_scale, p, 64);
    sb_printf(sb, "# %s D=%lu\n", label, d);
    for (size_t i = 0; i < k; i++)
        if (claim_ok(p[i]) && !isnan(claim_num(p[i], "pair_ratio")))
            sb_printf(sb, "%g %g %g %g\n", claim_num(p[i], by_scale ? "scale" : "tokens"),
                      claim_num(p[i], "pair_ratio"), claim_num(p[i], "pair_ratio_lo"),
                      claim_num(p[i], "pair_ratio_hi"));
    sb_printf(sb, "\n\n");
}

static void dat_bytes(const struct claim_run *run, struct sbuf *sb, const char *um, const char *moe,
                      unsigned long d)
{
    struct crow p[64], m;
    size_t k = claim_rows(run, um, d, 0, p, 64);
    sb_printf(sb, "# %s / %s D=%lu\n", moe, um, d);
    for (size_t i = 0; i < k; i++)
        if (claim_find(run, moe, d, (unsigned long)claim_num(p[i], "tokens"), 0, &m))
            sb_printf(sb, "%g %g\n", claim_num(p[i], "tokens"),
                      claim_num(m, "bytes") / claim_num(p[i], "bytes"));
    sb_printf(sb, "\n\n");
}

static void dat_scale(const struct claim_run *run, struct sbuf *sb, const char *label,
                      unsigned long d)
{
    struct crow p[16];
    size_t k = claim_rows(run, label, d, 1, p, 16);
    sb_printf(sb, "# %s D=%lu\n", label, d);
    for (size_t i = 0; i < k; i++)
        if (claim_ok(p[i]))
            sb_printf(sb, "%g %g\n", claim_num(p[i], "scale"),
                      claim_num(p[i], "latency_us_median"));
    sb_printf(sb, "\n\n");
}

/* Where the time goes, per layer and batch: parameter bytes over their roof
 * (dense bytes at triad, sparse bytes at gather), FLOPs over the sgemm
 * peak, and what is left of the measured latency; all in us. */
static void dat_time(const struct claim_run *run, struct sbuf *sb)
{
    static const char *const labels[] = {"dense", "moe", "ultramem", "pkm"};
    static const unsigned long batches[] = {1, 16, 256, 1024};
    sb_printf(sb, "# label mem_us flop_us rest_us\n");
    for (size_t li = 0; li < 4; li++)
        for (size_t b = 0; b < 4; b++) {
            struct crow c;
            if (!claim_find(run, labels[li], 768, batches[b], 0, &c) || !claim_ok(c))
                continue;
            double mem = claim_num(c, "dense_bytes") / (run->triad_gbps * 1e3) +
                         claim_num(c, "sparse_bytes") / (run->gather_gbps * 1e3);
            double fl = claim_num(c, "flops") / (run->peak_gflops * 1e3);
            double lat = claim_num(c, "latency_us_median");
            double bound = fmax(mem, fl);
            sb_printf(sb, "\"%s T=%lu\" %g %g %g\n", labels[li], batches[b], mem >= fl ? mem : 0.0,
                      fl > mem ? fl : 0.0, fmax(0, lat - bound));
        }
}

static const char gp_text[] =
    "set terminal pngcairo size 960,600 noenhanced\n"
    "set grid\n"
    "set logscale x 2\n"
    "set output 'claims-speedup.png'\n"
    "set title 'UltraMem and PKM over MoE, one token per sequence (paired ratio, 95 % "
    "interval); grey: the paper 2-6x'\n"
    "set xlabel 'batch (tokens per forward)'; set ylabel 'time(MoE) / time(layer)'\n"
    "set logscale y\n"
    "set object 1 rect from graph 0, first 2 to graph 1, first 6 fc rgb '#dddddd' behind\n"
    "plot 'claims-speedup.dat' index 0 u 1:2:3:4 w yerrorlines t 'ultramem D=768', \\\n"
    "     '' index 1 u 1:2:3:4 w yerrorlines t 'pkm D=768', \\\n"
    "     '' index 2 u 1:2:3:4 w yerrorlines t 'ultramem-227m vs moe-2in34 D=768', \\\n"
    "     '' index 3 u 1:2:3:4 w yerrorlines t 'ultramem vs moe 2in34 D=2048', 1 lc 0 t ''\n"
    "unset object 1\n"
    "set output 'claims-bytes.png'\n"
    "set title 'MoE / UltraMem parameter bytes per forward (exact accounting); grey: the "
    "paper 13-18.8x'\n"
    "set ylabel 'bytes(MoE) / bytes(UltraMem)'\n"
    "set object 1 rect from graph 0, first 13 to graph 1, first 18.8 fc rgb '#dddddd' behind\n"
    "plot 'claims-bytes.dat' index 0 u 1:2 w lp t 'D=768', '' index 1 u 1:2 w lp t 'D=2048'\n"
    "unset object 1\n"
    "set output 'claims-scale.png'\n"
    "set title 'latency vs scale at 512 tokens'\n"
    "set xlabel 'scale (sparse parameters / dense FFN)'; set ylabel 'us per forward'\n"
    "plot 'claims-scale.dat' index 0 u 1:2 w lp t 'moe D=768', '' index 1 u 1:2 w lp t "
    "'ultramem D=768', '' index 2 u 1:2 w lp t 'pkm D=768', '' index 3 u 1:2 w lp t 'moe "
    "D=2048', '' index 4 u 1:2 w lp t 'ultramem D=2048'\n"
    "set output 'claims-fff.png'\n"
    "set title 'FFF over the dense FFN as wide as the tree (paired ratio); lines: 78x "
    "published, 341x FLOP ratio'\n"
    "set xlabel 'tokens per forward'; set ylabel 'time(dense) / time(fff)'\n"
    "plot 'claims-fff.dat' index 0 u 1:2:3:4 w yerrorlines t 'fff 1x11 vs dense 4095, D=768', "
    "'' index 1 u 1:2:3:4 w yerrorlines t 'fff depth 15 vs dense 4D, D=12288', 78 lc 1 dt 2 t "
    "'78x', 341.25 lc 2 dt 2 t '341x'\n"
    "unset logscale\n"
    "set output 'claims-time.png'\n"
    "set title 'where the time goes, D = 768: bytes / roof or FLOPs / peak (whichever "
    "bounds), and the rest'\n"
    "set style data histograms; set style histogram rowstacked; set style fill solid 0.7\n"
    "set boxwidth 0.8; set xtics rotate by -45; set ylabel 'us per forward'\n"
    "plot 'claims-time.dat' u 2:xtic(1) t 'bytes / roof', '' u 3 t 'FLOPs / peak', '' u 4 t "
    "'rest'\n";

static const char figs_md[] = "![UltraMem and PKM over MoE](claims-speedup.png)\n\n"
                              "![MoE / UltraMem bytes](claims-bytes.png)\n\n"
                              "![latency vs scale](claims-scale.png)\n\n"
                              "![FFF over dense](claims-fff.png)\n\n"
                              "![where the time goes](claims-time.png)\n";

static int put(const char *dir, const char *name, const struct sbuf *sb)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int bad = sb->oom || fwrite(sb->p ? sb->p : "", 1, sb->n, f) != sb->n;
    return (fclose(f) || bad) ? -1 : 0;
}

int claims_plot(const char *dir, const struct claim_run *run, struct sbuf *md, char *err,
                size_t errlen)
{
    struct sbuf sp = {0}, by = {0}, sc = {0}, ff = {0}, tm = {0}, gp = {0};
    int rc = -1;
    dat_pair(run, &sp, "ultramem", 768, 0);
    dat_pair(run, &sp, "pkm", 768, 0);
    dat_pair(run, &sp, "ultramem-227m", 768, 0);
    dat_pair(run, &sp, "ultramem-d2048", 2048, 0);
    dat_bytes(run, &by, "ultramem", "moe", 768);
    dat_bytes(run, &by, "ultramem-d2048", "moe-2in34-d2048", 2048);
    dat_scale(run, &sc, "moe-s512", 768);
    dat_scale(run, &sc, "ultramem-s512", 768);
    dat_scale(run, &sc, "pkm-s512", 768);
    dat_scale(run, &sc, "moe-s512-d2048", 2048);
    dat_scale(run, &sc, "ultramem-s512-d2048", 2048);
    dat_pair(run, &ff, "fff-1x11", 768, 0);
    dat_pair(run, &ff, "fff-d15-d12288", 12288, 0);
    dat_time(run, &tm);
    sb_printf(&gp, "%s", gp_text);
    if (put(dir, "claims-speedup.dat", &sp) || put(dir, "claims-bytes.dat", &by) ||
        put(dir, "claims-scale.dat", &sc) || put(dir, "claims-fff.dat", &ff) ||
        put(dir, "claims-time.dat", &tm) || put(dir, "claims.gp", &gp)) {
        snprintf(err, errlen, "%s: cannot write the plot data: %s", dir, strerror(errno));
        goto cleanup;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        goto cleanup;
    }
    if (pid == 0) {
        /* gnuplot prints a warning per empty series (a claim not measured);
         * the report says why, so they are silenced */
        if (chdir(dir) || !freopen("/dev/null", "w", stderr))
            _exit(126);
        execlp("gnuplot", "gnuplot", "claims.gp", (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid: %s", strerror(errno));
            goto cleanup;
        }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "gnuplot claims.gp in %s failed (status %d)", dir,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        goto cleanup;
    }
    sb_printf(md, "%s", figs_md);
    rc = 0;
cleanup:
    sb_free(&sp);
    sb_free(&by);
    sb_free(&sc);
    sb_free(&ff);
    sb_free(&tm);
    sb_free(&gp);
    return rc;
}
