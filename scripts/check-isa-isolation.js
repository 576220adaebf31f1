#!/usr/bin/env node
/**
 * Checks that a built addon cannot run an AVX or AVX-512 instruction on a CPU without it.
 *
 * Kernels for each ISA live in files compiled with that ISA's flags, in namespaces
 * sparsenn::avx2 / sparsenn::avx512, and run only after the CPU check in isa.cc. The hazard is
 * code the linker shares between files: an inline function or template instantiated in both an
 * AVX-512 file and a portable one is one weak symbol, and the linker keeps whichever copy it sees
 * first. If it keeps the AVX-512 copy, portable code calls AVX-512 instructions on an AVX2-only
 * machine and the process dies with SIGILL, which no test on this AVX-512 machine would notice.
 *
 * So: disassemble the addon, and fail when a function outside those namespaces uses VEX/EVEX
 * instructions (ymm, zmm, mask registers, v-prefixed mnemonics) and its symbol is global or weak
 * (shared). Local symbols (GCC's .constprop/.isra clones, unnamed-namespace functions) are called
 * only from their own file, so they are safe wherever they are.
 *
 * Usage: node scripts/check-isa-isolation.js [addon.node ...] (default: every built sparsenn*.node).
 * x86-64 only; elsewhere, or without objdump/nm, it says why and exits 0.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) return null;
  return r.stdout;
}

function defaultAddons() {
  const root = path.join(__dirname, '..');
  const found = [];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/^sparsenn.*\.node$/.test(e.name) && !/cuda/.test(e.name)) found.push(p);
    }
  };
  walk(path.join(root, 'build', 'Release'));
  walk(path.join(root, 'build-cmake'));
  walk(path.join(root, 'prebuilds', `${process.platform}-${process.arch}`));
  return found;
}

/** Symbols with global or weak binding (shareable between object files), by address. */
function sharedSymbols(addon) {
  const out = run('nm', ['--defined-only', addon]);
  if (out === null) return null;
  const shared = new Set();
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]+) ([A-Za-z]) /.exec(line);
    if (m && 'TWVui'.includes(m[2]) && m[2] !== 't') shared.add(BigInt('0x' + m[1]));
  }
  return shared;
}

function check(addon) {
  const shared = sharedSymbols(addon);
  const dis = run('objdump', ['-d', '-C', '--no-show-raw-insn', addon]);
  if (shared === null || dis === null) return { skipped: 'objdump/nm not available' };
  const offenders = new Map();
  let fn = null;
  let fnShared = false;
  for (const line of dis.split('\n')) {
    const head = /^([0-9a-f]+) <(.*)>:$/.exec(line);
    if (head) {
      fn = head[2];
      fnShared = shared.has(BigInt('0x' + head[1])) && !/sparsenn::avx(512|2)::/.test(fn);
      continue;
    }
    if (!fn || !fnShared) continue;
    const cols = line.split('\t');
    if (cols.length < 2) continue;
    const ins = cols[1].trim();
    const mnemonic = ins.split(/\s+/)[0] ?? '';
    const operands = ins.slice(mnemonic.length);
    const evex = /zmm|%k[0-7]\b|[xy]mm(1[6-9]|2\d|3[01])\b/.test(operands) || mnemonic.startsWith('kmov');
    const vex = mnemonic.startsWith('v') || /ymm/.test(operands);
    if (evex || vex) {
      const o = offenders.get(fn) ?? { evex: 0, vex: 0, example: ins };
      if (evex) o.evex++;
      else o.vex++;
      offenders.set(fn, o);
    }
  }
  return { offenders };
}

if (process.arch !== 'x64') {
  console.log(`check-isa-isolation: skipped on ${process.arch} (the check is for x86-64 builds)`);
  process.exit(0);
}
const addons = process.argv.length > 2 ? process.argv.slice(2) : defaultAddons();
if (addons.length === 0) {
  console.error('check-isa-isolation: no built addon found (run npm run build first)');
  process.exit(1);
}
let failed = false;
for (const addon of addons) {
  const r = check(addon);
  if (r.skipped) {
    console.log(`check-isa-isolation: ${addon}: skipped (${r.skipped})`);
    continue;
  }
  if (r.offenders.size === 0) {
    console.log(`check-isa-isolation: ${addon}: ok (no shared function outside sparsenn::avx2/avx512 uses AVX)`);
    continue;
  }
  failed = true;
  console.error(`check-isa-isolation: ${addon}: ${r.offenders.size} shared function(s) contain AVX/AVX-512 code:`);
  for (const [fn, o] of r.offenders) console.error(`  ${fn}\n    ${o.evex} EVEX, ${o.vex} VEX instructions, e.g. "${o.example}"`);
}
process.exit(failed ? 1 : 0);
