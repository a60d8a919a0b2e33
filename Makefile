# sparsebench - plain GNU make.
#
#   make              build build/sparsebench and build/callgrind/sparsebench (the copy
#                     `--counters=callgrind` runs under valgrind; see below)
#   make test         build and run the Check suites (SAN=1: under ASan + UBSan)
#   make sweep        the default sweep (bench/sweeps/default.sweep) into reports/<run-id>/
#   make sweep-full   the paper-scale sweep (bench/sweeps/full.sweep), under an hour
#                     SWEEP=FILE another sweep file; SWEEP_FLAGS="--resume" etc.
#   make plot         redraw the plots of reports/latest (RUN=DIR another run)
#   make format       clang-format every source; make format-check only checks
#   make clean
#   V=1               print full commands
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

# PAPI and valgrind's client-request headers are optional: without libpapi
# --counters=papi says "built without PAPI", without <valgrind/callgrind.h>
# --counters=callgrind says "built without valgrind headers".
HAVE_PAPI := $(shell pkg-config --exists papi 2>/dev/null && echo 1)
HAVE_VALGRIND := $(shell echo '\#include <valgrind/callgrind.h>' | \
	$(CC) -E -x c - >/dev/null 2>&1 && echo 1)
PKGS := openblas check $(if $(HAVE_PAPI),papi)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs openblas $(if $(HAVE_PAPI),papi) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
CSV_LIBS ?= -lcsv
LDLIBS := $(PKG_LIBS) $(CSV_LIBS) -lm -lpthread

CFLAGS ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE $(if $(HAVE_PAPI),-DHAVE_PAPI) $(if $(HAVE_VALGRIND),-DHAVE_VALGRIND)
WARN := -Wall -Wextra
# The layers' kernels get the full optimisation; the harness stays at -O2.
KERNEL_FLAGS := -O3 -march=native
ALL_CFLAGS = -std=c11 $(WARN) -MMD -MP $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS)

# The copy of the program that --counters=callgrind runs under valgrind.
# valgrind 3.19 cannot execute AVX-512 (SIGILL), which -march=native emits on
# an AVX-512 host, so its kernels are built for x86-64-v3 (AVX2 + FMA) tuned
# for this CPU; never with sanitizers (ASan cannot run under valgrind), so
# SAN=1 builds share it. Same sources, same -O3.
CG := build/callgrind
CG_BIN := $(CG)/sparsebench
CG_KERNEL_FLAGS := -O3 $(if $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && echo 1),\
	-march=x86-64-v3 -mtune=native)
CG_CFLAGS = -std=c11 $(WARN) -MMD -MP $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS)

IMPL_SRCS := $(sort $(wildcard impls/*.c impls/*/*.c))
BENCH_SRCS := $(sort $(filter-out bench/main.c,$(wildcard bench/*.c)))
TEST_SRCS := $(sort $(wildcard tests/check_*.c))
TEST_UTIL_SRCS := $(sort $(filter-out $(TEST_SRCS),$(wildcard tests/*.c)))

IMPL_OBJS := $(IMPL_SRCS:%.c=$(BUILD)/%.o)
BENCH_OBJS := $(BENCH_SRCS:%.c=$(BUILD)/%.o)
CG_OBJS := $(IMPL_SRCS:%.c=$(CG)/%.o) $(BENCH_SRCS:%.c=$(CG)/%.o) $(CG)/bench/main.o
TEST_UTIL_OBJS := $(TEST_UTIL_SRCS:%.c=$(BUILD)/%.o)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
BIN := $(BUILD)/sparsebench

.PHONY: all test clean format format-check sweep sweep-full plot
.SECONDARY:
all: $(BIN) $(CG_BIN)

$(BUILD)/impls/%.o: CFLAGS += $(KERNEL_FLAGS)

# What meta.csv records about the build (rebuilt when the Makefile changes).
$(BUILD)/bench/meta.o: Makefile
SB_FLAGS_STR := $(strip -std=c11 $(WARN) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS))
$(BUILD)/bench/meta.o: CPPFLAGS += -DSB_CFLAGS='"$(SB_FLAGS_STR)"' \
	-DSB_KERNEL_FLAGS='"$(KERNEL_FLAGS)"' -DSB_CG_KERNEL_FLAGS='"$(strip $(CG_KERNEL_FLAGS))"' \
	-DSB_OPENBLAS_VERSION='"$(shell pkg-config --modversion openblas 2>/dev/null)"' \
	-DSB_CHECK_VERSION='"$(shell pkg-config --modversion check 2>/dev/null)"'

$(CG)/impls/%.o: impls/%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(CG_CFLAGS) $(CG_KERNEL_FLAGS) -c $< -o $@

$(CG)/%.o: %.c
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(CG_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c
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

test: $(TEST_BINS) $(BIN) $(CG_BIN)
	@scripts/run-tests.sh $(TEST_BINS)

sweep: $(BIN)
	$(BIN) sweep $(or $(SWEEP),bench/sweeps/default.sweep) $(SWEEP_FLAGS)

sweep-full: $(BIN)
	$(BIN) sweep $(or $(SWEEP),bench/sweeps/full.sweep) $(SWEEP_FLAGS)

plot:
	scripts/plot.sh $(or $(RUN),reports/latest)

clean:
	rm -rf build

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

-include $(IMPL_OBJS:.o=.d) $(BENCH_OBJS:.o=.d) $(TEST_UTIL_OBJS:.o=.d)
-include $(TEST_BINS:=.d) $(BUILD)/bench/main.d $(CG_OBJS:.o=.d)
endif
