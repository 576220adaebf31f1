/**
 * Huge pages for long-lived buffers that kernels stream, chiefly the KV cache: with 4 KiB pages a
 * decode-attention stream crosses a page every 16 f16 rows (head dim 128), each crossing a TLB walk
 * and a restart of the hardware prefetcher. Call once when such a buffer is allocated (or reused).
 */
import { fromNativeError } from '../errors';
import { nativeBinding } from './native';

/**
 * Asks the OS to back the 2 MiB-aligned interior of `view` with 2 MiB pages, collapsing the pages
 * already there where the kernel allows (Linux 6.1+). Contents are unchanged. Returns the bytes
 * advised: 0 without the native addon, off Linux, or for views holding no whole 2 MiB page.
 */
export function adviseHugePages(view: ArrayBufferView): number {
  const native = nativeBinding();
  if (!native) return 0;
  try {
    return native.adviseHugePages(view);
  } catch (e) {
    throw fromNativeError(e);
  }
}
