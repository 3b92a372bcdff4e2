// The Ansible side of `vs-ansible`: one trial of the peer baseline's run.sh, in TypeScript. A fresh
// fleet in the trial's directory (4 × svc.js at edition 1.0 behind the peer's HAProxy on the ports
// inventory.ini names), the playbook as given (`serial: 1` + community.general.haproxy drain), timed
// around `ansible-playbook` as run.sh times it, and the services' own logs for the intrinsic time.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createHaproxyRuntime } from '@rollgate/lb';
import { startHaproxy } from '@rollgate/lb/testing';
import { onCleanup, sleep, waitFor } from '../lib/proc';
import {
  editionsServed,
  intrinsicFromSvcLog,
  peerHaproxyConfig,
  readText,
  startWrk,
  sumIntrinsic,
  tarGz,
  writeEditionDir,
  type Load,
  type ServerIntrinsic,
  type WrkReport,
} from './vs-ansible-fleet';

/** inventory.ini's ports (fixed there) and run.sh's frontend. */
const LB_PORT = 19080;
const PORTS = [19081, 19082, 19083, 19084];

/** Where the collection lives in Debian's ansible package. */
const COLLECTION =
  '/usr/lib/python3/dist-packages/ansible_collections/community/general/plugins/modules/haproxy.py';

export interface AnsibleTrial {
  wallS: number;
  rc: number;
  intrinsicS: number;
  servers: ServerIntrinsic[];
  load: WrkReport | null;
  served: string[];
  /** ansible-playbook start to its first log line, s. */
  startupS: number | null;
}

/** Whether Debian's ansible carries community.general's haproxy module (REPORT.md's 6.6.2 does). */
export function haproxyModulePresent(): boolean {
  return existsSync(COLLECTION);
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/**
 * A child subreaper around ansible-playbook, as run.sh re-execs itself: the playbook starts each new
 * service with `setsid nohup … &`, and where PID 1 does not reap orphans the old one would stay a
 * zombie that `wait_for: path=/proc/PID state=absent` never sees go. The wrapper reaps every orphan
 * and exits with the playbook's status.
 */
const SUBREAPER = `import ctypes, os, sys
if ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) != 0: sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while True:
    p, st = os.wait()
    if p == pid: sys.exit(os.waitstatus_to_exitcode(st))`;

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((res) => {
    if (child.exitCode !== null) res(child.exitCode);
    else child.once('exit', (code, sig) => res(code ?? (sig ? 128 : 1)));
  });
}

/** Runs one trial of the playbook in `dir` (created here) under `load`. */
export async function ansibleTrial(peerDir: string, dir: string, load: Load): Promise<AnsibleTrial> {
  for (const p of [LB_PORT, ...PORTS])
    if (!(await portFree(p)))
      throw new Error(`port ${p} (fixed in ${peerDir}/inventory.ini) is in use: stop what holds it`);
  // The fleet, as run.sh's setup_fleet builds it.
  await mkdir(join(dir, 'pkg'), { recursive: true });
  await writeEditionDir(join(dir, 'pkg'), '2.0');
  tarGz(join(dir, 'edition-2.0.tar.gz'), join(dir, 'pkg'), ['2.0']);
  for (let i = 1; i <= 4; i++) {
    const eds = join(dir, `s${i}`, 'editions');
    await writeEditionDir(eds, '1.0');
    await symlink('1.0', join(eds, 'current'));
  }
  const services: ChildProcess[] = [];
  const stopServices = onCleanup(`ansible fleet ${dir}`, () => stopByPidFiles(dir));
  for (let i = 1; i <= 4; i++) {
    const sdir = join(dir, `s${i}`);
    const out = createWriteStream(join(sdir, 'svc.log'), { flags: 'a' });
    const child = spawn(
      process.execPath,
      [join(peerDir, 'svc.js'), String(PORTS[i - 1]), join(sdir, 'editions'), `s${i}`],
      { cwd: sdir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    await writeFile(join(sdir, 'svc.pid'), `${child.pid}\n`);
    services.push(child);
  }
  const socketPath = join(dir, 'haproxy.sock');
  const haproxy = await startHaproxy({
    config: peerHaproxyConfig({
      socketPath,
      frontPort: LB_PORT,
      servers: PORTS.map((port, i) => ({ name: `s${i + 1}`, port })),
    }),
  });
  const stopHaproxy = onCleanup('ansible haproxy', () => haproxy.stop());
  const runtime = createHaproxyRuntime({ socketPath, timeoutMs: 15_000 });
  await waitFor(
    'the Ansible fleet UP in HAProxy',
    async () => {
      const rows = await runtime.serverStats('app');
      return rows.length === 4 && rows.every((r) => r.status === 'UP') ? true : undefined;
    },
    60_000,
    100,
  );
  const front = `http://127.0.0.1:${LB_PORT}/`;
  const wrk = load === 'none' ? null : startWrk(peerDir, front, load);
  if (wrk) await sleep(2000);

  const t0 = Date.now();
  const p0 = performance.now();
  // Debian's interpreter, the one ansible-playbook runs on (a pyenv shim on PATH costs a bash or two).
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const ansible = spawn(
    python,
    ['-c', SUBREAPER, 'ansible-playbook', 'rolling.yml', '-e', `work_dir=${dir}`],
    {
      cwd: peerDir,
      env: {
        ...process.env,
        ANSIBLE_CONFIG: join(peerDir, 'ansible.cfg'),
        ANSIBLE_LOG_PATH: join(dir, 'ansible.log'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const out = createWriteStream(join(dir, 'ansible.out'));
  ansible.stdout!.pipe(out);
  ansible.stderr!.pipe(out);
  const rc = await exitOf(ansible);
  const wallS = (performance.now() - p0) / 1000;
  const t1 = Date.now();
  let report: WrkReport | null = null;
  if (wrk) {
    await sleep(2000);
    report = await wrk.stop();
  }
  const served = await editionsServed(front);
  await stopHaproxy();
  await stopServices();
  for (const c of services) if (c.exitCode === null) c.kill('SIGTERM');

  const servers = [1, 2, 3, 4].map((i) =>
    intrinsicFromSvcLog(readText(join(dir, `s${i}`, 'svc.log')), t0, t1),
  );
  if (rc !== 0)
    throw new Error(
      `ansible-playbook exited ${rc}; its output:\n${readText(join(dir, 'ansible.out')).slice(-3000)}`,
    );
  const firstLog = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})/m.exec(readText(join(dir, 'ansible.log')));
  const startupS = firstLog
    ? (Date.parse(firstLog[1]!.replace(' ', 'T').replace(',', '.')) - t0) / 1000
    : null;
  return { wallS, rc, intrinsicS: sumIntrinsic(servers), servers, load: report, served, startupS };
}

/**
 * Stops the trial's services by their pid files (the playbook started the new ones), each only if
 * it is still a svc.js of this trial, and waits until each has exited or is a zombie.
 */
async function stopByPidFiles(dir: string): Promise<void> {
  for (let i = 1; i <= 4; i++) {
    const pid = Number(readText(join(dir, `s${i}`, 'svc.pid')).trim());
    if (!(pid > 0)) continue;
    const cmdline = readText(`/proc/${pid}/cmdline`).replace(/\0/g, ' ');
    if (!cmdline.includes('svc.js') || !cmdline.includes(join(dir, `s${i}`))) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      continue;
    }
    await waitFor(
      `service s${i} (pid ${pid}) to exit`,
      () => {
        const stat = readText(`/proc/${pid}/stat`);
        return stat === '' || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z') ? true : undefined;
      },
      15_000,
      50,
    ).catch(() => process.kill(pid, 'SIGKILL'));
  }
}
