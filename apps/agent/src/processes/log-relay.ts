// The writer between a `process` service and its log file, rotating it by size (docs/adr/0023).
//
// A service that writes straight into its log file (as before) cannot have that file rotated
// without losing or repeating lines: it keeps writing into whatever inode it opened, and
// copy-then-truncate races its writes. So the service writes into a pipe, and this small relay —
// a process of its own, detached like the service, so both outlive an agent restart — writes
// whole lines into `<file>`, renaming it to `<file>.1` (… `<file>.<keep>`, the oldest dropped)
// before a line would take it past maxBytes. Disk use is bounded by (keep + 1) × maxBytes, plus
// one line longer than maxBytes (written whole into a file of its own, never split).
//
// It ignores SIGTERM/SIGINT/SIGHUP and leaves at end of input — when the service and every
// process that inherited its output are gone — so the service's last words reach the file. It
// never exits on an error of its own: a dead relay would kill the service with SIGPIPE. It runs
// as `node -e <source>` so the same text works under tsx and in the bundle.
//
// It reads the service's stdout on fd 0 and its stderr on fd 3, each a pipe the service got at
// its own start: the relay is started after the service, so its start (a fork and a Node boot)
// is not on the way to the service's (docs/adr/0057). Lines of each are whole; between the two,
// in the order the relay reads them.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

/** How a service's log file is rotated (services[].log). */
export interface LogRotation {
  /** Size at which the file is rotated, bytes; default 10 MiB. */
  maxBytes: number;
  /** Rotated files kept (file.1 … file.keep); default 5. */
  keep: number;
}

export const DEFAULT_LOG_ROTATION: LogRotation = { maxBytes: 10 * 1024 * 1024, keep: 5 };

/** A partial line longer than this is written out as it is (the relay's memory stays bounded). */
const MAX_PENDING = 64 * 1024;

// Plain CommonJS run by `node -e`: argv is [node, file, maxBytes, keep, uid, gid].
export const RELAY_SOURCE = String.raw`
'use strict';
const fs = require('node:fs');
const [file, maxS, keepS, uidS, gidS] = process.argv.slice(1);
const maxBytes = Number(maxS);
const keep = Number(keepS);
const uid = uidS === '' || uidS === undefined ? -1 : Number(uidS);
const gid = gidS === '' || gidS === undefined ? -1 : Number(gidS);
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGPIPE']) process.on(s, () => {});
process.on('uncaughtException', () => {});
let fd = -1;
let size = 0;
function openLog() {
  try {
    fd = fs.openSync(file, 'a', 0o640);
    if (uid >= 0) fs.fchownSync(fd, uid, gid);
    size = fs.fstatSync(fd).size;
  } catch {
    fd = -1;
    size = 0;
  }
}
function rotate() {
  if (fd >= 0) fs.closeSync(fd);
  for (let i = keep - 1; i >= 1; i--) {
    try { fs.renameSync(file + '.' + i, file + '.' + (i + 1)); } catch {}
  }
  try { fs.renameSync(file, file + '.1'); } catch {}
  openLog();
}
function put(buf) {
  if (fd < 0) openLog();
  if (fd < 0) return; // no disk: the line is dropped, the service goes on
  let off = 0;
  while (off < buf.length) {
    try { off += fs.writeSync(fd, buf, off, buf.length - off); } catch { return; }
  }
  size += buf.length;
}
// Writes complete lines, rotating before a line would cross maxBytes.
function write(buf) {
  // Others may append too (the agent's command output): measure the file, not our own writes.
  if (fd >= 0) { try { size = fs.fstatSync(fd).size; } catch {} }
  let start = 0;
  while (start < buf.length) {
    const room = maxBytes - size;
    const rest = buf.length - start;
    if (rest <= room) { put(buf.subarray(start)); return; }
    const cut = room > 0 ? buf.lastIndexOf(10, start + room - 1) : -1;
    if (cut >= start) {
      put(buf.subarray(start, cut + 1));
      start = cut + 1;
      rotate();
    } else if (size > 0) {
      rotate();
    } else {
      // One line longer than maxBytes: whole, in a file of its own.
      let nl = buf.indexOf(10, start);
      if (nl < 0) nl = buf.length - 1;
      put(buf.subarray(start, nl + 1));
      start = nl + 1;
      if (start < buf.length) rotate();
    }
  }
}
openLog();
let open = 0;
function relay(input) {
  open++;
  let pending = Buffer.alloc(0);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    if (pending.length > 0) write(pending);
    pending = Buffer.alloc(0);
    if (--open > 0) return;
    if (fd >= 0) fs.closeSync(fd);
    process.exit(0);
  };
  input.on('data', (chunk) => {
    const buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    const nl = buf.lastIndexOf(10);
    if (nl < 0) {
      if (buf.length > ${MAX_PENDING}) { write(buf); pending = Buffer.alloc(0); } else pending = buf;
      return;
    }
    write(buf.subarray(0, nl + 1));
    pending = Buffer.from(buf.subarray(nl + 1));
  });
  input.on('end', end);
  input.on('close', end);
  input.on('error', () => {});
}
relay(process.stdin);
let second = null;
try { second = new (require('node:net').Socket)({ fd: 3, readable: true, writable: false }); } catch {}
if (second) relay(second);
`;

export interface RelayOptions {
  file: string;
  rotation: LogRotation;
  /** Owner of the log files (the service's user and group); default the agent's. */
  uid?: number;
  gid?: number;
}

/**
 * Starts the relay on the service's output: `stdout` and `stderr` are the read ends of the pipes
 * the service was started with (the caller closes its own copies once the relay holds them, so
 * the relay sees end of input when the service and its children are gone).
 */
export function startLogRelay(o: RelayOptions, output: { stdout: Readable; stderr: Readable }): ChildProcess {
  return spawn(
    process.execPath,
    [
      '--max-old-space-size=32',
      '-e',
      RELAY_SOURCE,
      o.file,
      String(o.rotation.maxBytes),
      String(o.rotation.keep),
      o.uid === undefined ? '' : String(o.uid),
      o.gid === undefined ? '' : String(o.gid),
    ],
    {
      detached: true, // its own process group: stopping the service's group must not cut its last words
      stdio: [output.stdout, 'ignore', 'ignore', output.stderr],
    },
  );
}
