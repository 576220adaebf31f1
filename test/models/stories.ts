/** Where the real test model lives (../shared/models/stories260K), and a loader that tests share. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadModel } from '../../lib/models/load';
import type { Model } from '../../lib/models/model';

export const STORIES_DIR = process.env.SPARSENN_STORIES_DIR ?? resolve(__dirname, '../../../shared/models/stories260K');
export const STORIES_BIN = resolve(STORIES_DIR, 'stories260K.bin');
export const STORIES_TOK = resolve(STORIES_DIR, 'tok512.bin');
export const HAVE_STORIES = existsSync(STORIES_BIN) && existsSync(STORIES_TOK);

/** describe, or describe.skip with a message saying why, when the model files are absent. */
export function describeWithStories(name: string, fn: () => void): void {
  if (!HAVE_STORIES) {
    console.warn(`SKIPPED "${name}": stories260K not found in ${STORIES_DIR} (set SPARSENN_STORIES_DIR)`);
    describe.skip(name, fn);
  } else describe(name, fn);
}

let cached: Promise<Model> | null = null;
export function loadStories(): Promise<Model> {
  cached ??= loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
  return cached;
}

export const OPENING = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
