// ESM resolve hook used by drizzle.config.ts (see there for why). When `drizzle-orm` cannot be
// resolved from where it is imported (drizzle-kit at the repo root), resolve it from packages/db.
const fallbackParent = new URL('../package.json', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier !== 'drizzle-orm' && !specifier.startsWith('drizzle-orm/')) {
    return nextResolve(specifier, context);
  }
  try {
    return await nextResolve(specifier, context);
  } catch {
    return nextResolve(specifier, { ...context, parentURL: fallbackParent });
  }
}
