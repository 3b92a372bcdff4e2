// The environment file the agent writes for a unit it does not start itself (systemd's
// EnvironmentFile=, or a wrapper script under supervisord): which edition is active, where it is,
// and the service's configured environment. Written atomically with mode 0600, since the values
// may hold secrets (a database URL), and never logged.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../lib/fs-util';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The file's text: `KEY="value"` lines in systemd's EnvironmentFile syntax (also valid for
 * `set -a; . file` in a shell), with ROLLGATE_SERVICE, ROLLGATE_EDITION and ROLLGATE_EDITION_DIR
 * first. A value with a newline or NUL cannot be written safely and is refused, naming the key only.
 */
export function renderEnvFile(
  service: string,
  edition: string,
  editionDir: string,
  env: Record<string, string>,
): string {
  const all: Record<string, string> = {
    ROLLGATE_SERVICE: service,
    ROLLGATE_EDITION: edition,
    ROLLGATE_EDITION_DIR: editionDir,
    ...env,
  };
  const lines = ['# Written by the Rollgate agent at each start; edits are overwritten.'];
  for (const [key, value] of Object.entries(all)) {
    if (!NAME.test(key)) {
      throw new Error(`environment variable name ${JSON.stringify(key)} is not allowed in an env file`);
    }
    if (/[\n\r\0]/.test(value)) {
      throw new Error(
        `the value of ${key} holds a line break or NUL, which an env file cannot carry; change it in services[].env or the configure op`,
      );
    }
    // Inside double quotes systemd (and a POSIX shell) take \\ \" \$ \` as escapes.
    lines.push(`${key}="${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`);
  }
  return `${lines.join('\n')}\n`;
}

/** Replaces path with text so a reader sees the old or the new file, never half of one; mode 0600. */
export async function writeEnvFileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, text, 0o600);
}
