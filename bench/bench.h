/* bench.h - (being split) the harness's remaining sections. */
#ifndef SPARSEBENCH_BENCH_H
#define SPARSEBENCH_BENCH_H

#include "cli.h"
#include "sweep/sweep.h"
#include "counters/callgrind.h"
#include "counters/cgparse.h"
#include "counters/counters.h"
#include "counters/papi.h"
#include "meta.h"
#include "measure.h"
#include "plot.h"
#include "probe.h"
#include "row.h"
#include "stats.h"
#include "table.h"
#include "util.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#endif
