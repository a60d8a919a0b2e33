/* plot.h - the plots of a finished run (plot.c runs scripts/plot.sh). */
#ifndef SPARSEBENCH_PLOT_H
#define SPARSEBENCH_PLOT_H

#include <stddef.h>

/* Run scripts/plot.sh on a run directory (found next to the executable,
 * or $SPARSEBENCH_PLOT). Returns 0 or -1 with err filled. */
int bench_plot(const char *dir, char *err, size_t errlen);

#endif
