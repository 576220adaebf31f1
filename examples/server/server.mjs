#!/usr/bin/env node
// Start: `node examples/server/server.mjs` (built-in synthetic model) or `--model PATH [--tokenizer PATH]`.
// Then: curl -N localhost:8080/v1/completions -d '{"prompt":"Once upon a time","max_tokens":32,"stream":true}'
import { parseArgs } from 'node:util';
import { backendInfo, loadModel, syntheticModel } from 'sparsenn';
import { createApp } from './app.mjs';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    tokenizer: { type: 'string' },
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    'max-batch': { type: 'string', default: '16' },
    // Size of the built-in synthetic model (used when --model is not given).
    dim: { type: 'string', default: '256' },
    layers: { type: 'string', default: '4' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (args.help) {
  console.log('usage: server.mjs [--model PATH [--tokenizer PATH]] [--port 8080] [--host 127.0.0.1] [--max-batch 16] [--dim 256 --layers 4]');
  process.exit(0);
}

let model;
try {
  model = args.model
    ? await loadModel(args.model, args.tokenizer ? { tokenizer: args.tokenizer } : undefined)
    : syntheticModel({ dim: Number(args.dim), layers: Number(args.layers), heads: 4, maxSeqLen: 1024 });
} catch (e) {
  console.error(`cannot load model: ${e.message}${e.code ? ` (${e.code})` : ''}`);
  process.exit(2);
}

const server = createApp(model, { maxBatch: Number(args['max-batch']) });
server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  const info = backendInfo();
  console.log(`listening on http://${args.host}:${port} (model: ${args.model ?? 'synthetic'}, backend: ${info.backend}/${info.simd}, threads: ${info.threads})`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
