import { describe, expect, it } from 'vitest';
import { formatBytes } from './bytes';

describe('formatBytes (issue 15 item 3: one size format for console, CLI and agent)', () => {
  it('counts bytes below 1 KiB', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1000)).toBe('1000 bytes');
    expect(formatBytes(1023)).toBe('1023 bytes');
  });

  it('uses binary units with one decimal below 100, dropping ".0"', () => {
    expect(formatBytes(1024)).toBe('1 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3000)).toBe('2.9 KiB');
    expect(formatBytes(100_000)).toBe('97.7 KiB');
    expect(formatBytes(64 * 1024 ** 2)).toBe('64 MiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB');
  });

  it('prints whole numbers from 100 of a unit up, and stops at TiB', () => {
    expect(formatBytes(150 * 1024)).toBe('150 KiB');
    expect(formatBytes(612 * 1024 ** 2)).toBe('612 MiB');
    expect(formatBytes(8 * 1024 ** 3)).toBe('8 GiB');
    expect(formatBytes(2048 * 1024 ** 4)).toBe('2048 TiB');
  });
});
