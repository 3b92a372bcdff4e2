import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

// npm workspaces hoist dependencies to the repository root; Turbopack and output tracing must look
// there, and saying so explicitly stops Next from guessing the root from lockfiles.
const workspaceRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The pure domain (the vocabulary the console shares with the CLI) is TypeScript source.
  transpilePackages: ['@rollgate/domain'],
  turbopack: { root: workspaceRoot },
  outputFileTracingRoot: workspaceRoot,
  // `npm run build` ships .next/standalone (server.js and only the node_modules it needs) as dist/web
  // (tools/build/build.mjs, docs/adr/0033); `next start` in a checkout still works.
  output: 'standalone',
  // The console talks to nothing but its own origin (see app/api/trpc); no remote images or fonts.
  images: { unoptimized: true },
  // `npm test` typechecks the console itself (tools/scripts/typecheck.mjs, this same tsconfig, the
  // route types this build generates included) right after building it, so its build skips Next's
  // own run of tsc over the same files (docs/adr/0049). Every other build still runs it.
  typescript: { ignoreBuildErrors: process.env.ROLLGATE_BUILD_SKIP_TYPECHECK === '1' },
};

export default config;
