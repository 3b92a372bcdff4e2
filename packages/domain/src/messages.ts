/**
 * Stable message codes shared by the engine's logs, the CLI and the console. A code never changes
 * meaning; new ones are added. Suffix: I info, W warning, E error.
 */
export const MSG = {
  runCreated: { code: 'RG0001I', text: 'run created' },
  runStarted: { code: 'RG0010I', text: 'rollout started' },
  runCompleted: { code: 'RG0011I', text: 'rollout completed' },
  runPaused: { code: 'RG0012W', text: 'run paused' },
  runResumed: { code: 'RG0013I', text: 'run resumed' },
  runAborted: { code: 'RG0014W', text: 'run aborted' },
  runFailedPaused: { code: 'RG0015E', text: 'step failed: run paused for an operator decision' },
  runRecovered: { code: 'RG0016I', text: 'run resumed after coordinator restart' },
  stepStarted: { code: 'RG0020I', text: 'step started' },
  stepSucceeded: { code: 'RG0021I', text: 'step succeeded' },
  stepFailed: { code: 'RG0022E', text: 'step failed' },
  stepWaitingSignOff: { code: 'RG0023I', text: 'waiting for customer verification and sign-off' },
  signedOff: { code: 'RG0024I', text: 'customer signed off' },
  signOffRejected: { code: 'RG0025W', text: 'customer rejected the upgrade' },
  capacityHeld: { code: 'RG0030W', text: 'capacity floor: step held back' },
  actionDispatched: { code: 'RG0040I', text: 'action dispatched' },
  actionAccepted: { code: 'RG0041I', text: 'action accepted by agent' },
  actionSucceeded: { code: 'RG0042I', text: 'action succeeded' },
  actionFailed: { code: 'RG0043E', text: 'action failed' },
  actionDuplicate: { code: 'RG0044I', text: 'agent already ran this action; result taken from its journal' },
  agentConnected: { code: 'RG0050I', text: 'agent connected' },
  agentLost: { code: 'RG0051W', text: 'agent lost: no heartbeat' },
  agentBack: { code: 'RG0052I', text: 'agent reconnected' },
  gateClosed: { code: 'RG0060I', text: 'gate closed: server out of rotation' },
  gateOpened: { code: 'RG0061I', text: 'gate opened: server back in rotation' },
  gateLeftClosed: { code: 'RG0062E', text: 'server left out of rotation' },
  opStarted: { code: 'RG0100I', text: 'op started' },
  opSucceeded: { code: 'RG0101I', text: 'op succeeded' },
  opFailed: { code: 'RG0102E', text: 'op failed' },
  quiescing: { code: 'RG0110I', text: 'quiescing: leaving rotation' },
  draining: { code: 'RG0111I', text: 'draining' },
  stopping: { code: 'RG0112I', text: 'stopping' },
  synchronizing: { code: 'RG0113I', text: 'synchronizing: installing edition' },
  starting: { code: 'RG0114I', text: 'starting' },
  artifactRejected: { code: 'RG0120E', text: 'artifact rejected: checksum mismatch' },
  serviceOutput: { code: 'RG0190I', text: 'service output' },
} as const;

export type MessageKey = keyof typeof MSG;
export type MessageCode = (typeof MSG)[MessageKey]['code'];
