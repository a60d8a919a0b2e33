# sparsebench - plain GNU make.
#
#   make              build build/sparsebench and build/callgrind/sparsebench (the copy
#                     `--counters=callgrind` runs under valgrind; see below)
#   make test         build and run the Check suites (SAN=1: under ASan + UBSan)
#   make sweep        the default sweep (bench/sweeps/default.sweep) into reports/<run-id>/
#   make sweep-full   the paper-scale sweep (bench/sweeps/full.sweep), under an hour
#   make sweep-precision  the five families at dtype f32, bf16, f16 (bench/sweeps/
#                     precision.sweep), each narrow slot paired with its f32 one
#                     SWEEP=FILE another sweep file; SWEEP_FLAGS="--resume" etc.
#   make claims       every published claim with a verdict (bench/sweeps/claims*.sweep)
#                     into reports/<run-id>-claims/ (OUT=DIR elsewhere): CLAIMS.md,
#                     claims.csv, figures; CLAIMS_SWEEP=FILE another main sweep,
#                     CLAIMS_EXTRA="" skips the F4/F5 sweeps
#   make gate         the performance gate: callgrind counts of bench/sweeps/gate.sweep
#                     against reports/baseline/gate.csv (scripts/gate.sh); gate-update
#                     rewrites that baseline; make ab BASE=REV a wall-clock A/B (scripts/ab.sh)
#   make sweep-slurm  SWEEP=FILE SHARDS=N: the sweep as a Slurm job array, one exclusive
#                     node per shard, waited for and merged (scripts/slurm/sweep-slurm.sh;
#                     SLURM_PARTITION, SLURM_CONSTRAINT, SLURM_TIME, SLURM_RUN=DIR)
#   make test-slurm   the same against a real one-node Slurm started on localhost
#                     (scripts/slurm/test-slurm.sh; installs slurm and munge if missing)
#   make plot         redraw the plots of reports/latest (RUN=DIR another run)
#   make format       clang-format every source; make format-check only checks
#   make fuzz         build the libFuzzer targets (fuzz/*.c, clang) and run each
#                     FUZZ_SECONDS (60) from its seed corpus (fuzz/corpus/NAME)
#   make check-layers no file-level call cycle (scripts/check-cycles.sh), no header
#                     under bench/ over 150 lines; make test runs it too
#   make clean
#   V=1               print full commands
#   WERROR=1          warnings are errors (CI builds this way)
#   CFLAGS=...        the harness's flags (default -O2 -g); impls/ objects get
#                     -O3 -march=native after them, whatever CFLAGS says
#
# The first thing every goal does is scripts/deps.sh (a sub-second no-op when
# all system packages are present), so on a fresh Debian machine `make test`
# is the whole set-up. It then re-runs make with the packages in place, so
# pkg-config sees them.

SHELL := /bin/bash
.SUFFIXES:
.DEFAULT_GOAL := all

GOALS := $(or $(MAKECMDGOALS),all)
NO_DEPS_GOALS := clean format format-check

ifeq ($(filter-out $(NO_DEPS_GOALS),$(GOALS)),)
SB_INNER := 1
endif

ifndef SB_INNER
# ---- outer make: install what is missing, then hand over ----
.PHONY: $(GOALS) sb-deps
$(GOALS): sb-deps
	@:
sb-deps:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory SB_INNER=1 $(GOALS)
else
# ---- inner make: the real rules ----

ifeq ($(SAN),1)
BUILD := build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD := build
SAN_FLAGS :=
endif

ifneq ($(V),1)
Q := @
quiet = @printf '  %-6s %s\n' $(1) $(2);
endif

# PAPI, libpfm4 and valgrind's client-request headers are optional: without
# libpapi --counters=papi says "built without PAPI", without libpfm4 (it has
# no pkg-config file) the CPU is unknown and tests/check_pmu.c skips its
# encodings, without <valgrind/callgrind.h> --counters=callgrind says "built
# without valgrind headers".
HAVE_PAPI := $(shell pkg-config --exists papi 2>/dev/null && echo 1)
HAVE_PFM := $(shell echo '\#include <perfmon/pfmlib_perf_event.h>' | \
	$(CC) -E -x c - >/dev/null 2>&1 && echo 1)
HAVE_VALGRIND := $(shell echo '\#include <valgrind/callgrind.h>' | \
	$(CC) -E -x c - >/dev/null 2>&1 && echo 1)
PKGS := openblas jansson check $(if $(HAVE_PAPI),papi)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs openblas jansson $(if $(HAVE_PAPI),papi) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
CSV_LIBS ?= -lcsv
LDLIBS := $(PKG_LIBS) $(if $(HAVE_PFM),-lpfm) $(CSV_LIBS) -lm -lpthread

CFLAGS ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE $(if $(HAVE_PAPI),-DHAVE_PAPI) $(if $(HAVE_PFM),-DHAVE_PFM) \
	$(if $(HAVE_VALGRIND),-DHAVE_VALGRIND)
WARN := $(strip -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror))
# The layers' kernels get the full optimisation; the harness stays at -O2.
KERNEL_FLAGS := -O3 -march=native
ALL_CFLAGS = -std=c11 $(WARN) -MMD -MP $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS)

# The copy of the program that --counters=callgrind runs under valgrind.
# valgrind 3.19 cannot execute AVX-512 (SIGILL), which -march=native emits on
# an AVX-512 host, so its kernels are built for x86-64-v3 (AVX2 + FMA) tuned
# for Haswell: that is the CPU valgrind presents on any AVX2 host (its CPUID
# says i7-4910MQ, on this AMD EPYC too), and -mtune=native would make the
# gate's counts depend on the host (README "Performance gate"); never with
# sanitizers (ASan cannot run under valgrind), so
# SAN=1 builds share it. Same sources, same -O3.
CG := build/callgrind
CG_BIN := $(CG)/sparsebench
CG_KERNEL_FLAGS := -O3 $(if $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && echo 1),\
	-march=x86-64-v3 -mtune=haswell)
CG_CFLAGS = -std=c11 $(WARN) -MMD -MP $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS)

IMPL_SRCS := $(sort $(wildcard impls/*.c impls/*/*.c))
BENCH_SRCS := $(sort $(filter-out bench/main.c,$(wildcard bench/*.c bench/*/*.c)))
TEST_SRCS := $(sort $(wildcard tests/check_*.c))
TEST_UTIL_SRCS := $(sort $(filter-out $(TEST_SRCS),$(wildcard tests/*.c)))

IMPL_OBJS := $(IMPL_SRCS:%.c=$(BUILD)/%.o)
BENCH_OBJS := $(BENCH_SRCS:%.c=$(BUILD)/%.o)
CG_OBJS := $(IMPL_SRCS:%.c=$(CG)/%.o) $(BENCH_SRCS:%.c=$(CG)/%.o) $(CG)/bench/main.o
TEST_UTIL_OBJS := $(TEST_UTIL_SRCS:%.c=$(BUILD)/%.o)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
BIN := $(BUILD)/sparsebench

.PHONY: all test check-layers clean format format-check sweep sweep-full sweep-precision plot claims gate gate-update gate-test ab fuzz \
	sweep-slurm test-slurm
.SECONDARY:
all: $(BIN) $(CG_BIN)

# `override`: a CFLAGS given on the command line overrides every assignment
# to CFLAGS in here, a target-specific += included, so without it
# `make CFLAGS=-O1` would build the kernels at -O1 while meta.csv still said
# -O3. The kernel flags come after the user's, so their -O3 wins.
$(BUILD)/impls/%.o: override CFLAGS += $(KERNEL_FLAGS)
# check_dtype tests vec.h's inline narrow loads, so it is built as the kernels are.
$(BUILD)/tests/check_dtype.o: override CFLAGS += $(KERNEL_FLAGS)

# Every object depends on a stamp of the flags it is compiled with: make does
# not notice a changed command line by itself, so without it `make CFLAGS=-O1`
# or `make WERROR=1` on a built tree would compile nothing (or only what
# changed) and meta.csv would describe flags some objects were not built with.
# The stamp is rewritten only when the flags differ from the last build's.
FLAGS_STAMP := $(BUILD)/flags.txt
CG_FLAGS_STAMP := $(CG)/flags.txt
flags_now := $(CC) | $(ALL_CFLAGS) | kernels: $(KERNEL_FLAGS)
cg_flags_now := $(CC) | $(CG_CFLAGS) | kernels: $(CG_KERNEL_FLAGS)
ifneq ($(filter-out $(NO_DEPS_GOALS),$(GOALS)),)
ifneq ($(file <$(FLAGS_STAMP)),$(flags_now))
$(shell mkdir -p $(BUILD))
$(file >$(FLAGS_STAMP),$(flags_now))
endif
ifneq ($(file <$(CG_FLAGS_STAMP)),$(cg_flags_now))
$(shell mkdir -p $(CG))
$(file >$(CG_FLAGS_STAMP),$(cg_flags_now))
endif
endif

# What meta.csv records about the build (rebuilt when the Makefile changes).
$(BUILD)/bench/meta.o: Makefile
SB_FLAGS_STR := $(strip -std=c11 $(WARN) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS))
SB_CG_FLAGS_STR := $(strip -std=c11 $(WARN) $(CPPFLAGS) $(CFLAGS) $(CG_KERNEL_FLAGS))
$(BUILD)/bench/meta.o: CPPFLAGS += -DSB_CFLAGS='"$(SB_FLAGS_STR)"' \
	-DSB_KERNEL_FLAGS='"$(KERNEL_FLAGS)"' -DSB_CG_KERNEL_FLAGS='"$(SB_CG_FLAGS_STR)"' \
	-DSB_OPENBLAS_VERSION='"$(shell pkg-config --modversion openblas 2>/dev/null)"' \
	-DSB_CHECK_VERSION='"$(shell pkg-config --modversion check 2>/dev/null)"'

$(CG)/impls/%.o: impls/%.c $(CG_FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(CG_CFLAGS) $(CG_KERNEL_FLAGS) -c $< -o $@

$(CG)/%.o: %.c $(CG_FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(CG_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libsparse.a: $(IMPL_OBJS) $(BENCH_OBJS)
	$(call quiet,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(BIN): $(BUILD)/bench/main.o $(BUILD)/libsparse.a
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)

$(CG_BIN): $(CG_OBJS)
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_UTIL_OBJS) $(BUILD)/libsparse.a
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ -o $@ $(LDLIBS) $(CHECK_LIBS)

# The layering, checked on the built objects: no file-level call cycle in
# bench/ or inside an impls family, no header under bench/ over 150 lines.
check_layers = rc=0; scripts/check-cycles.sh $(BUILD) || rc=1; \
	scripts/check-headers.sh bench 150 || rc=1; exit $$rc

check-layers: $(BIN)
	@$(check_layers)

# Both halves always run, so a layering failure never hides the test results.
test: $(TEST_BINS) $(BIN) $(CG_BIN)
	@ok=1; scripts/run-tests.sh $(TEST_BINS) || ok=0; ($(check_layers)) || ok=0; ((ok))

sweep: $(BIN)
	$(BIN) sweep $(or $(SWEEP),bench/sweeps/default.sweep) $(SWEEP_FLAGS)

sweep-full: $(BIN)
	$(BIN) sweep $(or $(SWEEP),bench/sweeps/full.sweep) $(SWEEP_FLAGS)

sweep-precision: $(BIN)
	$(BIN) sweep bench/sweeps/precision.sweep $(SWEEP_FLAGS)

# The gate needs only the two programs; scripts/gate.sh says what it does.
gate: $(BIN) $(CG_BIN)
	@scripts/gate.sh check

gate-update: $(BIN) $(CG_BIN)
	@scripts/gate.sh update

# The gate end to end on a tiny point set (scripts/test-gate.sh, ~1 min: it
# builds HEAD in a worktree once, for the rebuild path).
gate-test: $(BIN) $(CG_BIN)
	@scripts/test-gate.sh

ab: $(BIN)
	@scripts/ab.sh $(or $(BASE),$(error make ab needs BASE=<git revision>)) $(AB_FLAGS)

sweep-slurm: $(BIN)
	@[[ -n "$(SWEEP)" && -n "$(SHARDS)" ]] || \
		{ echo "sweep-slurm: give SWEEP=FILE SHARDS=N (e.g. SWEEP=bench/sweeps/default.sweep SHARDS=4)" >&2; exit 2; }
	SB_BIN=$(BIN) scripts/slurm/sweep-slurm.sh $(SWEEP) $(SHARDS) $(SLURM_RUN)

test-slurm: $(BIN)
	scripts/slurm/test-slurm.sh

plot:
	scripts/plot.sh $(or $(RUN),reports/latest)

# make claims: the main claims sweep into OUT, then each extra sweep
# (bench/sweeps/claims-NAME.sweep: the paper-style FFF layers and knobs of F4,
# F5) into OUT/NAME/ with its messages in OUT/NAME/sweep.log. An extra sweep
# this tree cannot run (an unknown layer or knob) is not an error: its claims
# come out "not testable here" with the log's first message. Then `sparsebench
# claims OUT` derives the report; the wall time is printed at the end.
CLAIMS_SWEEP ?= bench/sweeps/claims.sweep
CLAIMS_EXTRA ?= paper flaws repeat
claims: $(BIN)
	@set -o pipefail; start=$$(date +%s); \
	out='$(or $(OUT),reports/$(shell date +%Y%m%d-%H%M%S)-claims)'; \
	mkdir -p "$$out" || exit 2; \
	$(BIN) sweep $(CLAIMS_SWEEP) --out "$$out" --no-plot $(SWEEP_FLAGS); rc=$$?; \
	if [ $$rc -ge 2 ]; then exit $$rc; fi; \
	for s in $(CLAIMS_EXTRA); do \
	  mkdir -p "$$out/$$s"; \
	  $(BIN) sweep bench/sweeps/claims-$$s.sweep --out "$$out/$$s" --no-plot --no-probe \
	    $(SWEEP_FLAGS) 2>&1 | tee "$$out/$$s/sweep.log" >&2 || \
	    echo "make claims: claims-$$s.sweep did not finish; see $$out/$$s/sweep.log" >&2; \
	done; \
	$(BIN) claims "$$out" || exit $$?; \
	echo "make claims: $$out/CLAIMS.md in $$(( $$(date +%s) - start )) s" >&2

# ---- fuzzing: libFuzzer targets built with clang, ASan and UBSan ----
# Every harness and layer source is rebuilt with coverage instrumentation
# under build/fuzz/; each target links one fuzz/fuzz_NAME.c against them.
# scripts/fuzz.sh runs each on a copy of its seed corpus, so the committed
# corpora stay small, and keeps any crash under build/fuzz/crashes/.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ := build/fuzz
FUZZ_TARGETS := $(sort $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c)))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -std=c11 -g -O1 $(CPPFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(PKG_CFLAGS)
FUZZ_OBJS := $(IMPL_SRCS:%.c=$(FUZZ)/%.o) $(BENCH_SRCS:%.c=$(FUZZ)/%.o)
# The layers' sources include impls/common/vec.h (GCC's vector builtins,
# __builtin_shuffle), which clang cannot compile, directly or through their
# headers: they are built with $(CC), uninstrumented. The knob parser and the
# registry are instrumented, with every harness source.
FUZZ_GCC_SRCS := $(filter-out impls/common/knobs.c impls/registry.c,$(IMPL_SRCS))
FUZZ_GCC_OBJS := $(FUZZ_GCC_SRCS:%.c=$(FUZZ)/%.o)
$(FUZZ)/impls/%.o: FUZZ_ARCH := -march=native

$(FUZZ_GCC_OBJS): $(FUZZ)/%.o: %.c
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) -std=c11 -g -O2 -march=native $(CPPFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(FUZZ)/%.o: %.c
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_ARCH) -c $< -o $@

$(FUZZ)/fuzz_%: $(FUZZ)/fuzz/fuzz_%.o $(FUZZ_OBJS)
	$(call quiet,LD,$@)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

fuzz: $(FUZZ_TARGETS:%=$(FUZZ)/fuzz_%)
	@scripts/fuzz.sh $(FUZZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
# format and format-check skip deps.sh (they need nothing else); scripts/deps.sh
# installs clang-format with the rest.
HAVE_CLANG_FORMAT = @command -v clang-format >/dev/null || \
	{ echo "$@: clang-format not found (scripts/deps.sh installs it)" >&2; exit 1; }
format:
	$(HAVE_CLANG_FORMAT)
	clang-format -i $(FORMAT_SRCS)
format-check:
	$(HAVE_CLANG_FORMAT)
	clang-format --dry-run --Werror $(FORMAT_SRCS)

-include $(IMPL_OBJS:.o=.d) $(BENCH_OBJS:.o=.d) $(TEST_UTIL_OBJS:.o=.d)
-include $(TEST_BINS:=.d) $(BUILD)/bench/main.d $(CG_OBJS:.o=.d)
endif
