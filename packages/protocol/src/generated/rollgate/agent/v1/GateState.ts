// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

export const GateState = {
  GATE_STATE_UNSPECIFIED: 'GATE_STATE_UNSPECIFIED',
  GATE_STATE_OPEN: 'GATE_STATE_OPEN',
  GATE_STATE_CLOSED: 'GATE_STATE_CLOSED',
} as const;

export type GateState = 'GATE_STATE_UNSPECIFIED' | 0 | 'GATE_STATE_OPEN' | 1 | 'GATE_STATE_CLOSED' | 2;

export type GateState__Output = (typeof GateState)[keyof typeof GateState];
