// What the agent starts runs at niceness 0, whatever the agent's own. Its unit runs it at Nice=-5
// (docs/adr/0047) so that its steps, health checks and gate answers stay prompt on a busy server;
// services, their commands and backup tools are the operator's workload and get no such boost.
import { existsSync } from 'node:fs';
import { getPriority } from 'node:os';

/** `nice` (coreutils), which starts a program at another niceness. */
const NICE = '/usr/bin/nice';
/** Looked for once, not at every start of a service or command. */
let hasNice: boolean | undefined;

/**
 * The command line that starts `command` at niceness 0: as it is when the agent runs at 0 or
 * above, else through `nice` (a child inherits its parent's niceness, and renicing it once
 * started would miss the threads it made meanwhile).
 * @param agentNiceness default this process's (os.getPriority())
 */
export function atNicenessZero(
  command: string,
  args: readonly string[],
  agentNiceness: number = getPriority(),
): { command: string; args: string[] } {
  if (agentNiceness >= 0 || !(hasNice ??= existsSync(NICE))) return { command, args: [...args] };
  return { command: NICE, args: ['-n', String(-agentNiceness), command, ...args] };
}
