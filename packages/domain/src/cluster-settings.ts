import { z } from 'zod';
import { SAFE_NAME } from './fleet';
import { functionalProbeSchema } from './ops';
import { readinessGateSchema } from './readiness-gates';
import { mapDirSchema, routingRulesSchema } from './routing';
import { schedulePolicySchema } from './schedule';

const commandName = z
  .string()
  .regex(SAFE_NAME, 'a command name is 1-64 letters, digits, ".", "_" or "-" (e.g. "repository-check")');

/**
 * What an operator configures per cluster (per customer) for its upgrades. Every part is optional;
 * what is left out takes the defaults named on each field.
 */
export const clusterSettingsSchema = z.strictObject({
  /** Which readiness gates a run must pass, beyond the defaults of its procedure. */
  readiness: z
    .strictObject({
      require: z.array(readinessGateSchema).default([]),
      optional: z.array(readinessGateSchema).default([]),
    })
    .optional(),
  /** The functionality tests: run from the test machine's agent through the load balancer. */
  tests: z
    .strictObject({
      testMachine: z.string().regex(SAFE_NAME, 'the test machine is an agent id such as "tester-1"'),
      baseUrl: z
        .string()
        .url('baseUrl is the service URL through the load balancer, e.g. "http://lb.example:8080"'),
      probes: z.array(functionalProbeSchema).min(1).max(200),
    })
    .optional(),
  /** When upgrades may run: business hours, whether outside them is allowed, freeze windows. */
  schedule: schedulePolicySchema.optional(),
  /** What the pre-upgrade requirements take, beyond the procedure's defaults. */
  preparation: z
    .strictObject({
      /** Archive each server's configured directories. Default: on for major, off for minor. */
      fileBackup: z.boolean().optional(),
      /** Servers whose agents have a `snapshot` hook ('all' or a list). Default none. */
      snapshots: z.union([z.literal('all'), z.array(z.string().regex(SAFE_NAME))]).optional(),
      /** Back up (and verify) the database in a minor upgrade too. Always on for major. */
      databaseBackup: z.boolean().optional(),
      /** A command configured on the agents that checks the repository, run once. Default none. */
      repositoryCheck: commandName.optional(),
    })
    .optional(),
  /** The server that runs database steps; default the first server of group 1. */
  designatedServer: z.string().regex(SAFE_NAME).optional(),
  /**
   * Routing rules of the cluster's frontend (set with `rollgate lb routes set`): matching requests
   * go to the backend of the cluster that serves the rule's edition. Kept here so that they are
   * applied again to a restarted HAProxy.
   */
  routing: z
    .strictObject({
      /** Where HAProxy's map files live on its host; default /etc/haproxy/rollgate. */
      mapDir: mapDirSchema.optional(),
      rules: routingRulesSchema,
    })
    .optional(),
  /** Minutes of the announced window per server (the seed's 10). */
  minutesPerServer: z
    .number()
    .positive()
    .max(24 * 60)
    .optional(),
});

export type ClusterSettings = z.input<typeof clusterSettingsSchema>;
