// Copies the CUDA addon built by `npm run build:cuda` into prebuilds/cuda/<platform>-<arch>/, so the npm
// tarball carries it. It sits outside prebuilds/<platform>-<arch>/ on purpose: node-gyp-build picks any
// .node file there, and the CPU addon must never be confused with the CUDA one.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const built = path.join(root, 'build-cuda', 'Release', 'sparsenn_cuda.node');
if (!fs.existsSync(built)) {
  console.error(`stage-cuda-prebuild: ${built} not found (run npm run build:cuda)`);
  process.exit(1);
}
const dir = path.join(root, 'prebuilds', 'cuda', `${process.platform}-${process.arch}`);
fs.mkdirSync(dir, { recursive: true });
fs.copyFileSync(built, path.join(dir, 'sparsenn_cuda.node'));
console.log(`staged ${path.relative(root, path.join(dir, 'sparsenn_cuda.node'))}`);
