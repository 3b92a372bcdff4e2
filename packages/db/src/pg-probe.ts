import pg from 'pg';

/** Resolves once the server answers a connection and `SELECT 1`; throws what the connection threw. */
export async function probeAnswers(config: pg.ClientConfig): Promise<void> {
  const c = new pg.Client(config);
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
  } finally {
    await c.end().catch(() => undefined);
  }
}
