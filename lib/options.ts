/** Option-bag checking shared by every public function: unknown keys are errors, not silently ignored. */
import { SparsennError } from './errors';

export function checkOptions<T extends object>(opts: unknown, allowed: readonly string[], fn: string): Partial<T> {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object' || Array.isArray(opts))
    throw new SparsennError('ERR_ARG', `${fn}: options must be an object`);
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key))
      throw new SparsennError('ERR_ARG', `${fn}: unknown option '${key}' (known: ${allowed.join(', ') || 'none'})`);
  }
  return opts as Partial<T>;
}
