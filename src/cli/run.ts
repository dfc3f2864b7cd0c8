import { main } from './main.js';

// No top-level await: PM2's cluster mode loads this file with require().
main(process.argv).catch((error: unknown) => {
  process.stderr.write(`drumbeat: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
