# fluxgraph — `make` builds build/fluxgraph and the tests; `make test` runs them.
# Variables: BUILD (output dir), CUDA_ARCHS (e.g. "90a" for a quick compile check),
# FG_NO_CUDA=1 (skip CUDA even when nvcc exists), CC.

VERSION := 0.1.0
BUILD ?= build
CC ?= cc
# Fat binary by default: Ampere, Ada, Hopper (90a), Blackwell (100, 120) and GB10 (121),
# plus PTX of the newest for forward compatibility.
CUDA_ARCHS ?= 80 86 89 90a 100 120 121

.DEFAULT_GOAL := all
# V=1 shows the full commands.
Q := $(if $(filter 1,$(V)),,@)
CONFIG := $(BUILD)/config.mk
$(CONFIG): tools/configure.sh
	@bash tools/configure.sh $@
-include $(CONFIG)

ifeq ($(FG_NO_CUDA),1)
HAVE_CUDA := 0
endif

WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter
# -ffp-contract=off: no silent FMA contraction, so results (and the bit-exact RNG) do not
# depend on the compiler's mood; the RNG asks for its FMAs explicitly.
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) -std=c11 -D_GNU_SOURCE -ffp-contract=off -pthread $(WARN) -I. $(DEP_CFLAGS) \
             -DFG_VERSION='"$(VERSION)"' -DFG_HAVE_CUDA=$(HAVE_CUDA)
LDLIBS = $(DEP_LIBS) -lm -pthread

# Layers, bottom up. Each folder is one layer; a missing folder is simply empty.
LAYERS := core kernels kernels/cpu models text_encoders unet vae sampling graph nodes
LIB_SRCS := $(foreach d,$(LAYERS),$(wildcard $(d)/*.c))
CLI_SRCS := $(wildcard cli/*.c)

ifeq ($(HAVE_CUDA),1)
CUDA_SRCS := $(wildcard kernels/cuda/*.cu)
comma := ,
GENCODE := $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) \
           -gencode arch=compute_$(lastword $(CUDA_ARCHS)),code=compute_$(lastword $(CUDA_ARCHS))
NVCCFLAGS ?= -O2 -g
ALL_NVCCFLAGS = $(NVCCFLAGS) -std=c++17 -I. $(GENCODE) -Xcompiler -fPIC,-Wall \
                -DFG_HAVE_CUBLASLT=$(HAVE_CUBLASLT) -DFG_HAVE_CUDNN=$(HAVE_CUDNN) \
                -DFG_CUDA_ARCHS='"$(foreach a,$(CUDA_ARCHS),sm_$(a)) compute_$(lastword $(CUDA_ARCHS))"'
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart $(if $(filter 1,$(HAVE_CUBLASLT)),-lcublasLt) \
             $(if $(filter 1,$(HAVE_CUDNN)),-lcudnn) -lstdc++
else
CUDA_SRCS :=
LIB_SRCS += kernels/cuda/cuda_none.c
CUDA_LIBS :=
endif

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(CUDA_SRCS:%.cu=$(BUILD)/obj/%.cu.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)

# One test program per tests/test_NAME.c, plus the helpers in tests/NAME/*.c if present.
TEST_MAINS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_MAINS:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL_OBJS := $(BUILD)/obj/tests/testing.o
test_extra_objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/$(patsubst test_%,%,$(1))/*.c))

# With nvcc: the CUDA kernels' host-side logic (index plans, conversions), checked on any
# machine by including the kernel files into a host test (tests/cuda/test_cuda_plans.cu).
ifeq ($(HAVE_CUDA),1)
CUDA_HOST_TESTS := $(BUILD)/tests/test_cuda_plans
endif

.SECONDARY:
.PHONY: all features test test-gpu test-aarch64 test-hostile-asan asan clean demo bench bench-gpu
all: $(BUILD)/fluxgraph $(TEST_BINS) $(CUDA_HOST_TESTS) features

features: $(CONFIG)
	@cat $(BUILD)/config.features

$(BUILD)/obj/%.o: %.c $(CONFIG)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.cu.o: %.cu $(CONFIG)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC  $< ($(CUDA_ARCHS))")
	$(Q)$(NVCC) $(ALL_NVCCFLAGS) -MMD -MP -c $< -o $@

# The vocabularies are assembled into the binary (.incbin), which -MMD cannot see.
$(BUILD)/obj/text_encoders/vocab_data.o: $(wildcard text_encoders/vocab/*/*)
$(BUILD)/obj/nodes/comfy_defs.o: nodes/comfyui/object_info.json

$(BUILD)/fluxgraph: $(CLI_OBJS) $(LIB_OBJS)
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(CUDA_LIBS) $(LDLIBS)

$(BUILD)/tests/test_cuda_plans: $(patsubst %.cu,$(BUILD)/obj/%.cu.o,$(wildcard tests/cuda/*.cu)) \
                                $(TEST_UTIL_OBJS) $(filter $(BUILD)/obj/core/%,$(LIB_OBJS))
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(CUDA_LIBS) $(LDLIBS)

.SECONDEXPANSION:
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $$(call test_extra_objs,$$*) \
                  $(TEST_UTIL_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(CUDA_LIBS) $(LDLIBS)

# THE test command: every unit, golden, corpus and CLI test on the CPU backend.
test: all
	@bash tests/run_tests.sh $(BUILD)

# GPU checks (needs a GPU; says so and succeeds otherwise): every op against the CPU backend
# through each CUDA path (libraries, our own fallbacks); the models' BF16 golden tests and the
# step runner with FG_TEST_DEVICE=cuda (with and without CUDA graphs); the tiny workflows on CUDA.
test-gpu: all
	@if $(BUILD)/fluxgraph --device cuda version >/dev/null 2>&1; then bash tests/gpu_tests.sh $(BUILD); \
	else echo "test-gpu: no CUDA device here ($$($(BUILD)/fluxgraph version | grep 'cuda:' | sed 's/^ *//')); skipped"; fi

# Same tests under AddressSanitizer + UBSan (CPU-only build in its own folder).
ASAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build-asan FG_NO_CUDA=1 CFLAGS="$(ASAN_CFLAGS)" test

# The hostile corpora (safetensors, images, workflows) under AddressSanitizer + UBSan: builds
# only what they need into build-asan; .ci/run runs it after the test command.
test-hostile-asan:
	$(MAKE) BUILD=build-asan FG_NO_CUDA=1 CFLAGS="$(ASAN_CFLAGS)" build-asan/fluxgraph \
		build-asan/tests/test_safetensors build-asan/tests/test_image build-asan/tests/test_graph
	@bash tests/hostile_asan.sh build-asan

# The suite on aarch64 (DGX Spark's architecture) without one: cross-builds the CPU-only binary
# and the tests into build-aarch64 with Debian's aarch64 toolchain (installing it and the arm64
# libraries as root) and runs tests/run_tests.sh under qemu-user (slow; not part of .ci/run).
# See docs/platforms.md.
test-aarch64:
	+@bash tools/test_aarch64.sh build-aarch64

# One program per bench/bench_NAME.c.
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/%,$(wildcard bench/bench_*.c))
$(BUILD)/bench_%: $(BUILD)/obj/bench/bench_%.o $(LIB_OBJS)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(CUDA_LIBS) $(LDLIBS)

# Benchmarks (never part of `make test`): prints markdown rows for BENCHMARKS.md.
# BENCH_DEVICE=cuda on a GPU machine.
BENCH_DEVICE ?= cpu
bench: $(BENCH_BINS)
	$(BUILD)/bench_ops --device $(BENCH_DEVICE)

# The issue-7 GPU benchmark: `fluxgraph bench --device cuda` against the PyTorch reference
# (bench/flux_torch.py) on the same GPU, as a markdown table (variables: see bench/gpu_bench.sh).
bench-gpu: $(BUILD)/fluxgraph
	@bash bench/gpu_bench.sh $(BUILD)

demo: all
	@bash tools/demo.sh $(BUILD)

clean:
	rm -rf build build-asan build-aarch64

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
