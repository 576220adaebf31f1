#!/usr/bin/env bash
# Runs scripts/emulated-cpu-smoke.js under qemu-user on emulated x86 CPUs without AVX-512
# (EPYC-Rome: AVX2) and without AVX (Nehalem: SSE4.2), so the kernel variants those machines
# pick really execute: an instruction their CPU lacks ends the run with SIGILL. This machine has
# AVX-512, so nothing else here runs the AVX2 and portable variants as a real AVX2-only or
# pre-AVX machine would (SPARSENN_SIMD=avx2 picks the variant, but the CPU still has AVX-512).
# Needs qemu-x86_64 (Debian: qemu-user) and a built dist/; without qemu it says it is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname -m)" != x86_64 ]; then echo "check-emulated-cpus: skipped (not an x86-64 host)"; exit 0; fi
if ! command -v qemu-x86_64 >/dev/null 2>&1; then
  echo "check-emulated-cpus: skipped (qemu-x86_64 not installed; Debian package qemu-user)"
  exit 0
fi
NODE=$(command -v node)
for spec in EPYC-Rome:avx2 Nehalem:scalar; do
  cpu=${spec%%:*}
  simd=${spec##*:}
  echo "-- emulated CPU $cpu (expects the $simd kernels)"
  # qemu warns once per CPUID bit its TCG lacks; those lines are noise here.
  timeout 600 qemu-x86_64 -cpu "$cpu" "$NODE" scripts/emulated-cpu-smoke.js "$simd" 2> >(grep -v "TCG doesn't support" >&2)
done
