#!/usr/bin/env bash
# Compiles every native CPU and binding source for aarch64 (no x86 intrinsics, no AVX files' bodies):
# the build a non-x86 machine (Graviton, Apple silicon under Linux, Raspberry Pi) gets. Catches an
# x86 intrinsic or an x86-only header that slipped into shared code, which no x86 build notices.
# Needs aarch64-linux-gnu-g++ (Debian: g++-aarch64-linux-gnu); CI installs it, elsewhere the check
# says it is skipped. Objects go to a temporary folder and are discarded: this checks that the
# code compiles and assembles, it does not link or run it.
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=aarch64-linux-gnu-g++
if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "check-portable-build: skipped ($CXX not installed; Debian package g++-aarch64-linux-gnu)"
  exit 0
fi
NODE_INCLUDE=$(node -p "require('path').resolve(process.execPath, '../../include/node')")
[ -f "$NODE_INCLUDE/node_api.h" ] || NODE_INCLUDE=/usr/include/node
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export CXX OUT NODE_INCLUDE
ls native/cpu/*.cc native/binding/*.cc | xargs -P "$(nproc)" -I{} sh -c \
  '"$CXX" -std=c++17 -O2 -Wall -Werror -Wno-unused-function -fexceptions -Inative/include -Inative/cpu \
     -I"$NODE_INCLUDE" -Inode_modules/node-addon-api -c "{}" -o "$OUT/$(basename "{}").o"'
echo "check-portable-build: $(ls "$OUT" | wc -l) sources compile for aarch64"
