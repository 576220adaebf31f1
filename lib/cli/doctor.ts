/** `sparsenn doctor`: everything a bug report needs about how sparsenn runs on this machine. */
import * as fs from 'fs';
import * as os from 'os';
import { backendInfo } from '../info';

export interface DoctorReport {
  sparsenn: string;
  node: string;
  napi: string;
  platform: string;
  cpu: string;
  cores: number;
  backend: string;
  simd: string;
  threads: number;
  nativeError?: string;
  cuda: { available: boolean; reason?: string };
}

function packageVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  const fromOs = os.cpus()[0]?.model;
  if (fromOs) return fromOs.trim();
  try {
    const m = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return m?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function doctorReport(): DoctorReport {
  const info = backendInfo();
  return {
    sparsenn: packageVersion(),
    node: process.versions.node,
    napi: process.versions.napi ?? 'unknown',
    platform: `${process.platform}-${process.arch}`,
    cpu: cpuModel(),
    cores: os.cpus().length,
    backend: info.backend,
    simd: info.simd,
    threads: info.threads,
    ...(info.nativeError ? { nativeError: info.nativeError } : {}),
    cuda: info.cuda,
  };
}

export function formatDoctor(r: DoctorReport): string {
  const lines = [
    `sparsenn ${r.sparsenn}`,
    `node ${r.node} (N-API ${r.napi}) on ${r.platform}`,
    `cpu: ${r.cpu}, ${r.cores} cores`,
    `backend: ${r.backend}, simd: ${r.simd}, threads: ${r.threads}`,
  ];
  if (r.nativeError) lines.push(`native addon not loaded: ${r.nativeError}`, '  fix: npx sparsenn build');
  lines.push(`cuda: ${r.cuda.available ? 'available' : `not used (${r.cuda.reason ?? 'unknown reason'})`}`);
  return lines.join('\n');
}
