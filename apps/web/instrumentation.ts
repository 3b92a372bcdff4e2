/** Runs once when the Next.js server starts: validate the environment before serving anything. */
export async function register(): Promise<void> {
  const { serverEnv } = await import('./src/env');
  serverEnv();
}
