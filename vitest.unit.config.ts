import { defineConfig } from 'vitest/config';

// Unit tier: pure logic and fakes of ports; no servers, no processes.
export default defineConfig({
  test: {
    include: ['{apps,packages,tools}/**/src/**/*.test.ts'],
    exclude: ['**/*.int.test.ts', '**/node_modules/**'],
    environment: 'node',
    pool: 'threads',
  },
});
