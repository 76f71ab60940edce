// Every name the README shows as importable is exported from the package root.
import test from 'ava';
import { readFileSync } from 'node:fs';
import * as root from '../dist/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** Names in `import { … } from 'gmai-vl-r1'` lines, and the backquoted plain identifiers of the
 * paragraph that lists the exported lower layers. */
function namesTheReadmeShows() {
  const names = new Set();
  for (const m of readme.matchAll(/import\s*\{([^}]*)\}\s*from\s*'gmai-vl-r1'/g)) {
    for (const n of m[1].split(',').map((s) => s.trim().split(/\s+as\s+/)[0]).filter(Boolean)) names.add(n);
  }
  const para = readme.match(/Lower layers are exported too[\s\S]*?\n\n/);
  if (para) for (const m of para[0].matchAll(/`([A-Za-z_$][\w$]*)`/g)) names.add(m[1]);
  return [...names];
}

test('the README finds names to check (the patterns still match the text)', (t) => {
  const names = namesTheReadmeShows();
  t.true(names.includes('loadModel') && names.includes('readDicom'), names.join(', '));
});

test('every name the README shows is exported from the package root', (t) => {
  const missing = namesTheReadmeShows().filter((n) => !(n in root));
  t.deepEqual(missing, [], `README names not exported: ${missing.join(', ')}`);
});
