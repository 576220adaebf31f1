/**
 * Writes the protobuf bytes of a one-node ONNX model (MatMul or Gemm with the weight
 * as an initializer), so the onnxruntime-node baseline needs no model file and no
 * protobuf library. Field numbers are those of onnx/onnx.proto (ModelProto, GraphProto,
 * NodeProto, TensorProto, ValueInfoProto); only what ONNX Runtime needs is written.
 */

// Protobuf wire types.
const VARINT = 0;
const LEN = 2;

function varint(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint: ${n} is not a non-negative safe integer`);
  const out: number[] = [];
  let v = BigInt(n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

const tag = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, n: number) => Buffer.concat([tag(field, VARINT), varint(n)]);
const bytes = (field: number, b: Buffer | Uint8Array) => Buffer.concat([tag(field, LEN), varint(b.length), b]);
const str = (field: number, s: string) => bytes(field, Buffer.from(s, 'utf8'));
const msg = (field: number, ...parts: Buffer[]) => bytes(field, Buffer.concat(parts));

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_INT = 2; // AttributeProto.AttributeType.INT

/** ValueInfoProto{name, type: TypeProto{tensor_type{elem_type: FLOAT, shape}}}. */
function valueInfo(field: number, name: string, dims: readonly number[]): Buffer {
  const shape = Buffer.concat(dims.map((d) => msg(1, int(1, d)))); // TensorShapeProto.dim{dim_value}
  return msg(field, str(1, name), msg(2, msg(1, int(1, FLOAT), msg(2, shape))));
}

/** TensorProto{dims, data_type: FLOAT, name, raw_data (little-endian f32)}. */
function initializer(field: number, name: string, dims: readonly number[], data: Float32Array): Buffer {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return msg(field, ...dims.map((d) => int(1, d)), int(2, FLOAT), str(8, name), bytes(9, raw));
}

export interface LinearModelSpec {
  M: number;
  K: number;
  N: number;
  /**
   * 'MatMul': Y = X · B with B = weight given as [K, N] (Wᵀ, the layout MatMul wants).
   * 'Gemm':   Y = X · Bᵀ with transB = 1 and B = weight given as [N, K] (W as stored).
   */
  op: 'MatMul' | 'Gemm';
  weight: Float32Array;
}

/** The ONNX bytes of Y[M,N] = X[M,K] · Wᵀ as one MatMul or Gemm node (IR 7, opset 13). */
export function linearModel(spec: LinearModelSpec): Buffer {
  const { M, K, N, op, weight } = spec;
  if (weight.length !== K * N) throw new RangeError(`weight has ${weight.length} elements, needs ${K * N}`);
  const bDims = op === 'MatMul' ? [K, N] : [N, K];
  const attrs = op === 'Gemm' ? [msg(5, str(1, 'transB'), int(3, 1), int(20, ATTR_INT))] : [];
  const node = msg(1, str(1, 'X'), str(1, 'B'), str(2, 'Y'), str(3, 'linear'), str(4, op), ...attrs);
  const graph = msg(
    7,
    node,
    str(2, 'sparsenn_bench'),
    initializer(5, 'B', bDims, weight),
    valueInfo(11, 'X', [M, K]),
    valueInfo(12, 'Y', [M, N]),
  );
  const opset = msg(8, str(1, ''), int(2, 13));
  return Buffer.concat([int(1, 7), str(2, 'sparsenn-bench'), opset, graph]);
}
