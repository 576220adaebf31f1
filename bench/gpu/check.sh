#!/usr/bin/env bash
# The ONE GPU check for a session lent a GPU (see ../shared/device/README.md); needs no Node.
#   1. the check program: carried prebuilt (build-cuda/sparsenn_cuda_check from `npm run build:cuda`)
#      or built here with cmake + ninja for this card only;
#   2. it runs every CUDA kernel against a CPU reference (parity), then the timings against
#      cuBLAS and cuSPARSELt (found in PyTorch's nvidia/* Python packages; the check program is
#      rebuilt for this card when cuSPARSELt's header is there) and prints a summary table last.
# Logs go to $OUT (or ./gpu-check-out). Usage: bench/gpu/check.sh [--quick] [--parity-only]
# Prepare here: npm run build:cuda && npm run build:ts && ./scripts/dev-build.sh && ../shared/device/prepare-node.sh
# Device call:  run(command="bash bench/gpu/check.sh", timeout_s=540, carry=["build-cuda/Release",
#   "build-cuda/sparsenn_cuda_check", "build/Release", "dist", "node_modules/node-gyp-build", ".devnode"])
# (about 35 MB; carry only ["build-cuda/sparsenn_cuda_check"] for the C++ check alone).
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

# cuSPARSELt, for comparison timings: when its header ships with PyTorch's nvidia/cusparselt
# package, rebuild the check program with it (this card only); if that build fails, the
# carried binary still runs, without the cuSPARSELt column.
pkg_dir() { python3 -c "import importlib, os; m = importlib.import_module('nvidia.$1'); print(list(m.__path__)[0])" 2>/dev/null || true; }
LT_DIR="$(pkg_dir cusparselt)"
SP_DIR="$(pkg_dir cusparse)"
if [ -n "$LT_DIR" ] && [ -f "$LT_DIR/include/cusparseLt.h" ] && [ -z "${SPARSENN_NO_CUSPARSELT:-}" ]; then
  export SPARSENN_CUSPARSELT="$(ls "$LT_DIR"/lib/libcusparseLt.so* 2>/dev/null | head -1)"
  export LD_LIBRARY_PATH="$LT_DIR/lib:${LD_LIBRARY_PATH:-}"
  INC="$LT_DIR/include"
  [ -n "$SP_DIR" ] && INC="$INC;$SP_DIR/include"
  echo "== building the check program with cuSPARSELt ($LT_DIR)"
  start=$(date +%s)
  if cmake -S native/cuda -B build-gpu-lt -G Ninja -DSPARSENN_CUDA_ADDON=OFF -DSPARSENN_CUDA_CHECK=ON \
      -DSPARSENN_CUDA_GENCODE=sm_90a "-DSPARSENN_CUSPARSELT_INCLUDE=$INC" > "$OUT/cmake-lt.log" 2>&1 &&
     ninja -C build-gpu-lt -j "$(nproc)" > "$OUT/build-lt.log" 2>&1; then
    BIN=build-gpu-lt/sparsenn_cuda_check
    echo "built in $(( $(date +%s) - start )) s"
  else
    echo "cuSPARSELt build failed (see $OUT/build-lt.log); running $BIN without it"
    tail -15 "$OUT/build-lt.log"
  fi
else
  echo "cuSPARSELt: header not found (${LT_DIR:-no nvidia.cusparselt package}); no cuSPARSELt column"
fi

# cuBLAS from the Python packages, or an explicit override.
if [ -z "${SPARSENN_CUBLAS:-}" ]; then
  CUBLAS_DIR="$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null || true)"
  if [ -n "$CUBLAS_DIR" ] && ls "$CUBLAS_DIR"/libcublas.so.* > /dev/null 2>&1; then
    export SPARSENN_CUBLAS="$(ls "$CUBLAS_DIR"/libcublas.so.* | grep -v Lt | head -1)"
    export LD_LIBRARY_PATH="$CUBLAS_DIR:${LD_LIBRARY_PATH:-}"
  fi
fi
echo "cuBLAS: ${SPARSENN_CUBLAS:-not found}"

echo "== $BIN $*"
"$BIN" "$@"
rc=$?
echo "== check program exit status $rc (0 = every parity case passed)"

# The Node half: the package's own loading path (driver check, child self-test, addon) and the
# cuda backend against js. Needs Node (carried as .devnode/node.xz), dist/ (npm run build:ts),
# build/Release (the CPU addon) and node_modules/node-gyp-build.
if ! command -v node > /dev/null 2>&1 && [ -s .devnode/node.xz ]; then
  xz -dc .devnode/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node
fi
if command -v node > /dev/null 2>&1 && [ -f dist/bench/gpu/node_parity.js ] && [ -f build-cuda/Release/sparsenn_cuda.node ]; then
  echo "== node $(node --version) dist/bench/gpu/node_parity.js"
  node dist/bench/gpu/node_parity.js > "$OUT/node_parity.log" 2>&1
  nrc=$?
  grep -v '^ok' "$OUT/node_parity.log" | tail -20
  echo "== node parity exit status $nrc (0 = passed, 2 = CUDA not available); full log $OUT/node_parity.log"
  [ $nrc -ne 0 ] && [ $rc -eq 0 ] && rc=$nrc
else
  echo "== node parity skipped (needs node or .devnode/node.xz, dist/bench/gpu/node_parity.js and build-cuda/Release)"
fi
exit $rc
