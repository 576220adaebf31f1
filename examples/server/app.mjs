// An OpenAI-style completions server over sparsenn: one model, continuous batching of concurrent
// requests, streaming with server-sent events, cancellation when the client disconnects.
// `createApp(model)` returns a node:http server; server.mjs is the command-line entry.
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BatchScheduler, SparsennError } from 'sparsenn';

const MAX_BODY_BYTES = 1 << 20;

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'ERR_BODY_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'ERR_BAD_JSON', 'request body is not valid JSON');
  }
}

/** Maps an OpenAI-style body onto sparsenn's generation options, rejecting what does not fit. */
function requestOptions(body, contextLength) {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'ERR_ARG', 'body must be a JSON object');
  const { prompt } = body;
  if (typeof prompt !== 'string' && !(Array.isArray(prompt) && prompt.every(Number.isInteger)))
    throw new HttpError(400, 'ERR_ARG', 'prompt must be a string or an array of token ids');
  const maxTokens = body.max_tokens ?? 16;
  if (!Number.isInteger(maxTokens) || maxTokens < 0 || maxTokens > contextLength)
    throw new HttpError(400, 'ERR_ARG', `max_tokens must be an integer in [0, ${contextLength}] (the model's context), got ${JSON.stringify(body.max_tokens)}`);
  const opts = { maxTokens };
  for (const [from, to] of [['temperature', 'temperature'], ['top_p', 'topP'], ['top_k', 'topK'], ['min_p', 'minP'], ['repetition_penalty', 'repetitionPenalty'], ['seed', 'seed']])
    if (body[from] !== undefined && body[from] !== null) opts[to] = body[from];
  if (body.stop !== undefined && body.stop !== null) opts.stop = body.stop;
  return { prompt, stream: body.stream === true, opts };
}

export function createApp(model, { maxBatch = 16 } = {}) {
  const scheduler = new BatchScheduler(model, { maxBatch });
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const totals = { requests: 0, completed: 0, aborted: 0, failed: 0, tokens: 0, decodeMs: 0 };
  let nextId = 1;

  async function complete(req, res) {
    const body = await readJson(req);
    const { prompt, stream, opts } = requestOptions(body, model.config.maxSeqLen);
    const ac = new AbortController();
    // The client went away before we finished: stop generating and free its KV cache.
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new Error('client disconnected'));
    });
    let gen;
    try {
      gen = scheduler.submit(prompt, { ...opts, signal: ac.signal });
    } catch (e) {
      if (e instanceof SparsennError) throw new HttpError(400, e.code, e.message);
      throw e;
    }
    totals.requests++;
    const id = `cmpl-${nextId++}`;
    const started = performance.now();
    let text = '';
    let tokens = 0;
    let finish = 'length';
    try {
      if (stream) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      for await (const chunk of gen) {
        tokens++;
        text += chunk.text;
        if (stream) res.write(`data: ${JSON.stringify({ id, object: 'text_completion', choices: [{ index: 0, text: chunk.text, token: chunk.token, finish_reason: null }] })}\n\n`);
      }
      if (tokens < opts.maxTokens) finish = 'stop';
    } catch (e) {
      if (ac.signal.aborted) {
        totals.aborted++;
        return;
      }
      totals.failed++;
      throw e;
    }
    const ms = performance.now() - started;
    totals.completed++;
    totals.tokens += tokens;
    totals.decodeMs += ms;
    const usage = { completion_tokens: tokens, tokens_per_second: tokens / (ms / 1000) };
    if (stream) {
      res.write(`data: ${JSON.stringify({ id, object: 'text_completion', choices: [{ index: 0, text: '', finish_reason: finish }], usage })}\n\n`);
      res.end('data: [DONE]\n\n');
    } else {
      sendJson(res, 200, { id, object: 'text_completion', model: model.config.architecture, choices: [{ index: 0, text, finish_reason: finish }], usage });
    }
  }

  const server = http.createServer((req, res) => {
    const route = `${req.method} ${req.url?.split('?')[0]}`;
    const handle = async () => {
      if (route === 'GET /health') return sendJson(res, 200, { ok: true, ...scheduler.load });
      if (route === 'GET /metrics') {
        // ?gc=1 collects garbage first (when node runs with --expose-gc) so memory figures mean live memory.
        if (req.url.includes('gc=1') && typeof globalThis.gc === 'function') globalThis.gc();
        return sendJson(res, 200, {
          ...totals,
          ...scheduler.load,
          scheduler: scheduler.stats,
          tokensPerSecondPerRequest: totals.decodeMs > 0 ? totals.tokens / (totals.decodeMs / 1000) : 0,
          memory: process.memoryUsage(),
          eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
        });
      }
      if (route === 'POST /metrics/reset') {
        loopDelay.reset();
        return sendJson(res, 200, { ok: true });
      }
      if (route === 'POST /v1/completions') return complete(req, res);
      throw new HttpError(404, 'ERR_NOT_FOUND', `no route ${route}`);
    };
    handle().catch((e) => {
      const status = e instanceof HttpError ? e.status : 500;
      const code = e?.code ?? 'ERR_INTERNAL';
      if (!res.headersSent) sendJson(res, status, { error: { code, message: e?.message ?? String(e) } });
      else res.end();
    });
  });
  server.on('close', () => {
    scheduler.close();
    loopDelay.disable();
  });
  return server;
}
