/* run_dir.c - a sweep's run directory: creating it, resuming it, and the
 * command that resumes it.
 *
 * results.csv is only ever appended to: a new run refuses to open an
 * existing one, and --resume reads it back with libcsv, truncates a
 * half-written last row (a kill during a write), and marks every point that
 * has a row as done, keyed on the identity columns. The copy of the sweep
 * file and reports/latest are replaced by rename (meta.csv too: run_meta.c).
 */
#include "sweep_run.h"
#include "sweep.h"
#include "../cli.h"
#include "../meta.h"
#include "../row.h"
#include "../table.h"
#include "../util.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void make_run_id(const struct bench_sweep_run *s, char *buf, size_t len)
{
    char base[256], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(base, sizeof(base), "%s", s->file);
    char *b = basename(base), *dot = strrchr(b, '.');
    if (dot && dot != b)
        *dot = '\0';
    for (int k = 1;; k++) {
        struct stat st;
        if (k == 1)
            snprintf(buf, len, "%s-%s", stamp, b);
        else
            snprintf(buf, len, "%s-%s-%d", stamp, b, k);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "reports/%s", buf);
        if (stat(path, &st) != 0)
            return;
    }
}

static void set_paths(struct bench_sweep_run *s)
{
    snprintf(s->results, sizeof(s->results), "%s/results.csv", s->dir);
    snprintf(s->meta_path, sizeof(s->meta_path), "%s/meta.csv", s->dir);
}

/* A header written by this program: the same columns in the same order. */
static int header_matches(const struct bench_table *t)
{
    if (t->ncols != bench_csv_ncols())
        return 0;
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->header[i], bench_csv_col(i)->name))
            return 0;
    return 1;
}

struct keyed {
    char *key;
    size_t line;
};

static int cmp_keyed(const void *a, const void *b)
{
    return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

/* Every cell of every row as this program would have written it: a row
 * damaged by hand or by a disk (a non-numeric latency, garbage in a key
 * column) would otherwise count its point as done. Refused with the file,
 * line and column, since the file is only ever appended to and a re-run
 * would leave the bad row beside the new one. */
static void validate_rows(const struct bench_sweep_run *s, const struct bench_table *t)
{
    char why[256];
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++)
            if (bench_csv_check_cell(c, bench_table_cell(t, r, c), why, sizeof(why)))
                bench_usage_error("sweep",
                                  "--resume: %s:%zu: column %s: %s; delete that line (its point "
                                  "is then run again) or start a new run",
                                  s->results, t->row_line[r], t->header[c], why);
}

/* Mark the points that have a row; two rows for one point are refused
 * (naming both lines), as a copy-paste or a double append would make them. */
static void mark_done(struct bench_sweep_run *s, const struct bench_table *t)
{
    int cols[32];
    char err[256], key[BENCH_KEY_LEN], pkey[BENCH_KEY_LEN];
    int nc = bench_table_key_cols(t, cols, 32, err, sizeof(err));
    struct keyed *keys = calloc(t->nrows ? t->nrows : 1, sizeof(*keys));
    if (nc < 0 || !keys) {
        fprintf(stderr, "sparsebench sweep: %s: %s\n", s->results, nc < 0 ? err : "no memory");
        exit(BENCH_EXIT_FAIL);
    }
    for (size_t r = 0; r < t->nrows; r++) {
        bench_table_key(t, r, cols, (size_t)nc, key, sizeof(key));
        keys[r].key = strdup(key);
        keys[r].line = t->row_line[r];
        if (!keys[r].key) {
            fprintf(stderr, "sparsebench sweep: out of memory\n");
            exit(BENCH_EXIT_FAIL);
        }
    }
    qsort(keys, t->nrows, sizeof(*keys), cmp_keyed);
    for (size_t r = 1; r < t->nrows; r++)
        if (!strcmp(keys[r - 1].key, keys[r].key)) {
            size_t a = keys[r - 1].line, b = keys[r].line;
            bench_usage_error("sweep",
                              "--resume: %s:%zu: the same point as line %zu (%s); delete one of "
                              "the two lines",
                              s->results, a > b ? a : b, a > b ? b : a, keys[r].key);
        }
    for (size_t i = 0; i < s->npts; i++) {
        struct keyed k = {pkey, 0};
        bench_point_key(&s->pts[i], &s->sw, pkey, sizeof(pkey));
        if (bsearch(&k, keys, t->nrows, sizeof(*keys), cmp_keyed)) {
            s->done[i] = 1;
            s->ndone++;
        }
    }
    for (size_t r = 0; r < t->nrows; r++)
        free(keys[r].key);
    free(keys);
}

void bench_sweep_open_resume(struct bench_sweep_run *s)
{
    struct bench_table t;
    char err[1024];
    if (s->out) {
        snprintf(s->dir, sizeof(s->dir), "%s", s->out);
    } else {
        char target[256];
        ssize_t n = readlink("reports/latest", target, sizeof(target) - 1);
        if (n <= 0)
            bench_usage_error("sweep",
                              "--resume without --out needs reports/latest; give --out DIR");
        target[n] = '\0';
        snprintf(s->dir, sizeof(s->dir), "%s%s", target[0] == '/' ? "" : "reports/", target);
        s->default_dir = 1;
    }
    set_paths(s);
    struct stat st;
    if (stat(s->results, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
        /* A start that failed before its header: no row was done. */
        fprintf(stderr, "sweep: %s is empty (a start that failed); resuming from no rows\n",
                s->results);
        s->csv = fopen(s->results, "w");
        if (!s->csv || bench_csv_write_header(s->csv)) {
            fprintf(stderr, "sparsebench sweep: %s: %s\n", s->results, strerror(errno));
            exit(BENCH_EXIT_FAIL);
        }
        return;
    }
    if (bench_table_read(s->results, &t, err, sizeof(err)))
        bench_usage_error("sweep", "--resume: %s", err);
    if (!header_matches(&t)) {
        bench_table_free(&t);
        bench_usage_error("sweep",
                          "--resume: %s has other columns than this sparsebench writes; start a "
                          "new run instead",
                          s->results);
    }
    if (t.good_bytes < t.file_bytes) {
        if (truncate(s->results, (off_t)t.good_bytes)) {
            fprintf(stderr, "sparsebench sweep: truncate %s: %s\n", s->results, strerror(errno));
            exit(BENCH_EXIT_FAIL);
        }
        fprintf(stderr, "sweep: dropped a half-written last row (%zu bytes) from %s\n",
                t.file_bytes - t.good_bytes, s->results);
    }
    validate_rows(s, &t);
    mark_done(s, &t);
    bench_table_free(&t);
    if (access(s->meta_path, R_OK) == 0 &&
        bench_meta_read(&s->meta, s->meta_path, err, sizeof(err)))
        fprintf(stderr, "sweep: warning: %s; writing a new one\n", err);
    const char *tf = bench_meta_get(&s->meta, "threads_flag");
    const char *cf = bench_meta_get(&s->meta, "cache_flag");
    if ((tf && atoi(tf) != s->threads) || (cf && strcmp(cf, s->cache ? s->cache : ""))) {
        char now[16] = "(none)";
        if (s->threads)
            snprintf(now, sizeof(now), "%d", s->threads);
        bench_usage_error("sweep",
                          "--resume: %s was started with --threads %s --cache %s but resumed "
                          "with --threads %s --cache %s; these change the points, give the same",
                          s->dir, tf && atoi(tf) ? tf : "(none)", cf && *cf ? cf : "(none)", now,
                          s->cache ? s->cache : "(none)");
    }
    const char *sh = bench_meta_get(&s->meta, "shard");
    char want[32] = "";
    if (s->shard_n)
        snprintf(want, sizeof(want), "%u/%u", s->shard_i, s->shard_n);
    if (sh && strcmp(sh, want)) /* another shard's points would land in this one's run */
        bench_usage_error("sweep", "--resume: %s is %s%s but resumed with %s%s; give the same",
                          s->dir, *sh ? "shard " : "unsharded", sh,
                          *want ? "--shard " : "no --shard", want);
    const char *h = bench_meta_get(&s->meta, "sweep_hash");
    char mine[32];
    snprintf(mine, sizeof(mine), "%016llx", (unsigned long long)s->sw.hash);
    if (h && strcmp(h, mine))
        fprintf(stderr,
                "sweep: warning: %s changed since the run started; rows of points no "
                "longer in it stay\n",
                s->file);
    s->csv = fopen(s->results, "a");
    if (!s->csv) {
        fprintf(stderr, "sparsebench sweep: %s: %s\n", s->results, strerror(errno));
        exit(BENCH_EXIT_FAIL);
    }
}

static void copy_sweep_file(const struct bench_sweep_run *s)
{
    char path[PATH_MAX];
    size_t len;
    char *text = bench_read_file(s->file, &len);
    snprintf(path, sizeof(path), "%s/sweep.sweep", s->dir);
    if (!text || bench_write_atomic(path, text, len))
        fprintf(stderr, "sweep: warning: could not copy %s to %s\n", s->file, path);
    free(text);
}

void bench_sweep_open_new(struct bench_sweep_run *s)
{
    if (s->out) {
        snprintf(s->dir, sizeof(s->dir), "%s", s->out);
    } else {
        char id[256];
        make_run_id(s, id, sizeof(id));
        snprintf(s->dir, sizeof(s->dir), "reports/%s", id);
        s->default_dir = 1;
    }
    set_paths(s);
    if (s->out && !*s->out)
        bench_usage_error("sweep", "--out: '' is empty; allowed: a directory to write the run to");
    if (bench_mkdir_p(s->dir)) {
        if (s->out) /* the user's directory: bad input, not a failed measurement */
            bench_usage_error("sweep",
                              "--out %s: cannot create it as a directory: %s; allowed: "
                              "a writable directory (new or existing)",
                              s->out, strerror(errno));
        fprintf(stderr, "sparsebench sweep: cannot create %s: %s\n", s->dir, strerror(errno));
        exit(BENCH_EXIT_FAIL);
    }
    /* A results.csv of 0 bytes is what a start that failed before its
     * header (a full disk) leaves: it holds no rows, so it may be replaced,
     * and it must not block the next run. */
    struct stat st;
    if (stat(s->results, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
        fprintf(stderr, "sweep: %s is empty (a start that failed); replacing it\n", s->results);
        unlink(s->results);
    }
    s->csv = fopen(s->results, "wx"); /* never replace an earlier run's rows */
    if (!s->csv) {
        if (errno == EEXIST)
            bench_usage_error("sweep",
                              "%s already exists; continue it with --resume or choose another "
                              "--out",
                              s->results);
        if (s->out && (errno == EACCES || errno == EROFS || errno == EPERM))
            bench_usage_error("sweep",
                              "--out %s: cannot write %s: %s; allowed: a writable "
                              "directory",
                              s->out, s->results, strerror(errno));
        fprintf(stderr, "sparsebench sweep: %s: %s\n", s->results, strerror(errno));
        exit(BENCH_EXIT_FAIL);
    }
    if (bench_csv_write_header(s->csv) || fsync(fileno(s->csv))) {
        /* No row is in it: remove it rather than leave an empty or cut header. */
        fprintf(stderr, "sparsebench sweep: writing the header of %s: %s; removed it\n", s->results,
                strerror(errno));
        fclose(s->csv);
        unlink(s->results);
        exit(BENCH_EXIT_FAIL);
    }
    copy_sweep_file(s);
    if (s->default_dir && bench_symlink_replace(s->dir + strlen("reports/"), "reports/latest"))
        fprintf(stderr, "sweep: warning: could not point reports/latest at %s: %s\n", s->dir,
                strerror(errno));
}

/* The same command with --out DIR and --resume: flags such as --threads
 * change the points' keys, so a resume must repeat them. */
void bench_sweep_resume_hint(const struct bench_sweep_run *s)
{
    int has_out = 0;
    fprintf(stderr, "resume with: %s sweep", bench_argv0 ? bench_argv0 : "sparsebench");
    for (int i = 0; i < s->argc; i++) {
        if (!strcmp(s->argv[i], "--resume"))
            continue;
        has_out |= !strcmp(s->argv[i], "--out") || !strncmp(s->argv[i], "--out=", 6);
        fprintf(stderr, " %s", s->argv[i]);
    }
    if (!has_out)
        fprintf(stderr, " --out %s", s->dir);
    fprintf(stderr, " --resume\n");
}
