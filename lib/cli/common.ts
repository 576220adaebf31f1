/** What several commands share: loading the model (a file or the built-in synthetic one), parsing numbers, progress. */
import { SingleBar, Presets } from 'cli-progress';
import { SparsennError } from '../errors';
import { loadModel } from '../models/load';
import type { Model } from '../models/model';
import { syntheticModel } from '../models/synthetic';

export interface ModelArgs {
  model?: string;
  tokenizer?: string;
}

/** The model named by --model (and --tokenizer for llama2.c checkpoints), else the built-in synthetic one. */
export async function openModel(a: ModelArgs): Promise<Model> {
  if (!a.model) return syntheticModel({ dim: 256, layers: 4, heads: 4, maxSeqLen: 1024 });
  return loadModel(a.model, a.tokenizer ? { tokenizer: a.tokenizer } : undefined);
}

export function num(name: string, min = -Infinity, max = Infinity, integer = false): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new SparsennError('ERR_ARG', `--${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got '${v}'`);
    return n;
  };
}

/** A progress reporter: a bar on a TTY, plain lines otherwise, nothing in --json mode. */
export interface Progress {
  update(done: number, total: number, label: string): void;
  stop(): void;
}

export function progress(json: boolean): Progress {
  if (json) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new SingleBar({ format: '{bar} {value}/{total} {label}', stream: process.stderr, hideCursor: true }, Presets.shades_classic);
    let started = false;
    return {
      update(done, total, label) {
        if (!started) {
          bar.start(total, done, { label });
          started = true;
        } else bar.update(done, { label });
      },
      stop: () => started && bar.stop(),
    };
  }
  return {
    update: (done, total, label) => process.stderr.write(`[${done}/${total}] ${label}\n`),
    stop() {},
  };
}
