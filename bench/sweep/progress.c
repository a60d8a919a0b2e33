/* progress.c - where a sweep is, on stderr.
 *
 * On a terminal: one line redrawn before every point, "[i/n] the point |
 * elapsed, ~left". Anywhere else (a log, a pipe, make in CI) nothing, unless
 * --verbose asks for one summary line per finished point. The time left is
 * rough: the points done so far are weighted by their token counts, and the
 * rate applied to the weight still to do.
 */
#include "progress.h"
#include "sweep.h"
#include "../row.h"
#include "../util.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

double bench_progress_weight(const struct bench_point *p)
{
    /* a fixed cost (create, check, 11 rounds of >= 1 ms, flushes) plus the
     * work; a paired point times two layers for `pairs` rounds each */
    double w = 1.0 + (double)(p->batch * p->seq_len) * (double)p->d_model / (256.0 * 768.0);
    if (p->slot->pair >= 0)
        w *= 2.0 * p->slot->pairs / (p->slot->rounds > 0 ? p->slot->rounds : 11);
    return w;
}

void bench_format_duration(double s, char *buf, size_t len)
{
    long t = s > 0 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void bench_progress_start(struct bench_progress *pr, size_t total, double w_total, int verbose)
{
    pr->tty = isatty(STDERR_FILENO);
    pr->verbose = verbose;
    pr->total = total;
    pr->done = 0;
    pr->w_total = w_total;
    pr->w_done = 0;
    pr->t0 = bench_now();
    pr->drawn = 0;
}

void bench_progress_clear(struct bench_progress *pr)
{
    if (pr->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        pr->drawn = 0;
    }
}

void bench_progress_show(struct bench_progress *pr, const struct bench_point *p)
{
    char el[32], left[40] = "?";
    if (!pr->tty || pr->verbose)
        return;
    double elapsed = bench_now() - pr->t0;
    bench_format_duration(elapsed, el, sizeof(el));
    if (pr->w_done > 0) {
        char t[32];
        bench_format_duration(elapsed / pr->w_done * (pr->w_total - pr->w_done), t, sizeof(t));
        snprintf(left, sizeof(left), "~%s", t);
    }
    fprintf(stderr,
            "\r\033[K[%zu/%zu] %s d=%llu scale=%llu T=%llu (%llux%llu) threads=%llu | %s "
            "elapsed, %s left",
            pr->done + 1, pr->total, p->slot->label, (unsigned long long)p->d_model,
            (unsigned long long)p->scale, (unsigned long long)(p->batch * p->seq_len),
            (unsigned long long)p->batch, (unsigned long long)p->seq_len,
            (unsigned long long)p->threads, el, left);
    fflush(stderr);
    pr->drawn = 1;
}

void bench_progress_done(struct bench_progress *pr, const struct bench_point *p,
                         const struct bench_row *row)
{
    pr->done++;
    pr->w_done += bench_progress_weight(p);
    if (pr->verbose && row) {
        fprintf(stderr, "[%zu/%zu] ", pr->done, pr->total);
        bench_row_summary(stderr, row);
    }
}
