import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/**
 * The import rules of ARCHITECTURE.md, enforced: arrows point inward (apps → api → engine → domain),
 * db implements engine's ports, protocol and domain import nothing of ours, the agent imports only
 * protocol, domain and logger, and the web app and the CLI import the router TYPE only.
 */
export default [
  {
    ignores: [
      '**/node_modules/**',
      '**/.next/**',
      '**/dist/**',
      '**/.nx/**',
      '**/.rollgate/**',
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
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:protocol', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:engine', onlyDependOnLibsWithTags: ['type:domain', 'type:util'] },
            { sourceTag: 'type:data', onlyDependOnLibsWithTags: ['type:engine', 'type:domain', 'type:util'] },
            { sourceTag: 'type:api', onlyDependOnLibsWithTags: ['type:engine', 'type:domain', 'type:util'] },
            { sourceTag: 'type:lb', onlyDependOnLibsWithTags: ['type:domain', 'type:util'] },
            {
              sourceTag: 'scope:agent',
              onlyDependOnLibsWithTags: ['type:protocol', 'type:domain', 'type:util'],
            },
            { sourceTag: 'scope:web', onlyDependOnLibsWithTags: ['type:api'] },
            { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['type:api', 'type:domain'] },
            {
              sourceTag: 'scope:coordinator',
              onlyDependOnLibsWithTags: [
                'type:api',
                'type:data',
                'type:engine',
                'type:domain',
                'type:protocol',
                'type:lb',
                'type:util',
              ],
            },
            {
              sourceTag: 'type:tool',
              onlyDependOnLibsWithTags: [
                'type:api',
                'type:domain',
                'type:util',
                'type:protocol',
                'type:tool',
              ],
            },
          ],
        },
      ],
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
    files: ['**/*.test.ts', '**/*.int.test.ts', '**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
];
