// The optional-tool probe used by the numpy cross-check: a Python without numpy is passed over
// (the check is then skipped with its reason), never reported as a failure.
import test from 'ava';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPythonWithNumpy, pythonCandidates } from './helpers.js';

function fakePython(dir, name, hasNumpy) {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${hasNumpy ? 'exit 0' : 'echo "ModuleNotFoundError: No module named numpy" >&2; exit 1'}\n`);
  chmodSync(p, 0o755);
  return p;
}

test('findPythonWithNumpy skips Pythons without numpy and missing ones, and returns null when none has it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-py-'));
  const without = fakePython(dir, 'py-without', false);
  const withIt = fakePython(dir, 'py-with', true);
  t.is(findPythonWithNumpy([without, join(dir, 'absent')]), null);
  t.is(findPythonWithNumpy([without, join(dir, 'absent'), withIt]), withIt);
});

test('pythonCandidates: GMAI_TEST_PYTHON first, then PATH, then /usr/bin/python3', (t) => {
  const c = pythonCandidates({ GMAI_TEST_PYTHON: '/opt/py', PATH: '/a:/b' });
  t.deepEqual(c, ['/opt/py', '/a/python3', '/a/python', '/b/python3', '/b/python', '/usr/bin/python3']);
});
