// Lists native sources for binding.gyp (and documents the rule CMakeLists.txt follows):
// files named *_avx512.cc / *_avx2.cc are ISA variants compiled with their own flags;
// every other .cc under native/cpu and native/binding is portable.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const kind = process.argv[2] || 'base';
const list = (dir) =>
  fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.cc')).sort().map((f) => `${dir}/${f}`);

const cpu = list('native/cpu');
const isa = (f) => (f.endsWith('_avx512.cc') ? 'avx512' : f.endsWith('_avx2.cc') ? 'avx2' : 'base');
const files = kind === 'base' ? [...cpu.filter((f) => isa(f) === 'base'), ...list('native/binding')] : cpu.filter((f) => isa(f) === kind);
process.stdout.write(files.join(' '));
