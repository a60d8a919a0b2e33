/* plot.c - hand a finished run directory to scripts/plot.sh (gnuplot).
 *
 * The script is looked up as $SPARSEBENCH_PLOT, then next to the executable
 * (build/sparsebench -> scripts/plot.sh, also from build/san/), then in the
 * current directory. It runs as a child process with the directory as its
 * only argument: no shell, so no quoting trouble.
 */
#include "plot.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* scripts/plot.sh of the checkout build/ (or build/tests/) sits in, else
 * of the working directory. */
static int find_script(char *buf, size_t len)
{
    static const char *const ups[] = {"/../scripts/plot.sh", "/../../scripts/plot.sh"};
    const char *env = getenv("SPARSEBENCH_PLOT");
    int rc = bench_find_beside_exe("SPARSEBENCH_PLOT", ups, 2, buf, len);
    if (rc == 0 || (env && *env))
        return rc; /* found, or the override names nothing runnable: no fallback */
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
