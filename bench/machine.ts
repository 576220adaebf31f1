/** What machine a result was taken on: CPU model, cores, SIMD level, threads, node, git commit. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { backendInfo } from '../lib/index';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  simd: string;
  threads: number;
  backend: string;
  node: string;
  platform: string;
  commit: string;
  /** 1-minute load average when the run started: above the core count, other work shared the CPUs. */
  loadAverage?: number;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux: fall back to what Node reports
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function gitCommit(cwd: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

export function machineInfo(root: string): MachineInfo {
  const b = backendInfo();
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    simd: b.simd,
    threads: b.threads,
    backend: b.backend,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    commit: gitCommit(root),
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}
