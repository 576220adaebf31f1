/**
 * Huge pages for long-lived buffers that kernels stream, chiefly the KV cache: with 4 KiB pages a
 * decode-attention stream crosses a page every 16 f16 rows (head dim 128), each crossing a TLB walk
 * and a restart of the hardware prefetcher. Call once when such a buffer is allocated (or reused).
 */
import { fromNativeError } from '../errors';
import { alignedArray } from './aligned';
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

/** The size of a huge page (x86-64 and most aarch64 Linux kernels). */
export const HUGE_PAGE_BYTES = 2 * 2 ** 20;

/**
 * Storage for a summary that a selection streams whole at every decode step (Quest's page bounds,
 * Double Sparsity's label cache): `bytes` zeroed bytes from a 2 MiB boundary, backed by 2 MiB pages,
 * when they fill at least one such page; else from a 64-byte line. Unlike adviseStreamedStorage
 * (the aligned interior of an array placed anywhere), every byte lands in a huge page, so a 3 MiB
 * label cache takes two TLB entries instead of 768 — and its stream no TLB walks, which a decode
 * step pays cold. (Measured at 32K context, 8 KV heads, caches evicted: Double Sparsity's selection
 * 182 -> 167 us.) Costs up to 2 MiB of untouched address space ahead of the bytes, and the last
 * page rounds the backing up.
 */
export function hugePageStorage(bytes: number): { buffer: ArrayBuffer; byteOffset: number } {
  const huge = nativeBinding() !== undefined && bytes >= HUGE_PAGE_BYTES;
  const a = huge ? alignedArray(Uint8Array, Math.ceil(bytes / HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES, HUGE_PAGE_BYTES) : alignedArray(Uint8Array, bytes);
  if (huge) adviseHugePages(a);
  return { buffer: a.buffer, byteOffset: a.byteOffset };
}
