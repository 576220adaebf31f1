/**
 * Running native kernels under every SIMD variant this CPU can run (avx512, avx2, scalar). The
 * variant is chosen once per process from the CPU (SPARSENN_SIMD may only lower it), so a parity
 * test packs its inputs into a temp folder, runs a small plain-JS child per variant that loads the
 * addon with SPARSENN_SIMD set, and compares what the child wrote with the js backend.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backendInfo } from '../../lib/index';

const ROOT = path.resolve(__dirname, '../..');

/** The variants to run: the detected level and every lower one (x86), the one there is elsewhere; none without the addon. */
export function simdVariants(): string[] {
  const info = backendInfo();
  if (info.backend === 'js') return [];
  if (process.arch !== 'x64') return [info.simd];
  const order = ['scalar', 'avx2', 'avx512'];
  return order.slice(0, order.indexOf(info.simd) + 1).reverse();
}

/**
 * The child's opening lines: `b` is the addon the parent uses (SPARSENN_NATIVE_DIR, the ASan
 * build under scripts/asan-check.sh, or the package's), `dir` the case folder, `ab` input.bin.
 */
export const CHILD_PRELUDE = `
const fs = require('fs');
const [root, dir] = process.argv.slice(1);
const b = require('node-gyp-build')(process.env.SPARSENN_NATIVE_DIR || root);
const input = fs.readFileSync(dir + '/input.bin');
const ab = input.buffer.slice(input.byteOffset, input.byteOffset + input.byteLength);
`;

type Packed = Float32Array | Uint16Array | Uint32Array | Int8Array | Uint8Array;

/** A temp folder of cases: typed arrays packed into input.bin at 4-byte aligned offsets. */
export class CaseFolder {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-isa-'));
  private chunks: Buffer[] = [];
  private off = 0;

  /** Appends a copy of `a`; returns its byte offset in input.bin. */
  push(a: Packed): number {
    const at = this.off;
    const b = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    this.chunks.push(Buffer.from(b));
    this.off += b.length;
    const pad = (4 - (this.off % 4)) % 4; // keep every 32-bit array 4-byte aligned
    if (pad) {
      this.chunks.push(Buffer.alloc(pad));
      this.off += pad;
    }
    return at;
  }

  /** Writes input.bin and the given JSON files (name -> value). */
  write(json: Record<string, unknown>): void {
    fs.writeFileSync(path.join(this.dir, 'input.bin'), Buffer.concat(this.chunks));
    for (const [name, value] of Object.entries(json)) fs.writeFileSync(path.join(this.dir, name), JSON.stringify(value));
  }

  read(name: string): Buffer {
    return fs.readFileSync(path.join(this.dir, name));
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs `child` (CHILD_PRELUDE + the test's code) under `simd`; returns its stdout parsed as JSON. */
  run<T extends { simd: string }>(child: string, simd: string): T {
    const env = { ...process.env, SPARSENN_SIMD: simd };
    const r = spawnSync(process.execPath, ['-e', CHILD_PRELUDE + child, ROOT, this.dir], { env, encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`child for ${simd} failed (${r.status ?? r.signal}): ${r.stderr}`);
    const reply = JSON.parse(r.stdout) as T;
    if (reply.simd !== simd) throw new Error(`child ran ${reply.simd}, not the ${simd} asked for`);
    return reply;
  }
}
