// attentionDecode / attentionPrefill (+ Async forms): validate every size, stride and selected
// token against the buffers before a kernel reads them, so no argument can make it read out of
// bounds. Argument order is declared in lib/backend/binding.ts.
#include <cmath>
#include <string>

#include "args.h"
#include "async_op.h"
#include "kv_args.h"
#include "registry.h"
#include "sparsenn/ops.h"

namespace sparsenn::binding {

namespace {

// Reads the KV cache arguments at [first, first + 7): k, v, dtype, kvHeads, length, headStride,
// tokenStride.
KvArgs parse_kv(const Napi::CallbackInfo& info, size_t first, int64_t head_dim) {
  const DType dt = arg_dtype(info, first + 2, "kvDtype");
  const int64_t kvh = arg_size(info, first + 3, "kvHeads");
  const int64_t len = arg_size(info, first + 4, "length", kMaxTokens - 1);
  const int64_t hs = arg_size(info, first + 5, "headStride");
  const int64_t ts = arg_size(info, first + 6, "tokenStride");
  return kv_arrays(info, first, dt, kvh, len, head_dim, hs, ts);
}

struct DecodeArgs {
  F32View q;
  KvView kv;
  SelectionView sel;
  float scale;
  MutF32View out;
  Napi::Value keep[6];
};

// attentionDecode(q, heads, headDim, k, v, kvDtype, kvHeads, length, headStride, tokenStride,
//                 selKind, offsets, items, pageSize, scale, out)
DecodeArgs parse_decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t H = arg_size(info, 1, "heads");
  const int64_t D = arg_size(info, 2, "headDim");
  if (H < 1 || D < 1) throw_coded(env, "ERR_SHAPE", "heads and headDim must be at least 1");
  KvArgs kv = parse_kv(info, 3, D);
  const int64_t KVH = kv.view.kv_heads, len = kv.view.length;
  if (H % KVH != 0)
    throw_coded(env, "ERR_SHAPE", "heads (" + std::to_string(H) + ") must be a multiple of kvHeads (" + std::to_string(KVH) + ")");
  ArrayArg q = arg_array(info, 0, "q", DType::F32, checked_mul(env, H, D));
  ArrayArg out = arg_array(info, 15, "out", DType::F32, checked_mul(env, H, D));
  const int64_t kind = arg_size(info, 10, "selKind", 3);
  const int64_t page = arg_size(info, 13, "pageSize", kMaxTokens - 1);
  const int64_t per = kind == 1 ? 2 : 1;  // items per entry
  ArrayArg offsets = arg_index_array(info, 11, "offsets", napi_uint32_array, kind == 0 ? 0 : KVH + 1);
  ArrayArg items = arg_index_array(info, 12, "items", napi_uint32_array, 0);
  const uint32_t* off = static_cast<const uint32_t*>(offsets.data);
  const uint32_t* it = static_cast<const uint32_t*>(items.data);
  if (kind != 0) {
    if (off[0] != 0) throw_coded(env, "ERR_ARG", "selection offsets must start at 0");
    for (int64_t h = 0; h < KVH; ++h)
      if (off[h + 1] < off[h]) throw_coded(env, "ERR_ARG", "selection offsets must not decrease");
    if (int64_t(off[KVH]) * per > items.length)
      throw_coded(env, "ERR_SHAPE", "selection items hold fewer entries than the offsets promise");
    if (kind == 3 && page < 1) throw_coded(env, "ERR_ARG", "pageSize must be at least 1 for a page selection");
    const int64_t n = int64_t(off[KVH]);
    for (int64_t e = 0; e < n; ++e) {
      if (kind == 1) {
        const int64_t b = it[2 * e], end = it[2 * e + 1];
        if (b > end || end > len)
          throw_coded(env, "ERR_ARG", "selected range [" + std::to_string(b) + ", " + std::to_string(end) +
                                          ") is not inside the cache of " + std::to_string(len) + " tokens");
      } else if (kind == 2) {
        if (int64_t(it[e]) >= len)
          throw_coded(env, "ERR_ARG", "selected token " + std::to_string(it[e]) + " is past the cache length " + std::to_string(len));
      } else if (int64_t(it[e]) * page >= len) {
        throw_coded(env, "ERR_ARG", "selected page " + std::to_string(it[e]) + " starts past the cache length " + std::to_string(len));
      }
    }
  }
  DecodeArgs a{F32View{static_cast<const float*>(q.data), H, D},
               kv.view,
               SelectionView{static_cast<SelectionKind>(kind), reinterpret_cast<const int32_t*>(off),
                             reinterpret_cast<const int32_t*>(it), int32_t(page)},
               arg_scale(info, 14),
               MutF32View{static_cast<float*>(out.data), H, D},
               {q.array, kv.k, kv.v, offsets.array, items.array, out.array}};
  return a;
}

struct PrefillArgs {
  F32View q;
  int64_t heads;
  KvView kv;
  BlockMaskView mask;
  int64_t pos0;
  float scale;
  MutF32View out;
  Napi::Value keep[6];
};

// attentionPrefill(q, T, heads, headDim, k, v, kvDtype, kvHeads, length, headStride, tokenStride,
//                  indptr, kvBlocks, maskHeads, blockQ, blockK, pos0, scale, out)
PrefillArgs parse_prefill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t T = arg_size(info, 1, "T", kMaxTokens - 1);
  const int64_t H = arg_size(info, 2, "heads");
  const int64_t D = arg_size(info, 3, "headDim");
  if (H < 1 || D < 1) throw_coded(env, "ERR_SHAPE", "heads and headDim must be at least 1");
  KvArgs kv = parse_kv(info, 4, D);
  const int64_t KVH = kv.view.kv_heads, len = kv.view.length;
  if (H % KVH != 0)
    throw_coded(env, "ERR_SHAPE", "heads (" + std::to_string(H) + ") must be a multiple of kvHeads (" + std::to_string(KVH) + ")");
  const int64_t row = checked_mul(env, H, D);
  ArrayArg q = arg_array(info, 0, "q", DType::F32, checked_mul(env, T, row));
  ArrayArg out = arg_array(info, 18, "out", DType::F32, checked_mul(env, T, row));
  const int64_t mh = arg_size(info, 13, "maskHeads");
  const int64_t bq = arg_size(info, 14, "blockQ", kMaxTokens - 1);
  const int64_t bk = arg_size(info, 15, "blockK", kMaxTokens - 1);
  const int64_t pos0 = arg_size(info, 16, "pos0", kMaxTokens - 1);
  if (mh != 1 && mh != H) throw_coded(env, "ERR_SHAPE", "maskHeads must be 1 or heads");
  if (bq < 1 || bk < 1) throw_coded(env, "ERR_ARG", "blockQ and blockK must be at least 1");
  if (pos0 + T > len) throw_coded(env, "ERR_SHAPE", "pos0 + T must not exceed the cache length (append the new keys first)");
  const int64_t QB = (T + bq - 1) / bq;
  ArrayArg indptr = arg_index_array(info, 11, "indptr", napi_uint32_array, checked_mul(env, mh, QB) + 1);
  ArrayArg blocks = arg_index_array(info, 12, "kvBlocks", napi_uint32_array, 0);
  const uint32_t* ip = static_cast<const uint32_t*>(indptr.data);
  const uint32_t* kb = static_cast<const uint32_t*>(blocks.data);
  if (ip[0] != 0) throw_coded(env, "ERR_ARG", "indptr must start at 0");
  for (int64_t i = 0; i < mh * QB; ++i)
    if (ip[i + 1] < ip[i]) throw_coded(env, "ERR_ARG", "indptr must not decrease");
  if (int64_t(ip[mh * QB]) > blocks.length) throw_coded(env, "ERR_SHAPE", "kvBlocks is shorter than indptr says");
  for (int64_t i = 0; i < int64_t(ip[mh * QB]); ++i)
    if (int64_t(kb[i]) * bk >= len && len > 0)
      throw_coded(env, "ERR_ARG", "key block " + std::to_string(kb[i]) + " starts past the cache length");
  if (len == 0 && ip[mh * QB] > 0) throw_coded(env, "ERR_ARG", "key blocks listed for an empty cache");
  return PrefillArgs{F32View{static_cast<const float*>(q.data), T, row},
                     H,
                     kv.view,
                     BlockMaskView{reinterpret_cast<const int32_t*>(ip), reinterpret_cast<const int32_t*>(kb), mh, QB, bq, bk},
                     pos0,
                     arg_scale(info, 17),
                     MutF32View{static_cast<float*>(out.data), T, row},
                     {q.array, kv.k, kv.v, indptr.array, blocks.array, out.array}};
}

Napi::Value AttentionDecode(const Napi::CallbackInfo& info) {
  DecodeArgs a = parse_decode(info);
  run_sync(info.Env(), [&] { attention_decode(a.q, a.kv, a.sel, a.scale, a.out); });
  return info.Env().Undefined();
}

Napi::Value AttentionDecodeAsync(const Napi::CallbackInfo& info) {
  DecodeArgs a = parse_decode(info);
  return AsyncOp::Start(info.Env(), "sparsenn.attentionDecode", [a] { attention_decode(a.q, a.kv, a.sel, a.scale, a.out); },
                        {a.keep[0], a.keep[1], a.keep[2], a.keep[3], a.keep[4], a.keep[5]});
}

Napi::Value AttentionPrefill(const Napi::CallbackInfo& info) {
  PrefillArgs a = parse_prefill(info);
  run_sync(info.Env(), [&] { attention_prefill(a.q, a.heads, a.kv, a.mask, a.pos0, a.scale, a.out); });
  return info.Env().Undefined();
}

Napi::Value AttentionPrefillAsync(const Napi::CallbackInfo& info) {
  PrefillArgs a = parse_prefill(info);
  return AsyncOp::Start(info.Env(), "sparsenn.attentionPrefill",
                        [a] { attention_prefill(a.q, a.heads, a.kv, a.mask, a.pos0, a.scale, a.out); },
                        {a.keep[0], a.keep[1], a.keep[2], a.keep[3], a.keep[4], a.keep[5]});
}

// attentionGroupScores(q, heads, dim, rows, rows, rowsDtype, kvHeads, n, headStride, rowStride, out):
// the rows are passed twice so they parse (and are bounds-checked) exactly as a KV cache.
struct ScoresArgs {
  F32View q;
  KvView rows;
  MutF32View out;
  Napi::Value keep[3];
};

ScoresArgs parse_scores(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t H = arg_size(info, 1, "heads");
  const int64_t D = arg_size(info, 2, "dim");
  if (H < 1 || D < 1) throw_coded(env, "ERR_SHAPE", "heads and dim must be at least 1");
  KvArgs r = parse_kv(info, 3, D);
  if (H % r.view.kv_heads != 0) throw_coded(env, "ERR_SHAPE", "heads must be a multiple of kvHeads");
  ArrayArg q = arg_array(info, 0, "q", DType::F32, checked_mul(env, H, D));
  ArrayArg out = arg_array(info, 10, "out", DType::F32, checked_mul(env, r.view.kv_heads, r.view.length));
  return ScoresArgs{F32View{static_cast<const float*>(q.data), H, D}, r.view, MutF32View{static_cast<float*>(out.data), r.view.kv_heads, r.view.length},
                    {q.array, r.k, out.array}};
}

Napi::Value AttentionGroupScores(const Napi::CallbackInfo& info) {
  ScoresArgs a = parse_scores(info);
  run_sync(info.Env(), [&] { attention_group_scores(a.q, a.rows, a.out); });
  return info.Env().Undefined();
}

// attentionTopK(scores, rows, n, k, out)
Napi::Value AttentionTopK(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t rows = arg_size(info, 1, "rows");
  const int64_t n = arg_size(info, 2, "n", kMaxTokens);
  const int64_t k = arg_size(info, 3, "k", kMaxTokens);
  if (k > n) throw_coded(env, "ERR_ARG", "k (" + std::to_string(k) + ") must not exceed n (" + std::to_string(n) + ")");
  ArrayArg scores = arg_array(info, 0, "scores", DType::F32, checked_mul(env, rows, n));
  ArrayArg out = arg_index_array(info, 4, "out", napi_uint32_array, checked_mul(env, rows, k));
  run_sync(env, [&] { attention_top_k(static_cast<const float*>(scores.data), rows, n, k, static_cast<uint32_t*>(out.data)); });
  return env.Undefined();
}

}  // namespace

void register_attention(Napi::Env env, Napi::Object exports) {
  exports.Set("attentionDecode", Napi::Function::New(env, AttentionDecode, "attentionDecode"));
  exports.Set("attentionDecodeAsync", Napi::Function::New(env, AttentionDecodeAsync, "attentionDecodeAsync"));
  exports.Set("attentionGroupScores", Napi::Function::New(env, AttentionGroupScores, "attentionGroupScores"));
  exports.Set("attentionTopK", Napi::Function::New(env, AttentionTopK, "attentionTopK"));
  exports.Set("attentionPrefill", Napi::Function::New(env, AttentionPrefill, "attentionPrefill"));
  exports.Set("attentionPrefillAsync", Napi::Function::New(env, AttentionPrefillAsync, "attentionPrefillAsync"));
}

}  // namespace sparsenn::binding
