/* callgrind.c - deterministic counts, the parent's side: the points of one
 * layer re-run under valgrind's callgrind with pinned simulated caches, one
 * forward counted and dumped per point (research/harness.md sections
 * 4.1-4.2, 9.2).
 *
 * The parent writes a plan (the layer configuration and the token counts)
 * into a fresh directory and starts, with a fixed minimal environment (PATH
 * and the OPENBLAS_* variables, as `env -i` would leave them), ASLR off and
 * a fixed argv:
 *
 *   setarch $(uname -m) -R valgrind -q --tool=callgrind --instr-atstart=no
 *     --collect-atstart=no --cache-sim=yes --simulate-wb=yes
 *     --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64 --combine-dumps=yes
 *     --callgrind-out-file=callgrind.out ./sparsebench _callgrind plan
 *
 * in that directory (./sparsebench is a link to build/callgrind/sparsebench,
 * so the path the client's stack holds is the same in every checkout). The
 * child (callgrind_child.c) counts one forward per point and writes each
 * counted forward's layer_stats, so the parent can compare the simulated
 * traffic with the layer's own byte counts. The parent parses the combined
 * dump (cgparse.c), asserts the pinned geometry in every dump, and removes
 * the directory (SPARSEBENCH_CALLGRIND_KEEP=1 keeps it for
 * callgrind_annotate).
 */
#include "callgrind.h"
#include "cgparse.h"
#include "counters.h"
#include "../row.h"
#include "../util.h"
#include "../../impls/layer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIXED_PATH "/usr/local/bin:/usr/bin:/bin"
#define MAX_ENV    64
#define LOG_TAIL   600

/* ---- finding the tools ---- */

static int find_in_path(const char *name, char *buf, size_t len)
{
    char path[] = FIXED_PATH;
    char *save = NULL;
    for (char *dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(buf, len, "%s/%s", dir, name);
        if (access(buf, X_OK) == 0)
            return 0;
    }
    return -1;
}

/* build/callgrind/sparsebench, seen from build/, build/san/, build/tests/... */
static int find_cg_exe(char *buf, size_t len)
{
    static const char *const ups[] = {"/callgrind/sparsebench", "/../callgrind/sparsebench",
                                      "/../../callgrind/sparsebench"};
    return bench_find_beside_exe("SPARSEBENCH_CALLGRIND_EXE", ups, sizeof(ups) / sizeof(ups[0]),
                                 buf, len);
}

int bench_callgrind_available(struct bench_counters *c, char *why, size_t whylen)
{
#ifndef HAVE_VALGRIND
    (void)c;
    snprintf(why, whylen, "built without valgrind's headers (<valgrind/callgrind.h>)");
    return 0;
#else
    if (find_in_path("valgrind", c->valgrind, sizeof(c->valgrind))) {
        snprintf(why, whylen, "valgrind not found in %s (apt-get install valgrind)", FIXED_PATH);
        return 0;
    }
    if (find_in_path("setarch", c->setarch, sizeof(c->setarch))) {
        snprintf(why, whylen, "setarch not found in %s (util-linux)", FIXED_PATH);
        return 0;
    }
    if (find_cg_exe(c->cg_exe, sizeof(c->cg_exe))) {
        snprintf(why, whylen,
                 "build/callgrind/sparsebench not found next to this program (run make, or set "
                 "SPARSEBENCH_CALLGRIND_EXE)");
        return 0;
    }
    return 1;
#endif
}

/* ---- the parent ---- */

static int write_plan(const char *dir, const struct layer_ops *ops, const struct layer_config *cfg,
                      int cold, const size_t *tokens, size_t n)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/plan", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\nimpl %s\nknobs %s\nd_model %zu\nscale %u\nseed %llu\ncache %s\n",
            BENCH_CG_PLAN_MAGIC, ops->name, cfg->knobs ? cfg->knobs : "", cfg->d_model, cfg->scale,
            (unsigned long long)cfg->seed, cold ? "cold" : "warm");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "point %zu %zu\n", i, tokens[i]);
    return fclose(f) == 0 ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* PATH and the OPENBLAS_* variables as they are, sorted: nothing else
 * (environment size moves the stack, and with it the counts). */
static void build_env(char **envp, char *path_var, size_t len)
{
    extern char **environ;
    size_t k = 0;
    snprintf(path_var, len, "PATH=%s", FIXED_PATH);
    envp[k++] = path_var;
    for (char **e = environ; *e && k < MAX_ENV - 1; e++)
        if (!strncmp(*e, "OPENBLAS_", 9))
            envp[k++] = *e;
    qsort(envp + 1, k - 1, sizeof(*envp), cmp_str);
    envp[k] = NULL;
}

static void exec_child(const struct bench_counters *c, const char *dir)
{
    char machine[sizeof(((struct utsname *)0)->machine)] = "x86_64", path_var[64];
    char *envp[MAX_ENV];
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(machine, sizeof(machine), "%s", u.machine);
    if (chdir(dir))
        _exit(126);
    int log = open("valgrind.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
        _exit(126);
    build_env(envp, path_var, sizeof(path_var));
    char *argv[] = {"setarch",
                    machine,
                    "-R",
                    (char *)c->valgrind,
                    "-q",
                    "--tool=callgrind",
                    "--instr-atstart=no",
                    "--collect-atstart=no",
                    "--cache-sim=yes",
                    "--simulate-wb=yes",
                    "--I1=" BENCH_CG_I1,
                    "--D1=" BENCH_CG_D1,
                    "--LL=" BENCH_CG_LL,
                    "--combine-dumps=yes",
                    "--callgrind-out-file=callgrind.out",
                    "./sparsebench",
                    "_callgrind",
                    "plan",
                    NULL};
    execve(c->setarch, argv, envp);
    fprintf(stderr, "cannot run %s: %s\n", c->setarch, strerror(errno));
    _exit(127);
}

/* The end of valgrind.log on one line, for error messages, without the
 * warnings about the host's L3 that valgrind prints before it takes the
 * pinned --LL. */
static void log_tail(const char *dir, char *buf, size_t len)
{
    char path[PATH_MAX + 32];
    size_t n, used = 0;
    snprintf(path, sizeof(path), "%s/valgrind.log", dir);
    char *text = bench_read_file(path, &n);
    buf[0] = '\0';
    if (!text)
        return;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strstr(l, "cache found") || strstr(l, "LL cache:") || !strcmp(l, "==") ||
            strspn(l, "=0123456789 ") == strlen(l))
            continue;
        if (used + strlen(l) + 3 >= len) /* keep the end: drop the oldest */
            used = 0;
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " | " : "", l);
    }
    free(text);
}

/* The child's own message, when it wrote one ("point 0 error create: ..."). */
static int child_error(const char *dir, char *buf, size_t len)
{
    char path[PATH_MAX + 32], line[1024];
    snprintf(path, sizeof(path), "%s/stats", dir);
    FILE *f = fopen(path, "r");
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof(line), f))
        if (strstr(line, " error ")) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(buf, len, "%.500s", strstr(line, " error ") + 7);
            found = 1;
        }
    fclose(f);
    return found;
}

static int run_child(struct bench_counters *c, const char *dir, volatile sig_atomic_t *stop,
                     char *err, size_t errlen)
{
    char tail[LOG_TAIL + 1];
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "callgrind: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        exec_child(c, dir);
    int st, killed = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "callgrind: waitpid: %s", strerror(errno));
            return -1;
        }
        if (stop && *stop && !killed) {
            kill(pid, SIGTERM); /* our own child: valgrind */
            killed = 1;
        }
    }
    if (killed || (stop && *stop)) {
        snprintf(err, errlen, "callgrind: interrupted");
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (child_error(dir, tail, sizeof(tail))) {
            snprintf(err, errlen, "callgrind: the layer under valgrind: %s", tail);
            return -1;
        }
        log_tail(dir, tail, sizeof(tail));
        snprintf(err, errlen, "callgrind: valgrind %s %d; its log ends: %s",
                 WIFEXITED(st) ? "exited with" : "killed by signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), tail);
        return -1;
    }
    return 0;
}

static int read_stats(struct bench_counters *c, const char *dir, struct bench_cg_result *res,
                      size_t n, char *err, size_t errlen)
{
    char path[PATH_MAX + 32], line[1024];
    snprintf(path, sizeof(path), "%s/stats", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "callgrind: the child wrote no %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        size_t i;
        unsigned long long v[5];
        char word[16];
        int extra;
        if (sscanf(line, "threads %d", &extra) == 1) {
            for (size_t k = 0; k < n; k++)
                res[k].extra_threads = extra;
            continue;
        }
        if (!strncmp(line, "corename ", 9)) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(c->cg_corename, sizeof(c->cg_corename), "%.63s", line + 9);
            continue;
        }
        if (sscanf(line, "point %zu %15s %llu %llu %llu %llu %llu", &i, word, &v[0], &v[1], &v[2],
                   &v[3], &v[4]) >= 2 &&
            i < n) {
            if (strcmp(word, "ok")) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(err, errlen, "callgrind: the child: %s", line);
                fclose(f);
                return -1;
            }
            res[i].st = (struct layer_stats){v[0], v[1], v[2], v[3], v[4]};
            res[i].ok |= 2;
        }
    }
    fclose(f);
    return 0;
}

static int geometry_ok(const struct bench_cg_dump *d, char *err, size_t errlen)
{
    if (!strcmp(d->ll, BENCH_CG_LL_DESC) && !strcmp(d->i1, BENCH_CG_L1_DESC) &&
        !strcmp(d->d1, BENCH_CG_L1_DESC))
        return 1;
    snprintf(err, errlen,
             "callgrind: dump '%s' simulated LL '%s', I1 '%s', D1 '%s', not the pinned LL %s, "
             "L1 %s",
             d->label, d->ll, d->i1, d->d1, BENCH_CG_LL_DESC, BENCH_CG_L1_DESC);
    return 0;
}

static int read_dumps(const char *dir, struct bench_cg_result *res, size_t n, char *err,
                      size_t errlen)
{
    char path[PATH_MAX + 32];
    size_t len, nd = 0;
    int rc = -1;
    snprintf(path, sizeof(path), "%s/callgrind.out", dir);
    char *text = bench_read_file(path, &len);
    struct bench_cg_dump *d = calloc(n + 4, sizeof(*d));
    if (!text || !d) {
        snprintf(err, errlen, "callgrind: %s: %s", path, text ? "out of memory" : strerror(errno));
        goto out_free;
    }
    if (bench_cg_parse(path, text, len, d, n + 4, &nd, err, errlen))
        goto out_free;
    for (size_t k = 0; k < nd; k++) {
        size_t i;
        struct bench_cg_counts cc;
        if (!d[k].client_request || sscanf(d[k].label, "point %zu", &i) != 1 || i >= n)
            continue;
        if (!geometry_ok(&d[k], err, errlen) || bench_cg_counts(&d[k], &cc, err, errlen))
            goto out_free;
        res[i].instructions = cc.instructions;
        res[i].l1_misses = cc.l1_misses;
        res[i].ll_misses = cc.ll_misses;
        res[i].writebacks = cc.writebacks;
        res[i].dram_bytes_est = cc.dram_bytes_est;
        res[i].ok |= 1;
    }
    rc = 0;
out_free:
    free(d);
    free(text);
    return rc;
}

static void remove_dir(const char *dir)
{
    const char *files[] = {"plan", "stats", "callgrind.out", "valgrind.log", "sparsebench"};
    char path[PATH_MAX + 32];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int bench_callgrind_count(struct bench_counters *c, const struct layer_ops *ops,
                          const struct layer_config *cfg, int cold, const size_t *tokens, size_t n,
                          struct bench_cg_result *res, volatile sig_atomic_t *stop, char *err,
                          size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    const char *keep = getenv("SPARSEBENCH_CALLGRIND_KEEP");
    char dir[PATH_MAX], link[PATH_MAX + 16];
    double t0 = bench_now();
    int rc = -1;

    memset(res, 0, n * sizeof(*res));
    if (c->mode != BENCH_COUNTERS_CALLGRIND) {
        snprintf(err, errlen, "callgrind: not the counter mode of this run");
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s/sparsebench-cg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "callgrind: mkdtemp %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(link, sizeof(link), "%s/sparsebench", dir);
    if (write_plan(dir, ops, cfg, cold, tokens, n) || symlink(c->cg_exe, link)) {
        snprintf(err, errlen, "callgrind: writing %s: %s", dir, strerror(errno));
        goto out_remove;
    }
    if (run_child(c, dir, stop, err, errlen) || read_stats(c, dir, res, n, err, errlen) ||
        read_dumps(dir, res, n, err, errlen))
        goto out_remove;
    for (size_t i = 0; i < n; i++)
        if (res[i].ok != 3) {
            snprintf(err, errlen, "callgrind: no %s for point %zu (T=%zu)",
                     res[i].ok & 1 ? "stats" : "dump", i, tokens[i]);
            goto out_remove;
        }
    for (size_t i = 0; i < n; i++)
        res[i].ok = 1;
    rc = 0;
out_remove:
    c->cg_seconds += bench_now() - t0;
    c->cg_points += rc == 0 ? n : 0;
    if (keep && *keep && strcmp(keep, "0"))
        fprintf(stderr, "callgrind: kept %s (callgrind_annotate %s/callgrind.out)\n", dir, dir);
    else
        remove_dir(dir);
    return rc;
}

void bench_callgrind_fill(const struct bench_cg_result *r, struct bench_row *row)
{
    if (!r->ok || strcmp(row->status, "ok"))
        return;
    snprintf(row->counter_source, sizeof(row->counter_source), "callgrind");
    row->counter_threads = 1;
    row->instructions = r->instructions;
    row->l1_misses = r->l1_misses;
    row->ll_misses = r->ll_misses;
    row->dram_bytes_est = r->dram_bytes_est;
    if (r->extra_threads)
        bench_row_note(row,
                       "callgrind: the layer started %d thread(s) of its own at threads=1; their "
                       "work is not counted",
                       r->extra_threads);
    if (r->st.dense_bytes != row->st.dense_bytes || r->st.sparse_bytes != row->st.sparse_bytes)
        bench_row_note(
            row,
            "callgrind's forward read %llu + %llu parameter bytes, the checked one "
            "%llu + %llu",
            (unsigned long long)r->st.dense_bytes, (unsigned long long)r->st.sparse_bytes,
            (unsigned long long)row->st.dense_bytes, (unsigned long long)row->st.sparse_bytes);
}
