/**
 * `rollgate`'s entry point. `--version` is answered here, before anything else is loaded; every
 * other command loads the program (commander, the tRPC client, zod) on demand. In the bundle
 * (tools/cli-bundle) the dynamic import keeps that code unevaluated until it is needed.
 *
 * No top-level await: the bundle is CommonJS, and a module imported on demand cannot have one.
 */
import { versionLine } from './version';

const args = process.argv.slice(2);

// `rollgate … | head` closes stdout early; that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${versionLine()}\n`);
} else {
  void import('./program').then(async ({ runCli }) => {
    const code = await runCli(process.argv);
    // Everything is said (stdout and stderr are synchronous on Linux for files, pipes and
    // terminals); waiting for the event loop to drain would only wait for the live stream's and
    // the HTTP agent's sockets to wind down, 60–100 ms after a `--wait` run's last line.
    process.exit(code);
  });
}
