#!/usr/bin/env bash
# Development rebuild of the native CPU addon into build/Release (which node-gyp-build
# prefers over prebuilds/). A lock serialises concurrent rebuilds from parallel work.
set -euo pipefail
cd "$(dirname "$0")/.."
exec flock /tmp/sparsenn-native-build.lock bash -c 'npx node-gyp configure >/dev/null 2>&1 && npx node-gyp build -j 2 2>&1 | grep -E "error|warning: unused|Error" ; test ${PIPESTATUS[0]} -eq 0'
