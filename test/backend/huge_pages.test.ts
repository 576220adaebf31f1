/**
 * adviseHugePages: the advice covers whole 2 MiB pages inside the view, leaves the contents alone
 * (the collapse copies pages), and refuses what is not a typed array with a coded error.
 */
import { adviseHugePages, HUGE_PAGE_BYTES, hugePageStorage } from '../../lib/backend/huge_pages';
import { nativeBinding } from '../../lib/backend/native';
import { SparsennError } from '../../lib/errors';

const native = nativeBinding();
const onLinuxNative = native && process.platform === 'linux' ? test : test.skip;
const MiB = 2 ** 20;

describe('adviseHugePages', () => {
  onLinuxNative('advises the whole 2 MiB pages of a large view and keeps its contents', () => {
    const a = new Uint16Array((9 * MiB) / 2 + 123);
    for (let i = 0; i < a.length; i++) a[i] = (i * 2654435761) >>> 16;
    const copy = a.slice();
    const advised = adviseHugePages(a);
    // 9 MiB + a bit, anywhere in memory: at least 3 whole 2 MiB pages inside (at most 4 of them).
    expect(advised % (2 * MiB)).toBe(0);
    expect(advised).toBeGreaterThanOrEqual(6 * MiB);
    expect(advised).toBeLessThanOrEqual(8 * MiB);
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(copy.buffer))).toBe(0);
    // A sub-view advises only its own interior.
    expect(adviseHugePages(new Float32Array(a.buffer, 0, MiB / 4))).toBe(0);
  });

  test('a small view has no whole huge page', () => {
    expect(adviseHugePages(new Float32Array(1000))).toBe(0);
  });

  (native ? test : test.skip)('refuses a non-typed-array with ERR_ARG', () => {
    const call = () => native!.adviseHugePages({} as unknown as ArrayBufferView);
    let err: unknown;
    try {
      call();
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('ERR_ARG');
    expect(() => adviseHugePages(new DataView(new ArrayBuffer(8)))).toThrow(SparsennError);
  });

  (native ? test : test.skip)('hugePageStorage: from a 2 MiB boundary once the bytes fill a huge page, else from a 64-byte line; zeroed, whole', () => {
    for (const bytes of [0, 100, HUGE_PAGE_BYTES - 64, HUGE_PAGE_BYTES, 3 * MiB + 17]) {
      const { buffer, byteOffset } = hugePageStorage(bytes);
      const a = new Uint8Array(buffer, byteOffset, bytes);
      if (bytes === 0) continue;
      expect(native!.addressAlignment(a) % (bytes >= HUGE_PAGE_BYTES ? HUGE_PAGE_BYTES : 64)).toBe(0);
      expect(a[0]! + a[bytes - 1]!).toBe(0);
      a[bytes - 1] = 9;
      expect(a[bytes - 1]).toBe(9);
    }
  });
});
