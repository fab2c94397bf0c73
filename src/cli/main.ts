import 'dotenv/config';
import { run } from './run.js';

// Entry of `npm run cli -- <command>`; see run.ts and `--help`.
const code = await run(
  process.argv.slice(2),
  (s) => process.stdout.write(s),
  (s) => process.stderr.write(s),
);
// Exit only once stdout has drained (it may be a pipe).
process.stdout.write('', () => process.exit(code));
