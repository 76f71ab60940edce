// The addon's exports and lib/native.ts's contract name the same functions.
import test from 'ava';
import { NATIVE_EXPORTS, addonInfo } from '../dist/native.js';

test('every function the addon exports is in the typed contract, and every contract entry is exported', (t) => {
  const { addon, variant } = addonInfo();
  const exported = Object.keys(addon).filter((k) => typeof addon[k] === 'function').sort();
  const expected = NATIVE_EXPORTS.filter((k) => variant === 'cuda' || k !== 'cudaDevices').sort();
  t.deepEqual(exported, expected);
});
