// The one-time secret `rollgate admin init` must present to create the first administrator
// (docs/adr/0020). Loopback alone is not proof of being on the coordinator's machine: a reverse
// proxy on the same host makes every client loopback. Reading a 0600 file in the data directory is.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BootstrapSecretCheck } from './auth-service';

/** The file's name inside the coordinator's data directory. */
export const BOOTSTRAP_SECRET_FILE = 'bootstrap-secret';

export interface BootstrapSecretOptions {
  /** The coordinator's data directory; the secret is `<dataDir>/bootstrap-secret`. */
  dataDir: string;
}

export function createBootstrapSecret(opts: BootstrapSecretOptions): BootstrapSecretCheck & {
  /**
   * At start: while there is no account, makes sure the secret exists (kept across restarts, so a
   * secret already read still works), mode 0600; once there is one, removes any leftover.
   * Returns whether a secret is waiting to be used. Never logs the secret.
   */
  prepare(hasUsers: boolean): Promise<boolean>;
} {
  const path = join(opts.dataDir, BOOTSTRAP_SECRET_FILE);
  const read = () =>
    readFile(path, 'utf8').then(
      (t) => t.trim(),
      () => '',
    );
  return {
    path,
    async prepare(hasUsers) {
      if (hasUsers) {
        await rm(path, { force: true });
        return false;
      }
      if ((await read()).length >= 32) {
        await chmod(path, 0o600);
        return true;
      }
      await writeFile(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
      // writeFile's mode applies only to a new file (and under the umask); make it exact.
      await chmod(path, 0o600);
      return true;
    },
    async matches(candidate) {
      const secret = await read();
      const a = Buffer.from(secret);
      const b = Buffer.from(candidate.trim());
      return secret.length >= 32 && a.length === b.length && timingSafeEqual(a, b);
    },
    async consume() {
      await rm(path, { force: true });
    },
  };
}
