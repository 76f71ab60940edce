// The installed node-llama-cpp version, for the peers' reports.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
export const version = (() => {
  try {
    let dir = dirname(require.resolve('node-llama-cpp'));
    while (!dir.endsWith('node-llama-cpp')) dir = dirname(dir);
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch { return 'unknown'; }
})();
