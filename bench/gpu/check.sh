#!/usr/bin/env bash
# The ONE GPU check for a session lent a GPU (see ../shared/device/README.md); needs no Node.
#   1. the check program: carried prebuilt (build-cuda/sparsenn_cuda_check from `npm run build:cuda`)
#      or built here with cmake + ninja for this card only;
#   2. it runs every CUDA kernel against a CPU reference (parity), then the timings against
#      cuBLAS (found in PyTorch's nvidia/* Python packages) and prints a summary table last.
# Logs go to $OUT (or ./gpu-check-out). Usage: bench/gpu/check.sh [--quick] [--parity-only]
# Device call:  run(command="bash bench/gpu/check.sh", carry=["build-cuda"], timeout_s=540)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
LOG="$OUT/check.log"
exec > >(tee -a "$LOG") 2>&1

echo "== sparsenn GPU check $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader 2>/dev/null || echo "nvidia-smi not available"

BIN="${SPARSENN_CHECK_BIN:-build-cuda/sparsenn_cuda_check}"
if [ ! -x "$BIN" ] || [ -n "${SPARSENN_REBUILD:-}" ]; then
  echo "== building the check program (sm_90a only; no prebuilt $BIN)"
  CC_ARCH="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')"
  GENCODE="sm_${CC_ARCH:-90}"
  [ "$GENCODE" = "sm_90" ] && GENCODE="sm_90a"
  start=$(date +%s)
  cmake -S native/cuda -B build-gpu -G Ninja -DSPARSENN_CUDA_ADDON=OFF -DSPARSENN_CUDA_CHECK=ON \
    -DSPARSENN_CUDA_GENCODE="$GENCODE" > "$OUT/cmake.log" 2>&1 || { echo "cmake failed, see $OUT/cmake.log"; tail -20 "$OUT/cmake.log"; exit 2; }
  ninja -C build-gpu -j "$(nproc)" > "$OUT/build.log" 2>&1 || { echo "build failed, see $OUT/build.log"; tail -40 "$OUT/build.log"; exit 2; }
  echo "built in $(( $(date +%s) - start )) s"
  BIN=build-gpu/sparsenn_cuda_check
fi

# cuBLAS (and, for the record, cuSPARSELt) from the Python packages, or an explicit override.
if [ -z "${SPARSENN_CUBLAS:-}" ]; then
  CUBLAS_DIR="$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null || true)"
  if [ -n "$CUBLAS_DIR" ] && ls "$CUBLAS_DIR"/libcublas.so.* > /dev/null 2>&1; then
    export SPARSENN_CUBLAS="$(ls "$CUBLAS_DIR"/libcublas.so.* | grep -v Lt | head -1)"
    export LD_LIBRARY_PATH="$CUBLAS_DIR:${LD_LIBRARY_PATH:-}"
  fi
fi
echo "cuBLAS: ${SPARSENN_CUBLAS:-not found}"
LT_DIR="$(python3 -c 'import nvidia.cusparselt, os; print(list(nvidia.cusparselt.__path__)[0])' 2>/dev/null || true)"
echo "cuSPARSELt: ${LT_DIR:-not found} (comparison not implemented in the check program yet)"

echo "== $BIN $*"
"$BIN" "$@"
rc=$?
echo "== check program exit status $rc (0 = every parity case passed)"
exit $rc
