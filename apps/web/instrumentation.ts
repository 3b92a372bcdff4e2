/**
 * Runs once when the Next.js server starts: validate the environment before serving anything, and
 * replace every request's X-Forwarded-* with what the console can vouch for (src/forwarded.ts).
 */
export async function register(): Promise<void> {
  const { serverEnv } = await import('./src/env');
  const env = serverEnv();
  if (process.env.NEXT_RUNTIME === 'nodejs') {
    const { installForwardedHook } = await import('./src/forwarded-hook');
    installForwardedHook(env.proxyTrust);
  }
}
