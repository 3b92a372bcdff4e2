// The phases of an upgrade window and their words: one source for the plan, the portal, the
// console and the CLI (issue 15 item 3).

/** The phases of an upgrade window, in the order a run passes them; every plan step belongs to one. */
export const PHASES = [
  'preparation', // the seed's pre-upgrade requirements: checked and recorded before the window
  'service-at-risk',
  'downtime',
  'limited-service-restored',
  'full-service-restored',
] as const;

/** A phase of an upgrade window; notices are announced from them. */
export type Phase = (typeof PHASES)[number];

/** Phase banners, worded as the seed procedure announces them. */
export const PHASE_LABEL: Readonly<Record<Phase, string>> = {
  preparation: 'Pre-upgrade requirements',
  'service-at-risk': 'Service at risk / limited capability',
  downtime: 'Service downtime',
  'limited-service-restored': 'Limited service restored',
  'full-service-restored': 'Full service restored',
};

/** The phases in a word or two, where a banner does not fit (the console's run chart). */
export const PHASE_SHORT_LABEL: Readonly<Record<Phase, string>> = {
  preparation: 'prep',
  'service-at-risk': 'at risk',
  downtime: 'down',
  'limited-service-restored': 'limited',
  'full-service-restored': 'full',
};
