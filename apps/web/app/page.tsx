import { Console } from '../src/console/console';

/**
 * The operator's console. The page is static; the client component polls live state through
 * /api/trpc, so nothing about the fleet is baked in at build time.
 */
export default function Page() {
  return <Console />;
}
