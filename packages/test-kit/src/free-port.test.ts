import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './free-port';

describe('freePort', () => {
  it('never hands out one port twice in a process, even when the OS offers it again', async () => {
    const ports = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    ports.push(...(await Promise.all(Array.from({ length: 50 }, () => freePort()))));
    expect(new Set(ports).size).toBe(ports.length);
    // Each is bindable right after.
    const port = await freePort();
    await new Promise<void>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  });
});
