// Fused Quest / Double Sparsity selection (sparsenn/attention_select.h): every size, index and
// buffer length is checked here before a kernel touches memory, so no argument can make it read or
// write out of bounds. Argument order is declared in lib/backend/binding.ts.
#include <algorithm>
#include <string>

#include "args.h"
#include "async_op.h"
#include "kv_args.h"
#include "registry.h"
#include "sparsenn/attention_select.h"

namespace sparsenn::binding {

namespace {

// Keys at [first, first + 7): k, kvDtype, kvHeads, length, headDim, headStride, tokenStride.
KvView parse_keys(const Napi::CallbackInfo& info, size_t first) {
  Napi::Env env = info.Env();
  const DType dt = arg_dtype(info, first + 1, "kvDtype");
  const int64_t kvh = arg_size(info, first + 2, "kvHeads");
  const int64_t len = arg_size(info, first + 3, "length", kMaxTokens - 1);
  const int64_t D = arg_size(info, first + 4, "headDim");
  const int64_t hs = arg_size(info, first + 5, "headStride");
  const int64_t ts = arg_size(info, first + 6, "tokenStride");
  if (kvh < 1 || D < 1) throw_coded(env, "ERR_SHAPE", "kvHeads and headDim must be at least 1");
  ArrayArg k = arg_array(info, first, "k", dt, kv_extent(env, kvh, len, D, hs, ts));
  return KvView{k.data, k.data, dt, kvh, len, D, hs, ts};
}

// Tiled rows at [i] with kvHeads, capacity (a multiple of 16) and width: bf16 data (Uint16Array),
// or with `scaled` int8 codes (Int8Array) at [i] and their per-row scales (Float32Array) at [i + 1].
TiledRows parse_tiled(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t kv_heads, int64_t capacity,
                      int64_t width, bool scaled = false, int64_t code_bits = 8) {
  Napi::Env env = info.Env();
  if (capacity % kSelectTile != 0)
    throw_coded(env, "ERR_SHAPE", std::string(name) + " capacity must be a multiple of 16, got " + std::to_string(capacity));
  if (width < 1) throw_coded(env, "ERR_SHAPE", std::string(name) + " width must be at least 1");
  const int64_t columns = code_bits == 4 ? (width + 1) / 2 : width;  // bytes per row (code_columns)
  const int64_t rows = checked_mul(env, kv_heads, capacity), elems = checked_mul(env, rows, columns);
  if (!scaled) {
    ArrayArg a = arg_array(info, i, name, DType::BF16, elems);
    return TiledRows{a.data, nullptr, kv_heads, capacity, width};
  }
  if (i >= info.Length() || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int8_array)
    throw_coded(env, "ERR_DTYPE", std::string(name) + " must be an Int8Array");
  Napi::TypedArray codes = info[i].As<Napi::TypedArray>();
  if (int64_t(codes.ElementLength()) < elems)
    throw_coded(env, "ERR_SHAPE", std::string(name) + " is too short: needs " + std::to_string(elems) + " elements, has " +
                                      std::to_string(codes.ElementLength()));
  ArrayArg scales = arg_array(info, i + 1, "scales", DType::F32, rows);
  int8_t* data = static_cast<int8_t*>(codes.ArrayBuffer().Data());
  return TiledRows{data ? data + codes.ByteOffset() : nullptr, static_cast<float*>(scales.data), kv_heads, capacity, width, code_bits};
}

void check_range(Napi::Env env, const char* what, int64_t begin, int64_t end, int64_t limit, const char* limit_name) {
  if (begin > end || end > limit)
    throw_coded(env, "ERR_ARG", std::string(what) + " [" + std::to_string(begin) + ", " + std::to_string(end) +
                                    ") must be an ordered range within " + limit_name + " (" + std::to_string(limit) + ")");
}

// Scores [kvHeads, round_up(n, 16)] (null or undefined: not wanted, scratch of the kernel's own) and
// items [kvHeads, k + 1].
struct SelectOut {
  float* scores;
  uint32_t* items;
};
SelectOut parse_select_out(const Napi::CallbackInfo& info, size_t i, int64_t kv_heads, int64_t n, int64_t k) {
  Napi::Env env = info.Env();
  const int64_t stride = (n + kSelectTile - 1) / kSelectTile * kSelectTile;
  const bool wanted = i < info.Length() && !info[i].IsUndefined() && !info[i].IsNull();
  ArrayArg scores = wanted ? arg_array(info, i, "scores", DType::F32, checked_mul(env, kv_heads, stride)) : ArrayArg{};
  ArrayArg items = arg_index_array(info, i + 1, "items", napi_uint32_array, checked_mul(env, kv_heads, k + 1));
  return SelectOut{static_cast<float*>(scores.data), static_cast<uint32_t*>(items.data)};
}

// q [heads, headDim] at [i, i+3): q, heads, headDim; heads a multiple of kvHeads.
F32View parse_queries(const Napi::CallbackInfo& info, size_t i, int64_t kv_heads, int64_t head_dim) {
  Napi::Env env = info.Env();
  const int64_t H = arg_size(info, i + 1, "heads");
  if (H < 1 || H % kv_heads != 0)
    throw_coded(env, "ERR_SHAPE", "heads (" + std::to_string(H) + ") must be a positive multiple of kvHeads (" + std::to_string(kv_heads) + ")");
  ArrayArg q = arg_array(info, i, "q", DType::F32, checked_mul(env, H, head_dim));
  return F32View{static_cast<const float*>(q.data), H, head_dim};
}

// channels [kvHeads, width] (Uint32Array), each < headDim.
const uint32_t* parse_channels(const Napi::CallbackInfo& info, size_t i, int64_t kv_heads, int64_t width, int64_t head_dim) {
  Napi::Env env = info.Env();
  ArrayArg ch = arg_index_array(info, i, "channels", napi_uint32_array, checked_mul(env, kv_heads, width));
  const uint32_t* c = static_cast<const uint32_t*>(ch.data);
  for (int64_t j = 0; j < kv_heads * width; ++j)
    if (int64_t(c[j]) >= head_dim)
      throw_coded(env, "ERR_ARG", "label channel " + std::to_string(c[j]) + " is not below headDim " + std::to_string(head_dim));
  return c;
}

// attentionQuestPageBounds(k, kvDtype, kvHeads, length, headDim, headStride, tokenStride, pageSize, bounds,
//                          scales, capacity, pageBegin, pageEnd)
Napi::Value AttentionQuestPageBounds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const KvView kv = parse_keys(info, 0);
  const int64_t page = arg_size(info, 7, "pageSize", kMaxTokens - 1);
  const int64_t cap = arg_size(info, 10, "capacity", kMaxTokens - 1);
  const int64_t b = arg_size(info, 11, "pageBegin", kMaxTokens - 1);
  const int64_t e = arg_size(info, 12, "pageEnd", kMaxTokens - 1);
  if (page < 1) throw_coded(env, "ERR_ARG", "pageSize must be at least 1");
  const TiledRows bounds = parse_tiled(info, 8, "bounds", kv.kv_heads, cap, 2 * kv.head_dim, true);
  check_range(env, "pages", b, e, std::min(cap, kv.length / page), "the complete pages of the cache and the capacity");
  run_sync(env, [&] { quest_page_bounds(kv, page, bounds, b, e); });
  return env.Undefined();
}

// Quest's selection arguments at [0, 9): q, heads, headDim, bounds, scales, kvHeads, capacity,
// current, keep.
struct QuestSelectIn {
  F32View q;
  TiledRows bounds;
  int64_t current, keep;
};
QuestSelectIn parse_quest_select(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t D = arg_size(info, 2, "headDim");
  const int64_t kvh = arg_size(info, 5, "kvHeads");
  const int64_t cap = arg_size(info, 6, "capacity", kMaxTokens - 1);
  const int64_t current = arg_size(info, 7, "current", kMaxTokens - 1);
  const int64_t keep = arg_size(info, 8, "keep", kMaxTokens - 1);
  if (D < 1 || kvh < 1) throw_coded(env, "ERR_SHAPE", "headDim and kvHeads must be at least 1");
  // Integer page scores stay below 2^31 up to this head dim (sparsenn/attention_select.h).
  if (D > 65536) throw_coded(env, "ERR_SHAPE", "Quest headDim must be at most 65536, got " + std::to_string(D));
  const F32View q = parse_queries(info, 0, kvh, D);
  const TiledRows bounds = parse_tiled(info, 3, "bounds", kvh, cap, 2 * D, true);
  check_range(env, "scored pages", 0, current, cap, "the bounds capacity");
  if (keep > current) throw_coded(env, "ERR_ARG", "keep (" + std::to_string(keep) + ") must not exceed current (" + std::to_string(current) + ")");
  return QuestSelectIn{q, bounds, current, keep};
}

// attentionQuestSelect(q, heads, headDim, bounds, scales, kvHeads, capacity, current, keep, scores, items)
Napi::Value AttentionQuestSelect(const Napi::CallbackInfo& info) {
  const QuestSelectIn a = parse_quest_select(info);
  const SelectOut o = parse_select_out(info, 9, a.bounds.kv_heads, a.current, a.keep);
  run_sync(info.Env(), [&] { quest_select(a.q, a.bounds, a.current, a.keep, o.scores, o.items); });
  return info.Env().Undefined();
}

// The KV cache of a fused selection + decode at [first, first + 6): k, v, kvDtype, length,
// headStride, tokenStride, with kvHeads and headDim of the selection's summaries.
KvView parse_decode_kv(const Napi::CallbackInfo& info, size_t first, int64_t kv_heads, int64_t head_dim) {
  const DType dt = arg_dtype(info, first + 2, "kvDtype");
  const int64_t len = arg_size(info, first + 3, "length", kMaxTokens - 1);
  const int64_t hs = arg_size(info, first + 4, "headStride");
  const int64_t ts = arg_size(info, first + 5, "tokenStride");
  return kv_arrays(info, first, dt, kv_heads, len, head_dim, hs, ts).view;
}

// The output [heads, headDim] of a fused selection + decode at i.
MutF32View parse_decode_out(const Napi::CallbackInfo& info, size_t i, const F32View& q) {
  ArrayArg out = arg_array(info, i, "out", DType::F32, checked_mul(info.Env(), q.rows, q.cols));
  return MutF32View{static_cast<float*>(out.data), q.rows, q.cols};
}

// attentionQuestSelectDecode(q, heads, headDim, bounds, scales, kvHeads, capacity, current, keep, items, pageSize,
//                            k, v, kvDtype, length, headStride, tokenStride, scale, out): the cache has the
// bounds' kvHeads and headDim, and holds a token of page `current`.
Napi::Value AttentionQuestSelectDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const QuestSelectIn a = parse_quest_select(info);
  const int64_t page = arg_size(info, 10, "pageSize", kMaxTokens - 1);
  if (page < 1) throw_coded(env, "ERR_ARG", "pageSize must be at least 1");
  const KvView kv = parse_decode_kv(info, 11, a.bounds.kv_heads, a.q.cols);
  if (checked_mul(env, a.current, page) >= kv.length)
    throw_coded(env, "ERR_ARG", "page current (" + std::to_string(a.current) + ") must start inside the cache (length " + std::to_string(kv.length) + ")");
  ArrayArg items = arg_index_array(info, 9, "items", napi_uint32_array, checked_mul(env, a.bounds.kv_heads, a.keep + 1));
  const float scale = arg_scale(info, 17);
  const MutF32View o = parse_decode_out(info, 18, a.q);
  uint32_t* it = static_cast<uint32_t*>(items.data);
  run_sync(env, [&] { quest_select_decode(a.q, a.bounds, a.current, a.keep, page, kv, scale, it, o); });
  return env.Undefined();
}

// Label code bits (argument i): 8 or 4.
int64_t parse_label_bits(const Napi::CallbackInfo& info, size_t i) {
  const int64_t bits = arg_size(info, i, "bits");
  if (bits != 4 && bits != 8) throw_coded(info.Env(), "ERR_ARG", "label bits must be 4 or 8, got " + std::to_string(bits));
  return bits;
}

// attentionLabelUpdate(k, kvDtype, kvHeads, length, headDim, headStride, tokenStride, channels, labels, scales,
//                      width, capacity, begin, end, bits)
Napi::Value AttentionLabelUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const KvView kv = parse_keys(info, 0);
  const int64_t width = arg_size(info, 10, "width");
  const int64_t cap = arg_size(info, 11, "capacity", kMaxTokens - 1);
  const int64_t b = arg_size(info, 12, "begin", kMaxTokens - 1);
  const int64_t e = arg_size(info, 13, "end", kMaxTokens - 1);
  const uint32_t* channels = parse_channels(info, 7, kv.kv_heads, width, kv.head_dim);
  const TiledRows labels = parse_tiled(info, 8, "labels", kv.kv_heads, cap, width, true, parse_label_bits(info, 14));
  check_range(env, "tokens", b, e, std::min(cap, kv.length), "the cache length and the label capacity");
  run_sync(env, [&] { label_cache_update(kv, channels, labels, b, e); });
  return env.Undefined();
}

// Double Sparsity's selection arguments at [0, 11): q, heads, headDim, channels, labels, scales,
// kvHeads, width, capacity, n, k.
struct LabelSelectIn {
  F32View q;
  const uint32_t* channels;
  TiledRows labels;
  int64_t n, k;
};
LabelSelectIn parse_label_select(const Napi::CallbackInfo& info, size_t bits_at) {
  Napi::Env env = info.Env();
  const int64_t D = arg_size(info, 2, "headDim");
  const int64_t kvh = arg_size(info, 6, "kvHeads");
  const int64_t width = arg_size(info, 7, "width");
  const int64_t cap = arg_size(info, 8, "capacity", kMaxTokens - 1);
  const int64_t n = arg_size(info, 9, "n", kMaxTokens - 1);
  const int64_t k = arg_size(info, 10, "k", kMaxTokens - 1);
  if (D < 1 || kvh < 1) throw_coded(env, "ERR_SHAPE", "headDim and kvHeads must be at least 1");
  // Integer label scores stay below 2^31 up to this width (sparsenn/attention_select.h).
  if (width > 65536) throw_coded(env, "ERR_SHAPE", "label width must be at most 65536, got " + std::to_string(width));
  const F32View q = parse_queries(info, 0, kvh, D);
  const uint32_t* channels = parse_channels(info, 3, kvh, width, D);
  const TiledRows labels = parse_tiled(info, 4, "labels", kvh, cap, width, true, parse_label_bits(info, bits_at));
  check_range(env, "scored tokens", 0, n, cap, "the label capacity");
  if (k > n) throw_coded(env, "ERR_ARG", "k (" + std::to_string(k) + ") must not exceed n (" + std::to_string(n) + ")");
  return LabelSelectIn{q, channels, labels, n, k};
}

// attentionLabelSelect(q, heads, headDim, channels, labels, scales, kvHeads, width, capacity, n, k, scores, items, bits)
Napi::Value AttentionLabelSelect(const Napi::CallbackInfo& info) {
  const LabelSelectIn a = parse_label_select(info, 13);
  const SelectOut o = parse_select_out(info, 11, a.labels.kv_heads, a.n, a.k);
  run_sync(info.Env(), [&] { label_select(a.q, a.channels, a.labels, a.n, a.k, o.scores, o.items); });
  return info.Env().Undefined();
}

// attentionLabelSelectDecode(q, heads, headDim, channels, labels, scales, kvHeads, width, capacity, n, k, items, bits,
//                            k, v, kvDtype, length, headStride, tokenStride, scale, out): the cache has the labels'
// kvHeads and headDim, and holds token n.
Napi::Value AttentionLabelSelectDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const LabelSelectIn a = parse_label_select(info, 12);
  const KvView kv = parse_decode_kv(info, 13, a.labels.kv_heads, a.q.cols);
  if (a.n >= kv.length) throw_coded(env, "ERR_ARG", "token n (" + std::to_string(a.n) + ") must be in the cache (length " + std::to_string(kv.length) + ")");
  ArrayArg items = arg_index_array(info, 11, "items", napi_uint32_array, checked_mul(env, a.labels.kv_heads, a.k + 1));
  const float scale = arg_scale(info, 19);
  const MutF32View o = parse_decode_out(info, 20, a.q);
  uint32_t* it = static_cast<uint32_t*>(items.data);
  run_sync(env, [&] { label_select_decode(a.q, a.channels, a.labels, a.n, a.k, kv, scale, it, o); });
  return env.Undefined();
}

}  // namespace

void register_attention_select(Napi::Env env, Napi::Object exports) {
  exports.Set("attentionQuestPageBounds", Napi::Function::New(env, AttentionQuestPageBounds, "attentionQuestPageBounds"));
  exports.Set("attentionQuestSelect", Napi::Function::New(env, AttentionQuestSelect, "attentionQuestSelect"));
  exports.Set("attentionQuestSelectDecode", Napi::Function::New(env, AttentionQuestSelectDecode, "attentionQuestSelectDecode"));
  exports.Set("attentionLabelUpdate", Napi::Function::New(env, AttentionLabelUpdate, "attentionLabelUpdate"));
  exports.Set("attentionLabelSelect", Napi::Function::New(env, AttentionLabelSelect, "attentionLabelSelect"));
  exports.Set("attentionLabelSelectDecode", Napi::Function::New(env, AttentionLabelSelectDecode, "attentionLabelSelectDecode"));
}

}  // namespace sparsenn::binding
