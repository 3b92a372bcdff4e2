import type { TRPCClient } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';

/**
 * Shapes the console receives, inferred from the router type (the only thing the web app imports
 * from @rollgate/api). They are JSON on the wire: timestamps are epoch milliseconds.
 */
export type ConsoleClient = TRPCClient<AppRouter>;

type Out<T extends (...args: never[]) => Promise<unknown>> = Awaited<ReturnType<T>>;

export type Health = Out<ConsoleClient['health']['query']>;
export type ServerRow = Out<ConsoleClient['servers']['list']['query']>[number];
export type RunView = Out<ConsoleClient['upgrade']['status']['query']>;
export type StepView = RunView['steps'][number];
export type RunStatus = RunView['run']['status'];
export type StepStatus = StepView['status'];
export type Phase = StepView['phase'];
export type Performer = StepView['performedBy'][number];
