// The run events a notification subscription can name (docs/adr/0032): one list for the API's
// input schema, the coordinator's notifier and the CLI's --events.

/** The run events one can subscribe to. */
export const NOTIFY_EVENTS = [
  'scheduled',
  'started',
  'phase',
  'paused',
  'failed',
  'rollback-proposed',
  'sign-off',
  'succeeded',
  'rolled-back',
  'aborted',
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** What an email subscription gets when it names no events: the announcement and the outcome. */
export const DEFAULT_EMAIL_EVENTS: readonly NotifyEvent[] = [
  'scheduled',
  'started',
  'succeeded',
  'failed',
  'rolled-back',
];
