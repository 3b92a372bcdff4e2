// Resolves the user and group a `process` service runs as (services[].user / .group) to ids,
// through the system's name service (`getent`, so LDAP/NSS users work) with /etc/passwd and
// /etc/group as the fallback. Only an agent running as root can start a process as someone else.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface RunAs {
  uid: number;
  gid: number;
  /** The user's name and home, for USER/LOGNAME/HOME in the service's environment. */
  user: string;
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const ID = /^\d{1,10}$/;

function getent(db: 'passwd' | 'group', key: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      'getent',
      [db, key],
      { timeout: 5000, env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' } },
      (err, stdout) => {
        // Exit 2: no such key. ENOENT: no getent here; the files are read instead.
        resolve(err ? undefined : stdout.split('\n')[0]);
      },
    );
  });
}

async function fromFile(file: string, key: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
  // A name first; a number names the id (field 3) when no entry is called that.
  return (
    lines.find((l) => l.split(':')[0] === key) ??
    (ID.test(key) ? lines.find((l) => l.split(':')[2] === key) : undefined)
  );
}

async function lookup(db: 'passwd' | 'group', key: string): Promise<string[] | undefined> {
  const line = (await getent(db, key)) ?? (await fromFile(`/etc/${db}`, key));
  return line?.split(':');
}

async function lookupUser(user: string): Promise<PasswdEntry | undefined> {
  const f = await lookup('passwd', user);
  if (!f || f.length < 7 || !ID.test(f[2] ?? '') || !ID.test(f[3] ?? '')) return undefined;
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' };
}

async function lookupGroup(group: string): Promise<number | undefined> {
  const f = await lookup('group', group);
  if (f && ID.test(f[2] ?? '')) return Number(f[2]);
  return undefined;
}

/**
 * The ids to run a service as. A numeric user with no passwd entry is taken as it is (its group
 * must then be given); a name must exist. Throws with what is wrong and what to do.
 */
export async function resolveRunAs(
  service: string,
  user: string,
  group: string | undefined,
  agentUid: number | undefined = process.getuid?.(),
): Promise<RunAs> {
  if (agentUid !== 0) {
    throw new Error(
      `${service} is configured to run as user "${user}", but the agent runs as uid ${agentUid ?? 'unknown'}, not root: only an agent running as root can start a service as another user; run the agent as root, or remove "user"/"group" from the service (it then runs as the agent's user)`,
    );
  }
  const entry = await lookupUser(user);
  let uid: number;
  let gid: number | undefined;
  let name = user;
  let home = '/';
  if (entry) {
    ({ uid, gid, home, name } = entry);
  } else if (ID.test(user)) {
    uid = Number(user);
  } else {
    throw new Error(
      `${service}: user "${user}" does not exist on this server (not found by getent passwd or in /etc/passwd); create it (e.g. useradd --system ${user}) or fix services[].user`,
    );
  }
  if (group !== undefined) {
    const g = (await lookupGroup(group)) ?? (ID.test(group) ? Number(group) : undefined);
    if (g === undefined) {
      throw new Error(
        `${service}: group "${group}" does not exist on this server (not found by getent group or in /etc/group); create it (e.g. groupadd --system ${group}) or fix services[].group`,
      );
    }
    gid = g;
  }
  if (gid === undefined) {
    throw new Error(
      `${service}: user ${user} has no passwd entry, so it has no primary group; give services[].group too`,
    );
  }
  return { uid, gid, user: name, home };
}
