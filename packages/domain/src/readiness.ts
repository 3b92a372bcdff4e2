import { z } from 'zod';
import type { Procedure } from './plan';
import { READINESS_GATE_NAMES, type ReadinessGate } from './readiness-gates';

export interface ReadinessGateInfo {
  title: string;
  /** What the gate checks, in the seed's terms. */
  checks: string;
  /** What an operator does to meet it, naming the CLI. */
  howToMeet: string;
  /** 'automatic': a prepare step checks it and records evidence; 'person': someone confirms it. */
  confirmedBy: 'automatic' | 'person';
}

/** The seed's pre-upgrade requirements, as readiness gates, in the order they are met. */
export const READINESS_GATES: Readonly<Record<ReadinessGate, ReadinessGateInfo>> = Object.freeze({
  contacts: {
    title: 'Customer contacts',
    checks:
      'a lead customer contact, the application administrator and the load balancer administrator are named and reachable during the window; hypervisor, database, network and directory administrators on call',
    howToMeet:
      'start the run with `rollgate upgrade start … --contacts contacts.json`, a file like { "lead": { "name": "…", "phone": "…" }, "appAdmin": { "name": "…", "email": "…" }, "lbAdmin": { … }, "onCall": [{ "role": "database", "name": "…", "contact": "…" }] } (API: upgrade.start { contacts })',
    confirmedBy: 'person',
  },
  'remote-access': {
    title: 'Remote access',
    checks: 'every server of the cluster has a connected agent of a compatible version',
    howToMeet:
      "start the agent on every server (and on the test machine) with this coordinator's version, and check they are connected with `rollgate servers`",
    confirmedBy: 'automatic',
  },
  'test-machine': {
    title: 'Test machine',
    checks:
      'the test machine runs the functionality tests through the load balancer before the upgrade starts',
    howToMeet:
      "configure the tests with `rollgate cluster configure --cluster <cluster> --file settings.json` (tests: testMachine, baseUrl, probes), give that agent the test account (testAccounts), and let the run's prep.test step pass",
    confirmedBy: 'automatic',
  },
  'installation-files': {
    title: 'Installation files',
    checks: 'the new edition is staged on every server with its sha256 verified',
    howToMeet:
      "upload the edition with `rollgate edition upload`, make sure every agent can fetch it, and let the run's prep.stage step pass",
    confirmedBy: 'automatic',
  },
  'file-backup': {
    title: 'File structure backup',
    checks: "each server's service directories are archived by its agent",
    howToMeet:
      "configure the backup directories in each agent's config and let the run's prep.file-backup step pass",
    confirmedBy: 'automatic',
  },
  snapshots: {
    title: 'Server snapshots',
    checks:
      'a snapshot of each virtual server is taken through its snapshot hook immediately before the upgrade',
    howToMeet:
      "configure a `snapshot` command in the agents' config of the virtual servers and list them in the cluster settings (preparation.snapshots), and let the run's prep.snapshots step pass; or, when the hypervisor administrator takes them by hand, waive the gate saying so",
    confirmedBy: 'automatic',
  },
  'database-backup': {
    title: 'Database backup',
    checks: 'a full backup of the database is taken and proven restorable by a test restore',
    howToMeet:
      "give the designated server's agent database access (its `database` config) and let the run's prep.database-backup step pass",
    confirmedBy: 'automatic',
  },
  repository: {
    title: 'Repository',
    checks:
      'the repository holds every application published, so republishing after the upgrade cannot break launches',
    howToMeet:
      "replace any moved package files, configure the repository-check command on the agents and in the cluster settings (preparation.repositoryCheck), and let the run's prep.repository step pass",
    confirmedBy: 'automatic',
  },
});

/** The gates each procedure requires unless a policy says otherwise. */
export const DEFAULT_REQUIRED_GATES: Readonly<Record<Procedure, readonly ReadinessGate[]>> = Object.freeze({
  minor: ['remote-access', 'installation-files'],
  major: ['contacts', 'remote-access', 'installation-files', 'file-backup', 'database-backup'],
  // A rollback is authorised in the window it repairs; it only needs the agents.
  rollback: ['remote-access'],
  // The edition manager's verbs: the agents, and the edition staged before anything moves.
  rollout: ['remote-access', 'installation-files'],
  activation: ['remote-access', 'installation-files'],
  backout: ['remote-access'],
  distribute: ['remote-access'],
  validate: ['remote-access', 'installation-files'],
  deactivate: ['remote-access'],
});

export interface ReadinessPolicy {
  /** Gates to require on top of the procedure's defaults. Default []. */
  require?: ReadinessGate[];
  /** Gates not to require even when the procedure's defaults do (they are still recorded). Default []. */
  optional?: ReadinessGate[];
}

/**
 * The gates a run must pass before its window begins, in the order they are met: the procedure's
 * defaults, plus 'test-machine' when functionality tests are configured, plus the policy's
 * `require`, minus its `optional`.
 */
export function requiredGates(
  procedure: Procedure,
  policy: ReadinessPolicy = {},
  context: { testsConfigured?: boolean } = {},
): ReadinessGate[] {
  const set = new Set<ReadinessGate>(DEFAULT_REQUIRED_GATES[procedure]);
  if (context.testsConfigured) set.add('test-machine');
  for (const g of policy.require ?? []) set.add(g);
  for (const g of policy.optional ?? []) set.delete(g);
  return READINESS_GATE_NAMES.filter((g) => set.has(g));
}

const personSchema = z.object({
  name: z.string().trim().min(1, 'a name is required').max(200),
  phone: z.string().trim().min(3).max(50).optional(),
  email: z.string().trim().email('the email address is not valid').optional(),
});
const reachable = personSchema.refine((p) => p.phone !== undefined || p.email !== undefined, {
  message: 'give a phone number or an email address: they must be reachable during the window',
});

/**
 * The seed's customer contacts: the lead contact, the application administrator and the load
 * balancer administrator must be reachable during the window; the others need only be on call.
 */
export const contactsSchema = z.object({
  lead: reachable,
  appAdmin: reachable,
  lbAdmin: reachable,
  onCall: z
    .array(
      z.object({
        role: z.enum(['hypervisor', 'database', 'network', 'directory']),
        name: z.string().trim().min(1).max(200),
        contact: z.string().trim().min(3).max(200),
      }),
    )
    .default([]),
});
export type Contacts = z.input<typeof contactsSchema>;

export type GateStatus = 'unmet' | 'met' | 'failed' | 'waived';

/** A run's record of one readiness gate. */
export interface GateRecord {
  gate: ReadinessGate;
  required: boolean;
  status: GateStatus;
  /** What proves it: the contacts, a prepare step's results, etc. */
  evidence?: unknown;
  /** Who met, confirmed or waived it (null while unmet or when checked automatically). */
  by: string | null;
  /** When, ms epoch. */
  at: number | null;
  /** Why it failed or was waived. */
  reason?: string;
}
