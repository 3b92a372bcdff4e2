/** The editions page's grouping: per application, each edition's state on every cluster. */
import type { EditionRow, EditionStateRow } from './api-types';

export interface AppEditions {
  app: string;
  editions: EditionRow[];
  clusters: string[];
  /** `${edition}\u0000${cluster}` → its state there. */
  states: Map<string, EditionStateRow>;
}

/** Editions per application, with each one's state on every cluster that runs the application. */
export function groupEditions(editions: EditionRow[], states: EditionStateRow[]): AppEditions[] {
  const apps = [...new Set(editions.map((e) => e.app))].sort();
  return apps.map((app) => {
    const mine = states.filter((s) => s.app === app);
    return {
      app,
      editions: editions.filter((e) => e.app === app).sort((a, b) => a.createdAt - b.createdAt),
      clusters: [...new Set(mine.map((s) => s.cluster))].sort(),
      states: new Map(mine.map((s) => [`${s.edition}\u0000${s.cluster}`, s])),
    };
  });
}
