// @rollgate/test-kit: the one copy of the helpers every test tier and tool shares: a loopback port
// never handed out twice, and waits that poll for a state with a deadline (docs/adr/0034).
export { freePort } from './free-port';
export { FatalWait, until, untilValue, waitFor, waiter, type WaitArg, type WaitOptions } from './wait';
export { seedFromTemplate } from './pg-template';
