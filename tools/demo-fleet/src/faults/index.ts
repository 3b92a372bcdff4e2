// @rollgate/demo-fleet/faults: what the fault-injection tests share: a seeded PRNG (replayable
// kill points), the capacity-floor checker, the coordinator's ledger reader, a run's aftermath and
// the wait for a victim to be inside an op.
export { faultRandom, mulberry32, type SeededRandom } from './seeded-random';
export {
  checkCapacityFloor,
  GATE_CLOSED_CODE,
  GATE_OPENED_CODE,
  ledgerEvents,
  logEvents,
  type FloorReport,
  type FloorRules,
  type FloorViolation,
  type LedgerRow,
  type RotationEvent,
} from './capacity-floor';
export { readLedger } from './ledger';
export { checkExactlyOnce, type CoordinatorAction, type JournalLine } from './exactly-once';
export { runAftermath, type RunAftermath } from './run-aftermath';
export { waitForOp, type RunningOp } from './wait-for-op';
