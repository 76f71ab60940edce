#!/usr/bin/env node
// The `gmai` command. The CLI itself is TypeScript compiled to dist/.
import('../dist/cli/main.js')
  .then((m) => m.main(process.argv.slice(2)))
  .then((code) => { process.exitCode = code ?? 0; })
  .catch((e) => {
    console.error(`gmai: ${e && e.message ? e.message : e}`);
    process.exitCode = 1;
  });
