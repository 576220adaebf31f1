#!/usr/bin/env bash
# Runs the native parts of the test suite once against an AddressSanitizer build of the CPU addon.
# Builds .asan/build/Release/sparsenn.node with cmake-js, preloads libasan into node, points
# the loader at it (SPARSENN_NATIVE_DIR) and checks that it really is the addon in use.
set -euo pipefail
cd "$(dirname "$0")/.."

libasan=$(${CXX:-g++} -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "asan-check: libasan not found for ${CXX:-g++}"; exit 1; }

npx cmake-js compile -O .asan/build \
  --CDCMAKE_CXX_FLAGS="-fsanitize=address -fno-omit-frame-pointer -g" \
  --CDCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address" --CDSPARSENN_CUDA=OFF >/dev/null

export LD_PRELOAD="$libasan"
# Node itself is not instrumented and keeps allocations until exit: leak reports would be noise.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export SPARSENN_NATIVE_DIR="$PWD/.asan"

node -e "
const s = require('./dist/lib/index.js');
s.matmul(s.Tensor.random([2, 3]), s.Tensor.random([2, 3]));
const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
if (!maps.includes('.asan/build/Release/sparsenn.node') || !maps.includes('libasan')) { console.error('asan-check: the ASan addon is not the one loaded'); process.exit(1); }
console.log('asan-check: ASan build of the addon loaded');
"
# Every suite that drives native code: parity on random shapes and hostile direct calls into the addon.
npx jest --ci test/parity test/formats test/attention test/prune test/input_sparse.test.ts "$@"
