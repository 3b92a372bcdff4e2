import { z } from 'zod';

// The gate names are one list: the API's inputs, the cluster settings, the plan and the CLI's
// --waive all read it, so a new gate is added here once (issue 15 item 3).

/**
 * The seed's pre-upgrade requirements, as gates a run must pass before its window begins, in the
 * order they are met. Some are confirmed by a person (contacts), the others are checked by
 * Rollgate and carry their evidence.
 */
export const READINESS_GATE_NAMES = [
  'contacts', // lead customer contact, application and LB administrators reachable; others on call
  'remote-access', // every agent connected, of a compatible version
  'test-machine', // a designated agent runs the functionality tests (before start)
  'installation-files', // the edition staged on every server, checksums verified
  'file-backup', // each server's configured directories archived (kept by the agent)
  'snapshots', // a server snapshot through the configured hook, per server
  'database-backup', // pg_dump (or the configured command), verified restorable
  'repository', // the configured repository check (e.g. every published package present)
] as const;

export type ReadinessGate = (typeof READINESS_GATE_NAMES)[number];

/** A readiness gate's name; the error lists the valid ones. */
export const readinessGateSchema = z.enum(READINESS_GATE_NAMES, {
  error: `a readiness gate is one of ${READINESS_GATE_NAMES.join(', ')}`,
});

/** Whether `name` is a readiness gate (for parsing flags and forms without throwing). */
export function isReadinessGate(name: string): name is ReadinessGate {
  return (READINESS_GATE_NAMES as readonly string[]).includes(name);
}
