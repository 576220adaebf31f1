/** Sampler and StopMatcher: each filter does what it says; seeded draws repeat. */
import { Sampler } from '../../lib/generate/sampler';
import { StopMatcher } from '../../lib/generate/stop_matcher';

const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);

function histogram(s: Sampler, n: number, l = logits): number[] {
  const h = new Array<number>(l.length).fill(0);
  for (let i = 0; i < n; i++) h[s.sample(l, [])]!++;
  return h.map((c) => c / n);
}

test('temperature 0 is argmax', () => {
  expect(new Sampler({ temperature: 0 }).sample(Float32Array.from([0.1, 3, -2, 2.9]), [])).toBe(1);
});

test('temperature 1 samples the softmax distribution', () => {
  const f = histogram(new Sampler({ seed: 7 }), 20000);
  [0.5, 0.3, 0.15, 0.05].forEach((p, i) => expect(Math.abs(f[i]! - p)).toBeLessThan(0.02));
});

test('topK keeps the k most likely', () => {
  const f = histogram(new Sampler({ seed: 1, topK: 2 }), 5000);
  expect(f[2]).toBe(0);
  expect(f[3]).toBe(0);
  expect(Math.abs(f[0]! - 0.5 / 0.8)).toBeLessThan(0.03);
});

test('topP keeps the smallest set reaching p', () => {
  const f = histogram(new Sampler({ seed: 2, topP: 0.75 }), 5000);
  expect(f[0]! + f[1]!).toBe(1);
});

test('minP drops tokens below minP × the best', () => {
  const f = histogram(new Sampler({ seed: 3, minP: 0.5 }), 5000); // keeps p ≥ 0.25
  expect(f[0]! + f[1]!).toBe(1);
  expect(f[1]).toBeGreaterThan(0.3);
});

test('repetition penalty discourages tokens already seen', () => {
  const l = Float32Array.from([2, 1.9, -1]);
  expect(new Sampler({ temperature: 0 }).sample(l, [0])).toBe(0);
  expect(new Sampler({ temperature: 0, repetitionPenalty: 1.5 }).sample(l, [0])).toBe(1);
});

test('same seed, same draws; another seed, other draws', () => {
  const draw = (seed: number) => {
    const s = new Sampler({ seed });
    return Array.from({ length: 40 }, () => s.sample(logits, []));
  };
  expect(draw(5)).toEqual(draw(5));
  expect(draw(5)).not.toEqual(draw(6));
});

test.each([
  [{ temperature: -1 }],
  [{ topK: 1.5 }],
  [{ topP: 0 }],
  [{ topP: 1.1 }],
  [{ minP: 1 }],
  [{ repetitionPenalty: 0 }],
  [{ seed: 0.5 }],
  [{ temperature: NaN }],
])('bad option %j → ERR_ARG', (o) => {
  expect(() => new Sampler(o)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
});

describe('StopMatcher', () => {
  test('holds back a possible stop-string prefix, releases it when it is not one', () => {
    const m = new StopMatcher(['END']);
    expect(m.push('abc E')).toEqual({ text: 'abc ', stopped: false });
    expect(m.push('N')).toEqual({ text: '', stopped: false });
    expect(m.push('x')).toEqual({ text: 'ENx', stopped: false });
  });

  test('finds a stop string split across chunks and cuts before it', () => {
    const m = new StopMatcher(['END', 'halt']);
    expect(m.push('one E').text).toBe('one ');
    expect(m.push('ND two')).toEqual({ text: '', stopped: true });
  });

  test('earliest stop string wins; flush returns what was held', () => {
    const m = new StopMatcher(['b', 'a']);
    expect(m.push('xxab')).toEqual({ text: 'xx', stopped: true });
    const n = new StopMatcher(['xyz']);
    n.push('ab x');
    expect(n.flush()).toBe('x');
  });
});

test('topK selection handles ties and large vocabularies (k best by value, then by id)', () => {
  const r = Float32Array.from({ length: 5000 }, (_, i) => (i * 7919) % 1000);
  const s = new Sampler({ seed: 1, topK: 3, temperature: 1e-3 }); // near-greedy within the 3 best
  const seen = new Set<number>();
  for (let i = 0; i < 50; i++) seen.add(s.sample(r, []));
  for (const id of seen) expect(r[id]).toBe(999);
  const ties = new Float32Array(10).fill(1);
  const t = new Sampler({ seed: 2, topK: 4 });
  for (let i = 0; i < 200; i++) expect(t.sample(ties, [])).toBeLessThan(4);
});
