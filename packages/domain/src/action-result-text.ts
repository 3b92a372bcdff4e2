import type { ActionResult } from './ops';

/**
 * One line for one result of an action, as the console's evidence view and `rollgate upgrade
 * evidence` both print it (exact byte counts and full checksums: this is evidence).
 */
export function describeActionResult(r: ActionResult): string {
  switch (r.kind) {
    case 'functionalTest':
      return `${r.passed}/${r.passed + r.failed} probes passed via ${r.baseUrl}: ${r.probes.map((p) => `${p.name} ${p.ok ? 'ok' : 'FAILED'} ${p.ms} ms`).join(', ')}`;
    case 'backupFiles':
      return `files archived to ${r.archive} (${r.bytes} bytes, ${r.entries} entries, sha256 ${r.sha256})`;
    case 'dbBackup':
      return `database dumped to ${r.file} (${r.bytes} bytes, sha256 ${r.sha256}), ${r.verified ? `verified restorable in ${r.verifyMs} ms` : 'NOT verified'}`;
    case 'dbRestore':
      return `database restored from ${r.file}`;
    case 'command':
      return `${r.command} exited ${r.exitCode} in ${r.ms} ms`;
  }
}
