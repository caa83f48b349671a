#!/usr/bin/env bash
# The GPU's share of the tests (a GPU machine only; `make test-gpu` and tools/gpu_run.sh call
# this): every op against the CPU backend through each CUDA path (the libraries, then our own
# kernels), the models' BF16 golden tests and the step runner on CUDA with and without graphs,
# and the tiny workflows on CUDA. Every step runs even after a failure; the failed ones are
# listed at the end and the exit status is 1.
# Usage: tests/gpu_tests.sh [BUILD_DIR]    (from the repository root)
set -u
build=${1:-build}
failed=()
step() { # ENV-ASSIGNMENTS... -- COMMAND...
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    echo "== ${envs[*]} $*"
    env "${envs[@]}" "$@" || failed+=("${envs[*]} $*")
}
step -- "$build/tests/test_ops" --device cuda
step FG_CUDA_GEMM=own FG_CUDA_CONV=own FG_CUDA_ATTENTION=own -- "$build/tests/test_ops" --device cuda
step FG_CUDA_ATTENTION=simple -- "$build/tests/test_ops" --device cuda
step FG_CUDA_GELU_EPILOGUE=0 -- "$build/tests/test_ops" --device cuda
step FG_TEST_DEVICE=cuda -- "$build/tests/test_flux"
step FG_TEST_DEVICE=cuda FG_CUDA_GRAPHS=0 -- "$build/tests/test_flux"
step FG_TEST_DEVICE=cuda -- "$build/tests/test_vae"
step FG_TEST_DEVICE=cuda -- "$build/tests/test_text_models"
step -- bash tests/test_e2e.sh "$build"
if [ ${#failed[@]} -gt 0 ]; then
    echo "gpu tests failed:"
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
echo "gpu tests: all steps passed"
