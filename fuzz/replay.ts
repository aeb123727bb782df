/**
 * Replays saved inputs through a fuzz target, printing each outcome:
 *   node --import tsx fuzz/replay.ts <target> <file>...
 * Exits 1 when an input breaks the contract (after `npm run build`: the targets run the built code).
 * test/faults/fuzz-regressions.test.ts runs inputs that once hung through this, under a timeout.
 */
import * as fs from 'node:fs';
import { disposeFuzzTargets, fuzzTarget } from './targets.js';

const [name, ...files] = process.argv.slice(2);
if (name === undefined || files.length === 0) {
  console.error('usage: node --import tsx fuzz/replay.ts <target> <file>...');
  process.exit(2);
}
const target = fuzzTarget(name);
let failed = 0;
for (const file of files) {
  try {
    target.run(new Uint8Array(fs.readFileSync(file)));
    console.log(`ok ${file}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${file}\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (err instanceof Error && err.cause instanceof Error) console.log(`caused by: ${err.cause.stack}`);
  }
}
disposeFuzzTargets();
process.exitCode = failed > 0 ? 1 : 0;
