import { alignedArray } from '../lib/backend/aligned';
import { nativeBinding } from '../lib/backend/native';
import { KvCache } from '../lib/index';

const native = nativeBinding();
const maybe = native ? describe : describe.skip;
if (!native) console.warn('aligned-array tests skipped: no native addon loaded (addresses are not visible from JS)');

maybe('cache-line aligned arrays', () => {
  const at = (v: ArrayBufferView) => native!.addressAlignment(v);

  test('arrays of every size start on the asked boundary, zeroed and fully writable', () => {
    for (const [ctor, n] of [
      [Float32Array, 1 << 20],
      [Uint16Array, 12345],
      [Uint8Array, 3],
      [Float32Array, 1],
    ] as const) {
      for (const align of [16, 64, 4096, 2 ** 21]) {
        const a = alignedArray(ctor as typeof Float32Array, n, align);
        expect(a.length).toBe(n);
        expect(at(a) % align).toBe(0);
        expect(a.every((x) => x === 0)).toBe(true);
        a[n - 1] = 7; // the whole length is writable inside the buffer
        expect(a[n - 1]).toBe(7);
      }
    }
  });

  test('the addon reports a view offset, not just its buffer', () => {
    const a = new Uint8Array(256);
    expect((at(a.subarray(3)) - at(a) + 2 ** 21) % 2 ** 21).toBe(3);
  });

  test('KV cache layer arrays start on a 64-byte line, before and after growth', () => {
    const c = new KvCache(2, 2, 64, 4096, 16);
    const check = () => {
      for (let l = 0; l < 2; l++) {
        expect(at(c.keys[l]!) % 64).toBe(0);
        expect(at(c.values[l]!) % 64).toBe(0);
      }
    };
    check();
    c.reserve(1000);
    check();
  });
});
