// Jest environment for tests that call onnxruntime-node: its native code creates typed
// arrays in Node's own realm, while onnxruntime-common (loaded inside the test sandbox)
// checks them with the sandbox's `instanceof Float32Array` and rejects them. Sharing the
// outer realm's typed-array constructors with the sandbox makes both sides agree.
'use strict';
const NodeEnvironment = require('jest-environment-node').TestEnvironment;

const TYPED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array',
  'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class BenchEnvironment extends NodeEnvironment {
  async setup() {
    await super.setup();
    for (const name of TYPED) if (globalThis[name]) this.global[name] = globalThis[name];
  }
}

module.exports = BenchEnvironment;
