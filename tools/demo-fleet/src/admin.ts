// The demo's administrator: created on first start (`auth.bootstrap`, loopback only, as
// `rollgate admin init` does), its password kept in the demo's directory (0600) so a restart of
// `npm start` signs in again; every later start just signs in.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';

export interface FleetCredentials {
  username: string;
  password: string;
  token: string;
}

/** A tRPC client for the coordinator at `url`, signed in with `token` when given. */
export function authedClient(url: string, token?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url}/trpc`,
        headers: { 'x-rollgate-actor': 'demo-fleet', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      }),
    ],
  });
}

/**
 * Signs the fleet in as its administrator, creating it the first time. `file` keeps the password
 * (mode 0600); the user name is `admin`. `bootstrapSecretFile` is the coordinator's one-time
 * secret (`<data dir>/bootstrap-secret`), read as `rollgate admin init` does.
 */
export async function ensureAdmin(
  url: string,
  file: string,
  bootstrapSecretFile?: string,
): Promise<FleetCredentials> {
  const anonymous = authedClient(url);
  const username = 'admin';
  let password = await readFile(file, 'utf8').then(
    (t) => t.trim(),
    () => '',
  );
  if (!password) {
    password = randomBytes(12).toString('base64url');
    try {
      const bootstrapSecret = bootstrapSecretFile
        ? (await readFile(bootstrapSecretFile, 'utf8').catch(() => '')).trim()
        : '';
      await anonymous.auth.bootstrap.mutate({
        username,
        password,
        ...(bootstrapSecret ? { bootstrapSecret } : {}),
      });
    } catch (err) {
      if (err instanceof TRPCClientError && err.data?.code === 'CONFLICT') {
        throw new Error(
          `the coordinator already has an administrator but ${file} is missing: remove the demo's data directory (.rollgate/demo) to start afresh, or sign in with the password you set`,
        );
      }
      throw err;
    }
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${password}\n`, { mode: 0o600 });
  }
  const { token } = await anonymous.auth.login.mutate({ username, password });
  return { username, password, token };
}

/** Creates an account with `role` (as the fleet's admin) and signs it in. */
export async function createFleetUser(
  url: string,
  adminToken: string,
  username: string,
  role: 'admin' | 'operator' | 'viewer',
  password: string,
): Promise<{ token: string; api: ReturnType<typeof authedClient> }> {
  await authedClient(url, adminToken).users.create.mutate({ username, role, password });
  const { token } = await authedClient(url).auth.login.mutate({ username, password });
  return { token, api: authedClient(url, token) };
}
