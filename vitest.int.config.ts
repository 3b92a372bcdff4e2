import { defineConfig } from 'vitest/config';

// Integration tier: real processes on loopback (coordinator, agents, demo-app, PostgreSQL).
// Files run one at a time: each starts its own fleet and the machine has two cores.
export default defineConfig({
  test: {
    include: ['{apps,packages,tools}/**/*.int.test.ts'],
    exclude: ['**/node_modules/**'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One PostgreSQL cluster template and one agent bundle for the whole run (docs/adr/0048).
    globalSetup: ['./vitest.int.setup.ts'],
    // expect.poll waits for a state; its default (1 s) is a guess about the machine's speed, and
    // on two busy cores a page or a fleet takes longer than that to get there.
    expect: { poll: { timeout: 30_000, interval: 100 } },
  },
});
