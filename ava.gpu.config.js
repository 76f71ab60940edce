// `npm run test:gpu`: the CUDA parity suite (CUDA vs CPU on the same cases).
export default {
  files: ['test/gpu/**/*.test.js'],
  workerThreads: false,
  concurrency: 1,
  timeout: '5m',
};
