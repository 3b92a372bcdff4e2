import type { TRPCClient } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';

/**
 * Shapes the console receives, inferred from the router type (the only thing the web app imports
 * from @rollgate/api). They are JSON on the wire: timestamps are epoch milliseconds.
 */
export type ConsoleClient = TRPCClient<AppRouter>;

type Out<T extends (...args: never[]) => Promise<unknown>> = Awaited<ReturnType<T>>;
type In<T extends (...args: never[]) => unknown> = Parameters<T>[0];

export type Health = Out<ConsoleClient['health']['query']>;
export type ServersPage = Out<ConsoleClient['servers']['page']['query']>;
/** A server as the fleet page draws it: a row of `servers.page`. */
export type ServerRow = ServersPage['rows'][number];
export type ServersPageQuery = NonNullable<In<ConsoleClient['servers']['page']['query']>>;
export type FleetSummary = ServersPage['summary'];
export type EditionRow = Out<ConsoleClient['editions']['list']['query']>[number];
export type EditionStateRow = Out<ConsoleClient['editions']['states']['query']>[number];
export type UpgradeInput = In<ConsoleClient['upgrade']['start']['mutate']>;
export type EditionInstallInput = In<ConsoleClient['editions']['install']['mutate']>;
export type EditionActivateInput = In<ConsoleClient['editions']['activate']['mutate']>;
export type EditionRolloutInput = In<ConsoleClient['editions']['rollout']['mutate']>;
export type EditionBackoutInput = In<ConsoleClient['editions']['backout']['mutate']>;
export type EditionValidateInput = In<ConsoleClient['editions']['validate']['mutate']>;
export type EditionDeactivateInput = In<ConsoleClient['editions']['deactivate']['mutate']>;
export type UserRow = Out<ConsoleClient['users']['list']['query']>[number];
export type PlanPreview = Out<ConsoleClient['upgrade']['plan']['query']>;
export type GatePreview = PlanPreview['readiness'][number];
export type ReadinessGate = GatePreview['gate'];
export type PlanStep = PlanPreview['steps'][number];
export type RunView = Out<ConsoleClient['upgrade']['status']['query']>;
export type RunListRow = Out<ConsoleClient['upgrade']['list']['query']>[number];
export type LogLine = Out<ConsoleClient['upgrade']['logs']['query']>[number];
export type Evidence = Out<ConsoleClient['upgrade']['evidence']['query']>;
export type RollbackOption = Out<ConsoleClient['upgrade']['rollbackOptions']['query']>[number];
export type RollbackMethod = RollbackOption['method'];
export type AuditRow = Out<ConsoleClient['audit']['list']['query']>[number];
export type StepView = RunView['steps'][number];
export type RunStatus = RunView['run']['status'];
export type StepStatus = StepView['status'];
export type Phase = StepView['phase'];
export type Performer = StepView['performedBy'][number];

/** What one message of the `upgrade.watch` subscription carries. */
export interface WatchEvent {
  /** The run view when it changed since the last message, else null. */
  view: RunView | null;
  /** New log lines (after the filters), oldest first. */
  logs: LogLine[];
}

/** What the customer's portal shows (`portal.view`). */
export type PortalView = Out<ConsoleClient['portal']['view']['query']>;
export type PortalTest = PortalView['tests'][number];
