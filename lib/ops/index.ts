// The op layer: typed functions over native kernels. Model code uses only these.
export * from './basic.js';
export * from './attention.js';
export * from './sampling.js';
export * from './image.js';
export * from './shape.js';
export * from './loss.js';
export * from './optim.js';
