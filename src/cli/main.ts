import { readFileSync } from 'node:fs';
import { runCli } from './cli.js';

// The `chatrelay` command: bin/chatrelay.js and `npm run cli --` run this file.
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  readStdin: () => readFileSync(0, 'utf8'),
});
