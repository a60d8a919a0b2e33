/* check_reliability.c - the README's promises about bad input, damaged
 * files, full disks and memory limits, held against the real program
 * (issue 15):
 *  - tests/data/bad_input.txt: a table of command lines, each with the exit
 *    status it must get and a fragment its message must contain, run as
 *    build/sparsebench (SPARSEBENCH_BIN overrides) in a directory of
 *    prepared files (a FIFO, a NUL byte, damaged results.csv files, a fake
 *    cgroup); no case may hang (each gets CASE_TIMEOUT_S seconds);
 *  - a results.csv left empty by a failed start blocks neither a new run
 *    nor --resume;
 *  - on a full disk (a small tmpfs, when this machine lets us mount one) a
 *    sweep fails saying so and leaves no empty results.csv, and a redraw
 *    of the plots fails without touching the good PNGs.
 * Tests run from the repository root (make test), in Check's fork mode. */
#include "test_util.h"
#include "../bench/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CASE_TIMEOUT_S 30
#define MIN_CASES      80
#define MAX_ARGS       48

static char g_dir[64];
static char g_bin[4096];

/* The full-disk test's tmpfs, unmounted before tu_tmpdir's removal (atexit
 * runs last-registered first). */
static void unmount_full(void)
{
    char cmd[128];
    /* Nothing mounted is the usual case, not an error. */
    snprintf(cmd, sizeof(cmd), "umount -q '%s/full' 2>/dev/null || true", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not run umount for %s/full\n", g_dir);
}

static void make_dir(void)
{
    static const char *const rel[] = {"/../sparsebench"};
    tu_tmpdir(g_dir, sizeof(g_dir), "rel");
    atexit(unmount_full);
    ck_assert_msg(bench_find_beside_exe("SPARSEBENCH_BIN", rel, 1, g_bin, sizeof(g_bin)) == 0,
                  "no sparsebench beside the test binary (set SPARSEBENCH_BIN)");
}

static void put(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void puts_file(const char *name, const char *text)
{
    put(name, text, strlen(text));
}

/* One results.csv row in the columns `sparsebench schema` lists, every
 * cell plausible; `col` (if not NULL) gets `val` instead. */
static const char *const header_cols[] = {
    "slot",    "impl",   "d_model",           "scale",  "batch",
    "seq_len", "tokens", "threads",           "seed",   "cache",
    "repeat",  "status", "latency_us_median", "wall_s", "create_s"};
static const char *const header_vals[] = {"dense", "dense", "16", "1",  "1",  "1",   "1",  "1",
                                          "1",     "cold",  "1",  "ok", "10", "0.5", "0.1"};

static char *csv_text(const char *const *rows_col, const char *const *rows_val, size_t nrows)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "'%s' schema", g_bin);
    FILE *p = popen(cmd, "r");
    char line[1024], names[128][48];
    size_t n = 0;
    ck_assert_ptr_nonnull(p);
    while (fgets(line, sizeof(line), p) && n < 128) /* "| `name` | unit | ..." rows */
        if (sscanf(line, "| `%47[a-z0-9_]` |", names[n]) == 1)
            n++;
    pclose(p);
    ck_assert_uint_gt(n, 20);
    for (size_t i = 0; i < n; i++)
        fprintf(m, "%s%s", i ? "," : "", names[i]);
    fputc('\n', m);
    for (size_t r = 0; r < nrows; r++) {
        for (size_t i = 0; i < n; i++) {
            const char *v = "NA";
            if (!strcmp(names[i], "knobs") || !strcmp(names[i], "note"))
                v = "";
            for (size_t k = 0; k < sizeof(header_cols) / sizeof(header_cols[0]); k++)
                if (!strcmp(names[i], header_cols[k]))
                    v = header_vals[k];
            if (rows_col[r] && !strcmp(names[i], rows_col[r]))
                v = rows_val[r];
            fprintf(m, "%s%s", i ? "," : "", v);
        }
        fputc('\n', m);
    }
    fclose(m);
    return buf;
}

/* A run directory whose results.csv has the given rows. */
static void put_run(const char *name, const char *const *cols, const char *const *vals, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof(path), "%s/results.csv", name);
    char *text = csv_text(cols, vals, n);
    puts_file(path, text);
    free(text);
}

static void put_csv(const char *name, const char *col, const char *val)
{
    const char *cols[1] = {col}, *vals[1] = {val};
    char *text = csv_text(cols, vals, 1);
    puts_file(name, text);
    free(text);
}

/* Everything the cases name as {T}/...: see tests/data/bad_input.txt. */
static void make_fixtures(void)
{
    char path[256];
    static const char nul[] = "impls = dense\n\0d_model = 16\n";
    puts_file("good.sweep", "d_model = 16\nseq_len = 1 2 4\nthreads = 1\n[dense]\n");
    put("nul.sweep", nul, sizeof(nul) - 1);
    puts_file("tokens.sweep", "batch = 1048576\nseq_len = 2\n[dense]\n");
    puts_file("tokens_huge.sweep", "batch = 1000000\nseq_len = 1000000\n[dense]\n");
    puts_file("plain.txt", "not a directory\n");
    puts_file("empty.sweep", "");
    puts_file("knobs_commas.sweep", "[dense:,,]\n");
    puts_file("bool_yes.sweep", "[dense:bias=yes]\n");
    puts_file("commas_list.sweep", "[dense]\nscale = ,\n");
    snprintf(path, sizeof(path), "%s/fifo", g_dir);
    ck_assert_int_eq(mkfifo(path, 0666), 0);
    snprintf(path, sizeof(path), "%s/huge.sweep", g_dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0666); /* sparse: 65 MiB of holes */
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 65 << 20), 0);
    close(fd);
    snprintf(path, sizeof(path), "%s/adir", g_dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof(path), "%s/rodir", g_dir);
    ck_assert_int_eq(mkdir(path, 0555), 0);

    /* --estimate-from: one bad cell each */
    put_csv("est_text.csv", "wall_s", "fast");
    put_csv("est_neg.csv", "wall_s", "-3");
    put_csv("est_inf.csv", "wall_s", "inf");
    put_csv("est_nan.csv", "wall_s", "nan");
    put_csv("est_huge.csv", "wall_s", "1e300");
    put_csv("est_big.csv", "wall_s", "9e9");
    put_csv("est_create.csv", "create_s", "x");
    put_csv("est_d.csv", "d_model", "sixteen");
    put_csv("est_cache.csv", "cache", "tepid");
    static const char est_nul[] = "slot,wall_s\ndense,0.5\0\n";
    put("est_nul.csv", est_nul, sizeof(est_nul) - 1);
    puts_file("est_nocol.csv", "slot,impl\ndense,dense\n");
    puts_file("est_badcsv.csv", "a,b\n\"x\"y,1\n2,3\n");

    /* --resume: one damage each */
    const char *two_c[2] = {NULL, NULL}, *two_v[2] = {NULL, NULL};
    put_run("res_dup", two_c, two_v, 2);
    const char *c1[1], *v1[1];
    c1[0] = "latency_us_median", v1[0] = "fast";
    put_run("res_lat", c1, v1, 1);
    c1[0] = "latency_us_median", v1[0] = "nan";
    put_run("res_nan", c1, v1, 1);
    c1[0] = "wall_s", v1[0] = "-1";
    put_run("res_neg", c1, v1, 1);
    c1[0] = "slot", v1[0] = "a|b";
    put_run("res_slot", c1, v1, 1);
    c1[0] = "slot", v1[0] = "";
    put_run("res_emptyslot", c1, v1, 1);
    c1[0] = "d_model", v1[0] = "NA";
    put_run("res_dna", c1, v1, 1);
    c1[0] = "seed", v1[0] = "1x";
    put_run("res_seed", c1, v1, 1);
    c1[0] = "status", v1[0] = "fine";
    put_run("res_status", c1, v1, 1);
    c1[0] = "cache", v1[0] = "hot";
    put_run("res_cache", c1, v1, 1);
    c1[0] = "repeat", v1[0] = "99999999999999999999999";
    put_run("res_repeat", c1, v1, 1);
    snprintf(path, sizeof(path), "%s/res_nul", g_dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    char *text = csv_text(two_c, two_v, 1);
    text[strlen(text) - 3] = '\0'; /* a NUL inside the last row's note/knobs */
    put("res_nul/results.csv", text, strlen(text) + 3);
    free(text);
    snprintf(path, sizeof(path), "%s/res_cols", g_dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    puts_file("res_cols/results.csv", "slot,impl\ndense,dense\n");
    snprintf(path, sizeof(path), "%s/res_none", g_dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);

    /* fake cgroups: v1 with 200 MB left, v2 (nested) with 100 MB */
    snprintf(path, sizeof(path), "%s/cg1/memory", g_dir);
    ck_assert_int_eq(bench_mkdir_p(path), 0);
    puts_file("cg1/memory/memory.limit_in_bytes", "1200000000\n");
    puts_file("cg1/memory/memory.usage_in_bytes", "1000000000\n");
    puts_file("cg1/self", "4:memory:/docker/abc\n0::/\n");
    snprintf(path, sizeof(path), "%s/cg2/a/b", g_dir);
    ck_assert_int_eq(bench_mkdir_p(path), 0);
    puts_file("cg2/a/b/memory.max", "100000000\n");
    puts_file("cg2/a/b/memory.current", "0\n");
    puts_file("cg2/self", "0::/a/b\n");
}

/* Replace every {T} in s by the fixture directory. */
static void expand(const char *s, char *out, size_t len)
{
    size_t used = 0;
    while (*s && used + 1 < len) {
        if (!strncmp(s, "{T}", 3)) {
            used += (size_t)snprintf(out + used, len - used, "%s", g_dir);
            s += 3;
        } else {
            out[used++] = *s++;
        }
    }
    out[used < len ? used : len - 1] = '\0';
}

/* Run the program with argv (and env assignments), the output into buf.
 * Returns the exit status, 128 + signal, or -1 after a timeout (killed). */
static int run_case(char **env, size_t nenv, char **argv, char *buf, size_t len)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        if (chdir(g_dir))
            _exit(125);
        for (size_t i = 0; i < nenv; i++)
            putenv(env[i]);
        execv(g_bin, argv);
        _exit(126);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    size_t used = 0;
    int st = 0, done = 0;
    time_t t0 = time(NULL);
    while (!done) {
        ssize_t r = read(fds[0], buf + used, len - 1 - used);
        if (r > 0) {
            used += (size_t)r;
            if (used == len - 1)
                used = 0; /* keep reading; the tail is what matters */
            continue;
        }
        if (waitpid(pid, &st, WNOHANG) == pid) {
            done = 1;
            break;
        }
        if (time(NULL) - t0 > CASE_TIMEOUT_S) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            close(fds[0]);
            buf[used] = '\0';
            return -1;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    ssize_t r;
    while ((r = read(fds[0], buf + used, len - 1 - used)) > 0)
        used += (size_t)r;
    close(fds[0]);
    buf[used] = '\0';
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

START_TEST(test_bad_inputs)
{
    make_dir();
    make_fixtures();
    FILE *f = fopen("tests/data/bad_input.txt", "r");
    ck_assert_msg(f != NULL, "tests/data/bad_input.txt: %s", strerror(errno));
    char line[2048], out[16384];
    size_t n = 0, bad = 0, skipped = 0, lineno = 0;
    int root = geteuid() == 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *b1 = strchr(s, '|'), *b2 = b1 ? strchr(b1 + 1, '|') : NULL;
        ck_assert_msg(b2 != NULL, "bad_input.txt:%zu: want EXIT | FRAGMENT | COMMAND", lineno);
        *b1 = *b2 = '\0';
        char *code = trim(s), *frag = trim(b1 + 1), *cmd = trim(b2 + 1);
        int want_root_free = code[0] == '!'; /* permissions: root ignores them */
        if (want_root_free && root) {
            skipped++;
            continue;
        }
        int want = atoi(code + want_root_free);
        char expanded[4096], want_frag[1024], *argv[MAX_ARGS + 2], *env[8];
        size_t argc = 0, nenv = 0;
        expand(cmd, expanded, sizeof(expanded));
        expand(frag, want_frag, sizeof(want_frag));
        frag = want_frag;
        argv[argc++] = g_bin;
        for (char *tok = strtok(expanded, " \t"); tok; tok = strtok(NULL, " \t")) {
            if (!strcmp(tok, "''"))
                tok[0] = '\0';
            if (argc == 1 && nenv < 8 && strchr(tok, '=') && tok[0] != '-') {
                env[nenv++] = tok;
                continue;
            }
            ck_assert_msg(argc <= MAX_ARGS, "bad_input.txt:%zu: too many arguments", lineno);
            argv[argc++] = tok;
        }
        argv[argc] = NULL;
        int rc = run_case(env, nenv, argv, out, sizeof(out));
        n++;
        if (rc != want || !strstr(out, frag)) {
            bad++;
            fprintf(stderr,
                    "bad_input.txt:%zu: %s\n  want exit %d and \"%s\", got %s %d:\n%.2000s\n",
                    lineno, cmd, want, frag, rc < 0 ? "a hang, killed after" : "exit",
                    rc < 0 ? CASE_TIMEOUT_S : rc, out);
        }
    }
    fclose(f);
    fprintf(stderr,
            "bad input: %zu cases, %zu failed, %zu skipped (running as root: permissions "
            "do not apply)\n",
            n, bad, skipped);
    ck_assert_uint_eq(bad, 0);
    ck_assert_uint_ge(n + skipped, MIN_CASES);
}
END_TEST

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static off_t file_size(const char *fmt, const char *a)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), fmt, g_dir, a);
    return stat(path, &st) ? -1 : st.st_size;
}

/* A 0-byte results.csv (a start that failed before its header) blocks
 * neither a new run into that directory nor --resume. */
START_TEST(test_empty_results_not_blocking)
{
    make_dir();
    make_fixtures();
    const char *q = "--no-probe --no-plot >/dev/null 2>&1";
    ck_assert_int_eq(sh("mkdir -p %s/e1 %s/e2 && : >%s/e1/results.csv && : >%s/e2/results.csv",
                        g_dir, g_dir, g_dir, g_dir),
                     0);
    ck_assert_int_eq(sh("cd %s && '%s' sweep good.sweep --out e1 %s", g_dir, g_bin, q), 0);
    ck_assert_int_eq(sh("cd %s && '%s' sweep good.sweep --out e2 --resume %s", g_dir, g_bin, q), 0);
    for (int i = 1; i <= 2; i++) {
        char name[8];
        snprintf(name, sizeof(name), "e%d", i);
        ck_assert_int_eq(sh("test $(wc -l <%s/%s/results.csv) -eq 4", g_dir, name), 0);
    }
}
END_TEST

/* Mount a tmpfs of `kib` KiB at DIR/full; 0, or -1 (the test then says why and skips). */
static int mount_small(int kib, char *why, size_t len)
{
    char path[256], opt[32];
    snprintf(path, sizeof(path), "%s/full", g_dir);
    snprintf(opt, sizeof(opt), "size=%dk", kib);
    if (mkdir(path, 0777) && errno != EEXIST) {
        snprintf(why, len, "mkdir %.100s: %s", path, strerror(errno));
        return -1;
    }
    if (mount("tmpfs", path, "tmpfs", 0, opt)) {
        snprintf(why, len, "cannot mount a tmpfs here (%s): needs root or CAP_SYS_ADMIN",
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* A full disk: a fresh sweep fails saying so and leaves no empty
 * results.csv; a redraw of a finished run's plots fails (exit != 0) and
 * leaves every good PNG as it was. */
START_TEST(test_full_disk)
{
    char why[256];
    make_dir();
    make_fixtures();
    if (mount_small(4096, why, sizeof(why))) {
        fprintf(stderr, "full disk: skipped: %s\n", why);
        return;
    }
    /* a finished run with its plots, on the ordinary disk, then copied in */
    ck_assert_int_eq(
        sh("cd %s && '%s' sweep good.sweep --out run --no-probe >/dev/null 2>&1", g_dir, g_bin), 0);
    ck_assert_int_gt(file_size("%s/run/%s", "latency_vs_tokens.png"), 0);
    ck_assert_int_eq(sh("cp -r %s/run %s/full/run && cd %s/full/run && md5sum *.png >../png.md5",
                        g_dir, g_dir, g_dir),
                     0);
    /* fill it: dd stops at ENOSPC */
    sh("dd if=/dev/zero of=%s/full/filler bs=4k >/dev/null 2>&1", g_dir);
    ck_assert_int_ne(sh("scripts/plot.sh %s/full/run >%s/plot.log 2>&1", g_dir, g_dir), 0);
    ck_assert_int_eq(sh("cd %s/full/run && md5sum -c --quiet ../png.md5", g_dir), 0);
    ck_assert_int_eq(sh("! grep -q '^plots:' %s/plot.log", g_dir), 0);
    ck_assert_int_eq(sh("ls %s/full/run | grep -c tmp | grep -qx 0", g_dir), 0);
    /* a new run into the full disk: fails, says so, leaves no empty results.csv */
    int rc = sh("cd %s && '%s' sweep good.sweep --out full/new --no-probe >%s/new.log 2>&1", g_dir,
                g_bin, g_dir);
    ck_assert_int_ne(rc, 0);
    off_t sz = file_size("%s/full/new/%s", "results.csv");
    ck_assert_msg(sz != 0, "a full disk left an empty results.csv");
    ck_assert_int_eq(sh("grep -qiE 'space|writing|failed' %s/new.log", g_dir), 0);
    /* and with room again, the same command runs */
    ck_assert_int_eq(sh("rm -f %s/full/filler", g_dir), 0);
    ck_assert_int_eq(sh("cd %s && '%s' sweep good.sweep --out full/new --no-probe --no-plot "
                        ">/dev/null 2>&1 || '%s' sweep good.sweep --out full/new --resume "
                        "--no-probe --no-plot >/dev/null 2>&1",
                        g_dir, g_bin, g_bin),
                     0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reliability");
    TCase *tc = tcase_create("bad input");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_bad_inputs);
    suite_add_tcase(s, tc);
    TCase *fs = tcase_create("files");
    tcase_set_timeout(fs, 300);
    tcase_add_test(fs, test_empty_results_not_blocking);
    tcase_add_test(fs, test_full_disk);
    suite_add_tcase(s, fs);
    return tu_run_suite(s);
}
