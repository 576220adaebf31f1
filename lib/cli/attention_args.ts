/** --attention POLICY and its knobs, shared by `generate` and `eval`. */
import { Command, Option } from 'commander';
import { createAttentionPolicy, type AttentionSpec } from '../attention/create';
import { SparsennError } from '../errors';
import type { AttentionPolicy } from '../nn/attention';
import { num } from './common';

export interface AttentionArgs {
  attention?: 'full' | 'streaming' | 'quest' | 'tidal';
  budget?: number;
  pageSize?: number;
  sinks?: number;
  window?: number;
}

export function addAttentionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--attention <policy>', 'sparse attention policy').choices(['full', 'streaming', 'quest', 'tidal']))
    .option('--budget <n>', 'tokens each head reads (quest, tidal)', num('budget', 1, 1e7, true))
    .option('--page-size <n>', 'quest page size', num('page-size', 1, 4096, true))
    .option('--sinks <n>', 'streaming: first tokens kept', num('sinks', 0, 1e6, true))
    .option('--window <n>', 'streaming: recent tokens kept', num('window', 1, 1e7, true));
}

export function attentionPolicy(a: AttentionArgs): AttentionPolicy | undefined {
  if (!a.attention) return undefined;
  let spec: AttentionSpec;
  switch (a.attention) {
    case 'full':
      spec = { policy: 'full' };
      break;
    case 'streaming':
      spec = { policy: 'streaming', ...(a.sinks !== undefined ? { sinks: a.sinks } : {}), ...(a.window !== undefined ? { window: a.window } : {}) };
      break;
    case 'quest':
      if (a.budget === undefined) throw new SparsennError('ERR_ARG', '--attention quest needs --budget N');
      spec = { policy: 'quest', budget: a.budget, ...(a.pageSize !== undefined ? { pageSize: a.pageSize } : {}) };
      break;
    case 'tidal':
      if (a.budget === undefined) throw new SparsennError('ERR_ARG', '--attention tidal needs --budget N');
      spec = { policy: 'tidal', budget: a.budget } as AttentionSpec;
      break;
  }
  return createAttentionPolicy(spec) as unknown as AttentionPolicy;
}
