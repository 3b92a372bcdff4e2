import { z } from 'zod';

// Where the CLI and the console find the coordinator: one schema for ROLLGATE_URL, --url and
// COORDINATOR_URL (issue 15 item 3).

/** Where the coordinator listens when nothing says otherwise (its default API port). */
export const DEFAULT_COORDINATOR_URL = 'http://127.0.0.1:7400';

const MESSAGE = `must be the coordinator's http(s) base URL, like ${DEFAULT_COORDINATOR_URL}`;

/** An http(s) URL with nothing after the path (no query, no fragment), at most 2048 characters. */
export const coordinatorUrlSchema = z
  .string()
  .trim()
  .max(2048, MESSAGE)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.search === '' && u.hash === '';
    } catch {
      return false;
    }
  }, MESSAGE);
