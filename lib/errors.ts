/**
 * Every error sparsenn throws on purpose is a SparsennError with a stable `code`.
 * Codes are part of the API: match on `err.code`, never on the message.
 */
export type ErrorCode =
  | 'ERR_SHAPE' // sizes that do not agree, or are not non-negative integers
  | 'ERR_DTYPE' // wrong element type or typed-array kind
  | 'ERR_ARG' // unknown option or invalid option value
  | 'ERR_DETACHED' // a typed array whose buffer was transferred
  | 'ERR_BACKEND' // the requested backend is not available
  | 'ERR_PATTERN' // a weight that does not fit the requested sparsity pattern
  | 'ERR_FORMAT' // a corrupted or inconsistent sparse-format buffer
  | 'ERR_MODEL_FILE' // a model or tokenizer file that is truncated or lies about its contents
  | 'ERR_ABORTED' // work cancelled through an AbortSignal
  | 'ERR_NATIVE'; // a failure inside the native addon

export class SparsennError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SparsennError';
    this.code = code;
  }
}

/** Turns an error thrown by the native addon (a plain Error with `code`) into a SparsennError. */
export function fromNativeError(e: unknown): SparsennError {
  if (e instanceof SparsennError) return e;
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' && err.code.startsWith('ERR_') ? (err.code as ErrorCode) : 'ERR_NATIVE';
  return new SparsennError(code, String(err?.message ?? e), { cause: e });
}
