// Where `rollgate login` keeps its sessions: one token per coordinator URL, in a file only the
// user can read (0600, directory 0700), like ssh keeps its keys. Written atomically.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SavedSession {
  token: string;
  username: string;
  expiresAt: number;
}

type Sessions = Record<string, SavedSession>;

const FILE = 'credentials.json';

async function readAll(dir: string): Promise<Sessions> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, FILE), 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Sessions) : {};
  } catch {
    return {};
  }
}

async function writeAll(dir: string, all: Sessions): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const tmp = join(dir, `.${FILE}.${process.pid}`);
  await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, join(dir, FILE));
}

/** The saved session for a coordinator, unless it has expired. */
export async function loadSession(
  dir: string | undefined,
  url: string,
  now: number,
): Promise<SavedSession | null> {
  if (!dir) return null;
  const s = (await readAll(dir))[url];
  return s && typeof s.token === 'string' && s.expiresAt > now ? s : null;
}

export async function saveSession(dir: string, url: string, session: SavedSession): Promise<void> {
  const all = await readAll(dir);
  all[url] = session;
  await writeAll(dir, all);
}

export async function forgetSession(dir: string, url: string): Promise<void> {
  const all = await readAll(dir);
  delete all[url];
  await writeAll(dir, all);
}
