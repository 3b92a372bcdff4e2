import type { TRPCClient } from '@trpc/client';
import type { AppRouter, RunView, StepView } from '@rollgate/api';

/**
 * The shapes the CLI receives, inferred from the router so they follow the API as it grows. They
 * are the JSON on the wire (timestamps are epoch milliseconds), not the coordinator's records: the
 * CLI imports only types from @rollgate/api, never code.
 */
export type RollgateClient = TRPCClient<AppRouter>;

type Out<T extends (...args: never[]) => Promise<unknown>> = Awaited<ReturnType<T>>;

export type ServerRow = Out<RollgateClient['servers']['list']['query']>[number];
export type EditionRow = Out<RollgateClient['editions']['list']['query']>[number];
export type RunRow = Out<RollgateClient['upgrade']['list']['query']>[number];
export type LogRow = Out<RollgateClient['upgrade']['logs']['query']>[number];
export type AuditRow = Out<RollgateClient['audit']['list']['query']>[number];
export type PlanOut = Out<RollgateClient['upgrade']['plan']['query']>;
export type UpgradeFlagsInput = Parameters<RollgateClient['upgrade']['plan']['query']>[0];

export type { RunView, StepView };
export type RunStatus = RunView['run']['status'];
