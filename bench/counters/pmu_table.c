/* pmu_table.c - which events fill the hardware counter columns on which
 * CPU: one row per family, chosen at run time by the core PMU libpfm4
 * detects (pmu.c); each column's choices in order of preference, the first
 * whose events all count wins (papi.c); a column with no choice says why.
 *
 * What the columns mean everywhere (reports/SCHEMA.md):
 *   cycles, instructions  core cycles (not halted) and instructions retired
 *   l1_misses             L1 data-cache misses: lines filled into the L1D
 *   ll_misses             last-level cache misses (the LLC, or the nearest)
 *   dram_bytes_est        bytes moved to and from DRAM
 * Core events count the calling thread only (counter_threads = 1); memory
 * controller events ("kernel:" and *_unc_imc*) count the whole socket: every
 * thread of the layer, and every other process.
 *
 * Sources. libpfm4 names are from its event tables, lib/events/<file>.h,
 * read at github.com/wcohen/libpfm4 91970fe (= Debian trixie's 4.13.0+git83;
 * bookworm's 4.13.0 lacks adl_*, emr, icx/spr uncore and Zen 5, so there
 * those rows fall back to the kernel's events or the estimates). Kernel
 * events are from linux arch/x86/events/intel/uncore_snbep.c, uncore_snb.c,
 * arch/x86/events/amd/uncore.c and the JSON files of tools/perf/pmu-events/
 * arch/x86/amdzen3, amdzen4, amdzen5. Every libpfm4 name here is encoded under
 * LIBPFM_FORCE_PMU by tests/check_pmu.c, and each raw kernel choice is
 * compared with its libpfm4 twin, wherever the installed libpfm4 has the
 * PMU.
 *
 * Left out: Granite Rapids (other IMC events: the kernel's cas_count_*_sch0/1),
 * AMD before Zen 3, Arm system caches and memory controllers (CMN and DMC
 * PMUs differ per SoC), Zen 3's L3 PMU (core fills already count this
 * thread's L3 misses).
 */
#include "pmu.h"

#include <string.h>

#define CAS  64 /* bytes per memory-controller CAS command: one 64-byte line */
#define LINE 64 /* bytes per cache line on every CPU below */

#define PFM(ev, file)                                                                              \
    {                                                                                              \
        .events = ev, .src = "libpfm4 lib/events/" file                                            \
    }
#define LLC_EST(ev, file)                                                                          \
    {                                                                                              \
        .events = ev, .scale = LINE,                                                               \
        .how = "64 B x last-level misses of this thread: no write-backs, no L3 prefetches",        \
        .src = "libpfm4 lib/events/" file                                                          \
    }

/* Intel server memory controllers: CAS commands of every socket, as raw
 * fields that libpfm4 encodes UNC_M_CAS_COUNT:RD and :WR to (event 0x04 on
 * SKX and ICX, 0x05 on SPR); then libpfm4's own names, socket 0 only. */
#define INTEL_IMC(ev, rd, wr, pfm)                                                                 \
    {                                                                                              \
        .events = "kernel:uncore_imc_*/event=" ev ",umask=" rd "/+"                                \
                  "kernel:uncore_imc_*/event=" ev ",umask=" wr "/",                                \
        .scale = CAS,                                                                              \
        .src = "linux arch/x86/events/intel/uncore_snbep.c: cas_count_read, cas_count_write",      \
        .twin = pfm "0::UNC_M_CAS_COUNT:RD+" pfm "0::UNC_M_CAS_COUNT:WR"                           \
    }
#define INTEL_IMC_PFM(pfm, file)                                                                   \
    {                                                                                              \
        .events = pfm "*::UNC_M_CAS_COUNT:RD:cpu=0+" pfm "*::UNC_M_CAS_COUNT:WR:cpu=0",            \
        .scale = CAS,                                                                              \
        .how = "socket 0's memory controllers only: exact on one socket, "                         \
               "less on more",                                                                     \
        .src = "libpfm4 lib/events/" file                                                          \
    }
/* Intel client memory controllers: free-running read and write counters of
 * the whole package (cores, graphics, I/O) in 64-byte units, named events
 * whose .scale and .unit make bytes. */
#define INTEL_CLIENT_IMC                                                                           \
    {.events = "kernel:uncore_imc/data_reads/+kernel:uncore_imc/data_writes/",                     \
     .src = "linux arch/x86/events/intel/uncore_snb.c: snb_uncore_imc_events (Sandy Bridge .. "    \
            "Rocket Lake)"},                                                                       \
    {                                                                                              \
        .events = "kernel:uncore_imc_free_running_*/data_read/+"                                   \
                  "kernel:uncore_imc_free_running_*/data_write/",                                  \
        .src = "linux arch/x86/events/intel/uncore_snb.c: tgl_uncore_imc_events (Tiger Lake and "  \
               "later)"                                                                            \
    }

#define ADL_SRC  "libpfm4 lib/events/intel_adl_glc_events.h, intel_adl_grt_events.h"
#define ADL_LLC  "adl_glc::LONGEST_LAT_CACHE:MISS+adl_grt::LONGEST_LAT_CACHE:MISS"
#define NEOVERSE "arm_neoverse_{n1,n2,v1,v2}_events.h"

const char *const pmu_col_name[PMU_NCOLS] = {
    [PMU_CYCLES] = "cycles", [PMU_INSTRUCTIONS] = "instructions", [PMU_L1] = "l1_misses",
    [PMU_LL] = "ll_misses",  [PMU_DRAM] = "dram_bytes_est",
};

/* Zen 3, 4 and 5 name the fill sources differently (ANY_DATA_CACHE_FILLS_
 * FROM_SYSTEM's unit masks): all of them are L1D misses; those from beyond
 * the CCX missed the L3. L2 prefetches that miss the L3 fill only the L2. */
#define FILLS    "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:"
#define ZEN3_ALL "LCL_L2:INT_CACHE:EXT_CACHE_LCL:MEM_IO_LCL:EXT_CACHE_RMT:MEM_IO_RMT"
#define ZEN3_FAR "EXT_CACHE_LCL:MEM_IO_LCL:EXT_CACHE_RMT:MEM_IO_RMT"
#define ZEN3_PF  "L2_PREFETCH_MISS_L3:L2_HW_PREFETCHER:L1_HW_PREFETCHER"
#define ZEN4_FAR "NEAR_CACHE_NEAR_FAR:DRAM_IO_NEAR:FAR_CACHE_NEAR_FAR:DRAM_IO_FAR:ALT_MEM_NEAR_FAR"
#define ZEN4_PF                                                                                    \
    "L2_PREFETCH_MISS_L3:L2_STREAM:L2_NEXT_LINE:L2_UP_DOWN:L2_BURST:L2_STRIDE:L1_STREAM:"          \
    "L1_STRIDE:L1_REGION"
#define ZEN5_FAR "NEAR_FAR_CACHE_NEAR:DRAM_IO_NEAR:NEAR_FAR_CACHE_FAR:DRAM_IO_FAR:ALT_MEM_NEAR_FAR"
#define ZEN_FILLS_EST                                                                              \
    "64 B x lines this thread filled from DRAM: L1D fills and L2 prefetches that missed the L3, "  \
    "no write-backs"
#define ZEN_FILLS_SRC(file)                                                                        \
    "libpfm4 lib/events/" file ": ANY_DATA_CACHE_FILLS_FROM_SYSTEM, L2_PREFETCH_MISS_L3"
#define AMD_UMC                                                                                    \
    {                                                                                              \
        .events = "kernel:amd_umc_*/event=0x0a/", .scale = CAS,                                    \
        .src = "linux tools/perf/pmu-events/arch/x86/amdzen4 and amdzen5/memory-controller.json: " \
               "umc_cas_cmd.all"                                                                   \
    }
/* Zen 3's data fabric: requests with data to DRAM channels 0-7 (events
 * 0x07 + 0x40 x channel); eight events on four counters, so the kernel
 * multiplexes them and papi.c scales by time enabled over time running. */
#define ZEN3_DF                                                                                    \
    {                                                                                              \
        .events = "kernel:amd_df/event=0x07,umask=0x38/+kernel:amd_df/event=0x47,umask=0x38/+"     \
                  "kernel:amd_df/event=0x87,umask=0x38/+kernel:amd_df/event=0xc7,umask=0x38/+"     \
                  "kernel:amd_df/event=0x107,umask=0x38/+kernel:amd_df/event=0x147,umask=0x38/+"   \
                  "kernel:amd_df/event=0x187,umask=0x38/+kernel:amd_df/event=0x1c7,umask=0x38/",   \
        .scale = LINE,                                                                             \
        .how = "64 B x data-fabric requests with data to the 8 DRAM channels, multiplexed on 4 "   \
               "counters and scaled",                                                              \
        .src = "linux tools/perf/pmu-events/arch/x86/amdzen3/data-fabric.json: "                   \
               "dram_channel_data_controller_0..7"                                                 \
    }

const struct pmu_family pmu_families[] = {
    {
        .name = "Intel Skylake-SP / Cascade Lake",
        .pmus = "skx clx",
        .col =
            {
                [PMU_CYCLES] = {PFM("CPU_CLK_THREAD_UNHALTED:THREAD_P", "intel_skl_events.h")},
                [PMU_INSTRUCTIONS] = {PFM("INST_RETIRED:ANY_P", "intel_skl_events.h")},
                [PMU_L1] = {PFM("L1D:REPLACEMENT", "intel_skl_events.h")},
                [PMU_LL] = {PFM("LONGEST_LAT_CACHE:MISS", "intel_skl_events.h")},
                [PMU_DRAM] = {INTEL_IMC("0x04", "0x03", "0x0c", "skx_unc_imc"),
                              INTEL_IMC_PFM("skx_unc_imc", "intel_skx_unc_imc_events.h"),
                              LLC_EST("LONGEST_LAT_CACHE:MISS", "intel_skl_events.h")},
            },
    },
    {
        .name = "Intel Ice Lake-SP",
        .pmus = "icx",
        .col =
            {
                [PMU_CYCLES] = {PFM("CPU_CLK_UNHALTED:THREAD_P", "intel_icl_events.h")},
                [PMU_INSTRUCTIONS] = {PFM("INST_RETIRED:ANY_P", "intel_icl_events.h")},
                [PMU_L1] = {PFM("L1D:REPLACEMENT", "intel_icl_events.h")},
                [PMU_LL] = {PFM("LONGEST_LAT_CACHE:MISS", "intel_icl_events.h")},
                [PMU_DRAM] = {INTEL_IMC("0x04", "0x0f", "0x30", "icx_unc_imc"),
                              INTEL_IMC_PFM("icx_unc_imc", "intel_icx_unc_imc_events.h"),
                              LLC_EST("LONGEST_LAT_CACHE:MISS", "intel_icl_events.h")},
            },
        .note = "the kernel's first ICX support (2b3b76b5ec67) named cas_count_* with SKX's "
                "unit masks, fixed by a later patch; the raw fields here do not depend on those "
                "names",
    },
    {
        .name = "Intel Sapphire Rapids / Emerald Rapids",
        .pmus = "spr emr",
        .col =
            {
                [PMU_CYCLES] = {PFM("CPU_CLK_UNHALTED:THREAD_P", "intel_spr_events.h")},
                [PMU_INSTRUCTIONS] = {PFM("INST_RETIRED:ANY_P", "intel_spr_events.h")},
                [PMU_L1] = {PFM("L1D:REPLACEMENT", "intel_spr_events.h")},
                [PMU_LL] = {PFM("LONGEST_LAT_CACHE:MISS", "intel_spr_events.h")},
                [PMU_DRAM] = {INTEL_IMC("0x05", "0xcf", "0xf0", "spr_unc_imc"),
                              INTEL_IMC_PFM("spr_unc_imc", "intel_spr_unc_imc_events.h"),
                              LLC_EST("LONGEST_LAT_CACHE:MISS", "intel_spr_events.h")},
            },
    },
    {
        .name = "Intel client Skylake .. Comet Lake",
        .pmus = "skl",
        .col =
            {
                [PMU_CYCLES] = {PFM("CPU_CLK_THREAD_UNHALTED:THREAD_P", "intel_skl_events.h")},
                [PMU_INSTRUCTIONS] = {PFM("INST_RETIRED:ANY_P", "intel_skl_events.h")},
                [PMU_L1] = {PFM("L1D:REPLACEMENT", "intel_skl_events.h")},
                [PMU_LL] = {PFM("LONGEST_LAT_CACHE:MISS", "intel_skl_events.h")},
                [PMU_DRAM] = {INTEL_CLIENT_IMC,
                              LLC_EST("LONGEST_LAT_CACHE:MISS", "intel_skl_events.h")},
            },
    },
    {
        .name = "Intel client Ice Lake / Tiger Lake / Rocket Lake",
        .pmus = "icl",
        .col =
            {
                [PMU_CYCLES] = {PFM("CPU_CLK_UNHALTED:THREAD_P", "intel_icl_events.h")},
                [PMU_INSTRUCTIONS] = {PFM("INST_RETIRED:ANY_P", "intel_icl_events.h")},
                [PMU_L1] = {PFM("L1D:REPLACEMENT", "intel_icl_events.h")},
                [PMU_LL] = {PFM("LONGEST_LAT_CACHE:MISS", "intel_icl_events.h")},
                [PMU_DRAM] = {INTEL_CLIENT_IMC,
                              LLC_EST("LONGEST_LAT_CACHE:MISS", "intel_icl_events.h")},
            },
    },
    {
        /* Hybrid: a thread runs on either core type and each counts only
         * its own, so a column sums the P-core (Golden Cove) and the
         * E-core (Gracemont) event. */
        .name = "Intel client Alder Lake / Raptor Lake (hybrid)",
        .pmus = "adl_glc adl_grt",
        .col =
            {
                [PMU_CYCLES] = {{.events = "adl_glc::CPU_CLK_UNHALTED:THREAD_P+"
                                           "adl_grt::CPU_CLK_UNHALTED:CORE_P",
                                 .src = ADL_SRC}},
                [PMU_INSTRUCTIONS] = {{.events = "adl_glc::INST_RETIRED:ANY_P+"
                                                 "adl_grt::INST_RETIRED:ANY_P",
                                       .src = ADL_SRC}},
                [PMU_L1] = {{.events = "adl_glc::L1D:REPLACEMENT",
                             .how = "P-cores only: the E-cores have no L1D fill event, so this "
                                    "counts nothing while the thread runs on an E-core",
                             .src = "libpfm4 lib/events/intel_adl_glc_events.h"}},
                [PMU_LL] = {{.events = ADL_LLC, .src = ADL_SRC}},
                [PMU_DRAM] = {INTEL_CLIENT_IMC,
                              {.events = ADL_LLC,
                               .scale = LINE,
                               .how = "64 B x last-level misses of this thread: no write-backs, "
                                      "no L3 prefetches",
                               .src = ADL_SRC}},
            },
    },
    {
        /* What libpfm4 falls back to on an Intel CPU whose model it does
         * not know (e.g. Alder Lake with bookworm's 4.13.0). */
        .name = "Intel, model unknown to libpfm4 (architectural events)",
        .pmus = "ix86arch",
        .col =
            {
                [PMU_CYCLES] = {PFM("UNHALTED_CORE_CYCLES", "intel_x86_arch_events.h")},
                [PMU_INSTRUCTIONS] = {PFM("INSTRUCTION_RETIRED", "intel_x86_arch_events.h")},
                [PMU_LL] = {PFM("LLC_MISSES", "intel_x86_arch_events.h")},
                [PMU_DRAM] = {INTEL_CLIENT_IMC, LLC_EST("LLC_MISSES", "intel_x86_arch_events.h")},
            },
        .na = {[PMU_L1] = "Intel's architectural events have no L1 miss event"},
    },
    {
        .name = "AMD Zen 3 (EPYC Milan, Ryzen 5000)",
        .pmus = "amd64_fam19h_zen3",
        .col =
            {
                [PMU_CYCLES] = {PFM("CYCLES_NOT_IN_HALT", "amd64_events_fam19h_zen3.h")},
                [PMU_INSTRUCTIONS] = {PFM("RETIRED_INSTRUCTIONS", "amd64_events_fam19h_zen3.h")},
                [PMU_L1] = {PFM(FILLS ZEN3_ALL, "amd64_events_fam19h_zen3.h")},
                [PMU_LL] = {PFM(FILLS ZEN3_FAR "+" ZEN3_PF, "amd64_events_fam19h_zen3.h")},
                [PMU_DRAM] = {ZEN3_DF,
                              {.events = FILLS "MEM_IO_LCL:MEM_IO_RMT+" ZEN3_PF,
                               .scale = LINE,
                               .how = ZEN_FILLS_EST "; L2 prefetches filled from other CCXs "
                                                    "count too",
                               .src = ZEN_FILLS_SRC("amd64_events_fam19h_zen3.h")}},
            },
    },
    {
        .name = "AMD Zen 4 (EPYC Genoa, Ryzen 7000)",
        .pmus = "amd64_fam19h_zen4",
        .col =
            {
                [PMU_CYCLES] = {PFM("CYCLES_NOT_IN_HALT", "amd64_events_fam19h_zen4.h")},
                [PMU_INSTRUCTIONS] = {PFM("RETIRED_INSTRUCTIONS", "amd64_events_fam19h_zen4.h")},
                [PMU_L1] = {PFM(FILLS "LCL_L2:LOCAL_CCX:" ZEN4_FAR, "amd64_events_fam19h_zen4.h")},
                [PMU_LL] = {PFM(FILLS ZEN4_FAR "+" ZEN4_PF, "amd64_events_fam19h_zen4.h")},
                [PMU_DRAM] = {AMD_UMC,
                              {.events = FILLS "DRAM_IO_NEAR:DRAM_IO_FAR+" ZEN4_PF,
                               .scale = LINE,
                               .how = ZEN_FILLS_EST "; L2 prefetches filled from other CCXs "
                                                    "count too",
                               .src = ZEN_FILLS_SRC("amd64_events_fam19h_zen4.h")}},
            },
    },
    {
        .name = "AMD Zen 5 (EPYC Turin, Ryzen 9000)",
        .pmus = "amd64_fam1ah_zen5",
        .col =
            {
                [PMU_CYCLES] = {PFM("CYCLES_NOT_IN_HALT", "amd64_events_fam1ah_zen5.h")},
                [PMU_INSTRUCTIONS] = {PFM("RETIRED_INSTRUCTIONS", "amd64_events_fam1ah_zen5.h")},
                [PMU_L1] = {PFM(FILLS "LCL_L2:LOCAL_CCX:" ZEN5_FAR, "amd64_events_fam1ah_zen5.h")},
                [PMU_LL] = {PFM(FILLS ZEN5_FAR "+L2_PREFETCH_MISS_L3:" ZEN5_FAR,
                                "amd64_events_fam1ah_zen5.h")},
                [PMU_DRAM] = {AMD_UMC,
                              {.events = FILLS "DRAM_IO_NEAR:DRAM_IO_FAR+"
                                               "L2_PREFETCH_MISS_L3:DRAM_IO_NEAR:DRAM_IO_FAR",
                               .scale = LINE,
                               .how = ZEN_FILLS_EST,
                               .src = ZEN_FILLS_SRC("amd64_events_fam1ah_zen5.h")}},
            },
    },
    {
        /* MEM_ACCESS counts every load and store (L1 accesses, not
         * traffic) and BUS_ACCESS counts data beats of an unstated width
         * between the core and the interconnect: neither is a column. */
        .name = "Arm Neoverse N1 / N2 / V1 / V2",
        .pmus = "arm_n1 arm_n2 arm_v1 arm_v2",
        .col =
            {
                [PMU_CYCLES] = {PFM("CPU_CYCLES", NEOVERSE)},
                [PMU_INSTRUCTIONS] = {PFM("INST_RETIRED", NEOVERSE)},
                [PMU_L1] = {PFM("L1D_CACHE_REFILL", NEOVERSE)},
                [PMU_LL] = {PFM("LL_CACHE_MISS_RD", NEOVERSE),
                            {.events = "L2D_CACHE_REFILL",
                             .how = "misses of the core's private L2: the system cache does not "
                                    "report its misses here",
                             .src = "libpfm4 lib/events/" NEOVERSE}},
                [PMU_DRAM] = {{.events = "LL_CACHE_MISS_RD",
                               .scale = LINE,
                               .how = "64 B x reads that missed the system-level cache: no writes",
                               .src = "libpfm4 lib/events/" NEOVERSE},
                              {.events = "L2D_CACHE_REFILL+L2D_CACHE_WB",
                               .scale = LINE,
                               .how = "64 B x lines in and out of the core's private L2: an "
                                      "upper bound, system-cache hits included",
                               .src = "libpfm4 lib/events/" NEOVERSE}},
            },
        .note = "LL_CACHE_MISS_RD counts only where the interconnect reports system-cache misses; "
                "elsewhere it counts 0 and the next choice is taken",
    },
};
const size_t pmu_n_families = sizeof(pmu_families) / sizeof(pmu_families[0]);

/* The kernel maps these two to each CPU's own cycle and instruction events
 * (linux arch/x86/events/{intel,amd}/core.c, drivers/perf/arm_pmuv3.c);
 * every family takes them after its own choices. */
const struct pmu_family pmu_generic = {
    .name = "any CPU the kernel has a PMU driver for (generic events)",
    .pmus = "",
    .col =
        {
            [PMU_CYCLES] = {{.events = "perf::CYCLES",
                             .src = "libpfm4 lib/pfmlib_perf_event_pmu.c: "
                                    "PERF_COUNT_HW_CPU_CYCLES"}},
            [PMU_INSTRUCTIONS] = {{.events = "perf::INSTRUCTIONS",
                                   .src = "libpfm4 lib/pfmlib_perf_event_pmu.c: "
                                          "PERF_COUNT_HW_INSTRUCTIONS"}},
        },
    .na =
        {
            [PMU_L1] = "no table row for this CPU, and the kernel's generic cache events mean "
                       "different things per vendor",
            [PMU_LL] = "no table row for this CPU, and the kernel's generic cache events mean "
                       "different things per vendor",
            [PMU_DRAM] = "no table row for this CPU: its memory-controller events are unknown",
        },
};

const struct pmu_family *pmu_family_find(const char *pmu)
{
    size_t len = pmu ? strlen(pmu) : 0;
    if (!len)
        return NULL;
    for (size_t f = 0; f < pmu_n_families; f++)
        for (const char *p = pmu_families[f].pmus; (p = strstr(p, pmu)) != NULL; p += len)
            if ((p == pmu_families[f].pmus || p[-1] == ' ') && (p[len] == ' ' || !p[len]))
                return &pmu_families[f];
    return NULL;
}
