// Batch evaluation of a folder of DICOM studies: one question per study, the answers of every
// study in results.jsonl, and the accuracy where the expected answers are known.
//
//   node examples/batch-dicom.mjs MODEL_DIR STUDIES_DIR [OUT_DIR]
//
// STUDIES_DIR holds one folder per study with its .dcm files (one series), and optionally
// questions.json: { "question": "…", "options": ["…", …], "answers": { "<study>": "A", … } }.
// The slice shown to the model is the study's middle file in name order (for a volume, pick
// your own: any { dicom, window, frame } works). Studies are asked concurrently: the model server
// decodes them together. A study whose DICOM cannot be read gets an `error` row, and the batch
// goes on.
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startModelServer, writeFileAtomic } from 'gmai-vl-r1';

const DEFAULT_QUESTION = {
  question: 'Which imaging modality was used for this study?',
  options: ['CT', 'MRI', 'Radiograph', 'Ultrasound'],
};

/** Study folders of `dir`, each with its .dcm files sorted by name. */
export function listStudies(dir) {
  return readdirSync(dir).sort()
    .filter((name) => statSync(join(dir, name)).isDirectory())
    .map((name) => ({ name, files: readdirSync(join(dir, name)).filter((f) => /\.(dcm|dicom)$/i.test(f)).sort().map((f) => join(dir, name, f)) }))
    .filter((s) => s.files.length > 0);
}

export async function evaluateStudies(modelDir, studiesDir, { outDir = studiesDir, maxNewTokens = 256, seed = 1 } = {}) {
  const qFile = join(studiesDir, 'questions.json');
  const spec = existsSync(qFile) ? { ...DEFAULT_QUESTION, ...JSON.parse(readFileSync(qFile, 'utf8')) } : DEFAULT_QUESTION;
  const studies = listStudies(studiesDir);
  const server = await startModelServer(modelDir);
  let rows;
  try {
    rows = await Promise.all(studies.map(async ({ name, files }) => {
      const slice = files[Math.floor((files.length - 1) / 2)];
      const expected = spec.answers?.[name] ?? null;
      try {
        const r = await server.askImage({
          image: { dicom: slice }, question: spec.question, options: spec.options,
          generation: { maxNewTokens, temperature: 0, seed },
        });
        return { study: name, slice, letter: r.letter, expected, correct: expected === null ? null : r.letter === expected, formatOk: r.formatOk, text: r.text };
      } catch (e) {
        return { study: name, slice, letter: null, expected, correct: expected === null ? null : false, error: e.message };
      }
    }));
  } finally {
    await server.close();
  }
  const scored = rows.filter((r) => r.correct !== null);
  const accuracy = scored.length ? scored.filter((r) => r.correct).length / scored.length : null;
  const resultsPath = join(outDir, 'results.jsonl');
  await writeFileAtomic(resultsPath, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { rows, accuracy, scored: scored.length, resultsPath };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [modelDir, studiesDir, outDir] = process.argv.slice(2);
  if (!modelDir || !studiesDir) { console.error('usage: node examples/batch-dicom.mjs MODEL_DIR STUDIES_DIR [OUT_DIR]'); process.exit(2); }
  const { rows, accuracy, scored, resultsPath } = await evaluateStudies(modelDir, studiesDir, { outDir });
  for (const r of rows) console.log(`${r.study.padEnd(24)} ${r.error ? `error: ${r.error}` : `${r.letter ?? '-'}${r.expected ? ` (expected ${r.expected})` : ''}`}`);
  console.log(`${rows.length} studies${accuracy === null ? '' : `, accuracy ${(100 * accuracy).toFixed(1)}% over ${scored}`}; ${resultsPath}`);
}
