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

/**
 * Weight and cache arrays at least this large are asked for 2 MiB pages. Below it, a buffer holds
 * at most one whole 2 MiB page and the TLB already covers it.
 */
export const HUGE_PAGE_MIN_BYTES = 4 * 2 ** 20;

/**
 * The library's one policy for long-lived streamed storage (weights in every format, dense or
 * sparse, the transposed input-sparse copy, the KV cache): arrays of HUGE_PAGE_MIN_BYTES or more
 * get 2 MiB pages, the rest are left alone. Decode kernels stream such arrays in short runs (a
 * row, a head's block), and with 4 KiB pages every run crosses a page often: a TLB walk and a
 * restart of the hardware prefetcher each time. Applied alike to dense and sparse weights, so
 * same-run comparisons between them stay fair.
 */
export function adviseStreamedStorage(...views: readonly ArrayBufferView[]): void {
  for (const v of views) if (v.byteLength >= HUGE_PAGE_MIN_BYTES) adviseHugePages(v);
}
