/* plot.c - hand a finished run directory to scripts/plot.sh (gnuplot).
 *
 * The script is looked up as $SPARSEBENCH_PLOT, then next to the executable
 * (build/sparsebench -> scripts/plot.sh, also from build/san/), then in the
 * current directory. It runs as a child process with the directory as its
 * only argument: no shell, so no quoting trouble.
 */
#include "bench.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int find_script(char *buf, size_t len)
{
    const char *env = getenv("SPARSEBENCH_PLOT");
    char exe[PATH_MAX];
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return access(buf, X_OK);
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *dir = dirname(exe);
        const char *ups[] = {"/../scripts/plot.sh", "/../../scripts/plot.sh"};
        for (size_t i = 0; i < 2; i++) {
            snprintf(buf, len, "%s%s", dir, ups[i]);
            if (access(buf, X_OK) == 0)
                return 0;
        }
    }
    snprintf(buf, len, "scripts/plot.sh");
    return access(buf, X_OK);
}

int bench_plot(const char *dir, char *err, size_t errlen)
{
    char script[PATH_MAX];
    if (find_script(script, sizeof(script))) {
        snprintf(err, errlen, "scripts/plot.sh not found (set SPARSEBENCH_PLOT)");
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        execl(script, script, dir, (char *)NULL);
        fprintf(stderr, "sparsebench: cannot run %s: %s\n", script, strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid: %s", strerror(errno));
            return -1;
        }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "%s %s failed (status %d)", script, dir,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return -1;
    }
    return 0;
}
