import { describe, expect, it } from 'vitest';
import type { EditionRow, EditionStateRow } from './api-types';
import {
  activeEditionOf,
  buildEditionCall,
  EMPTY_TARGET_FORM,
  groupEditions,
  stateTone,
  validatingOn,
} from './editions-model';

const target = { app: 'demo-app', cluster: 'demo' };

describe('buildEditionCall', () => {
  it('rolls out with the grouped strategy and only the parameters given', () => {
    expect(buildEditionCall('rollout', target, { ...EMPTY_TARGET_FORM, edition: '2.0' })).toEqual({
      call: {
        verb: 'rollout',
        input: { ...target, edition: '2.0', strategy: 'grouped', reset: 'soft' },
      },
      errors: [],
    });
    const full = buildEditionCall('rollout', target, {
      ...EMPTY_TARGET_FORM,
      edition: '2.0',
      groupSize: '2',
      drainageIntervalSec: '1',
      reset: 'hard',
    });
    expect(full.call?.input).toEqual({
      ...target,
      edition: '2.0',
      strategy: 'grouped',
      groupSize: 2,
      reset: 'hard',
      drainageIntervalSec: 1,
    });
  });

  it('rolls out and backs out with the atomic strategy when chosen, without a group size', () => {
    const atomic = { ...EMPTY_TARGET_FORM, edition: '2.0', strategy: 'atomic' as const, groupSize: '3' };
    expect(buildEditionCall('rollout', target, atomic)).toEqual({
      call: { verb: 'rollout', input: { ...target, edition: '2.0', strategy: 'atomic', reset: 'soft' } },
      errors: [],
    });
    expect(buildEditionCall('backout', target, { ...atomic, groupSize: 'x' })).toEqual({
      call: { verb: 'backout', input: { ...target, strategy: 'atomic', reset: 'soft' } },
      errors: [],
    });
    // The other verbs have no strategy, whatever is chosen.
    expect(buildEditionCall('install', target, atomic).call).toEqual({
      verb: 'install',
      input: { ...target, edition: '2.0' },
    });
  });

  it('leaves the size of a group to the coordinator but refuses what is not a whole number', () => {
    // 50 servers per group on a 4-server cluster is the coordinator's to refuse (it knows the size).
    expect(
      buildEditionCall('rollout', target, { ...EMPTY_TARGET_FORM, edition: '2.0', groupSize: '50' }).call,
    ).not.toBeNull();
    expect(
      buildEditionCall('rollout', target, { ...EMPTY_TARGET_FORM, edition: '2.0', groupSize: '1.5' }).errors,
    ).toEqual(['The group size must be a whole number from 1 to 100000.']);
    expect(
      buildEditionCall('install', target, { ...EMPTY_TARGET_FORM, drainageIntervalSec: '-1' }).errors,
    ).toEqual(['The drainage interval must be a whole number from 0 to 3600.', 'Choose the edition first.']);
  });

  it('activates only once the downtime is accepted, and says so', () => {
    const form = { ...EMPTY_TARGET_FORM, edition: '2.0' };
    const refused = buildEditionCall('activate', target, form);
    expect(refused.call).toBeNull();
    expect(refused.errors[0]).toMatch(/stops every server at once/);
    expect(buildEditionCall('activate', target, { ...form, acceptDowntime: true }).call).toEqual({
      verb: 'activate',
      input: { ...target, edition: '2.0', acceptDowntime: true },
    });
  });

  it('backs out to the previous edition unless one is named; installs the chosen edition', () => {
    expect(buildEditionCall('backout', target, EMPTY_TARGET_FORM).call).toEqual({
      verb: 'backout',
      input: { ...target, strategy: 'grouped', reset: 'soft' },
    });
    expect(
      buildEditionCall('backout', target, { ...EMPTY_TARGET_FORM, backoutTo: '1.0' }).call?.input,
    ).toMatchObject({ edition: '1.0' });
    expect(buildEditionCall('install', target, { ...EMPTY_TARGET_FORM, edition: '2.0' }).call).toEqual({
      verb: 'install',
      input: { ...target, edition: '2.0' },
    });
  });
});

describe('validate and deactivate', () => {
  const form = { ...EMPTY_TARGET_FORM, edition: '2.0' };

  it('validates the chosen edition on a clone of 1 server by default, with nothing else', () => {
    expect(EMPTY_TARGET_FORM.cloneSize).toBe('1');
    expect(buildEditionCall('validate', target, form, 4)).toEqual({
      call: { verb: 'validate', input: { ...target, edition: '2.0', cloneSize: 1 } },
      errors: [],
    });
    // The rollout's parameters are not a validation's: no strategy, group, drainage or reset.
    expect(
      buildEditionCall(
        'validate',
        target,
        {
          ...form,
          cloneSize: '3',
          strategy: 'atomic',
          groupSize: 'x',
          drainageIntervalSec: '-1',
          reset: 'hard',
        },
        4,
      ).call,
    ).toEqual({ verb: 'validate', input: { ...target, edition: '2.0', cloneSize: 3 } });
    // Emptied: the default again.
    expect(buildEditionCall('validate', target, { ...form, cloneSize: ' ' }, 4).call?.input).toEqual({
      ...target,
      edition: '2.0',
      cloneSize: 1,
    });
  });

  it('takes a clone size that is a whole number from 1 to the servers of the target', () => {
    expect(buildEditionCall('validate', target, { ...form, cloneSize: '4' }, 4).call?.input).toMatchObject({
      cloneSize: 4,
    });
    for (const bad of ['5', '0', '-1', '1.5', 'two'])
      expect(buildEditionCall('validate', target, { ...form, cloneSize: bad }, 4)).toEqual({
        call: null,
        errors: ['The clone size must be a whole number from 1 to 4.'],
      });
    // The target's size not known yet: the API's own limit, and the coordinator answers the rest.
    expect(buildEditionCall('validate', target, { ...form, cloneSize: '50' }).call?.input).toMatchObject({
      cloneSize: 50,
    });
    expect(buildEditionCall('validate', target, { ...EMPTY_TARGET_FORM }, 4)).toEqual({
      call: null,
      errors: ['Choose the edition first.'],
    });
  });

  it('deactivates the chosen edition: only the target and the edition are sent', () => {
    expect(
      buildEditionCall('deactivate', target, { ...form, cloneSize: 'x', drainageIntervalSec: '-1' }, 4),
    ).toEqual({ call: { verb: 'deactivate', input: { ...target, edition: '2.0' } }, errors: [] });
    expect(buildEditionCall('deactivate', target, EMPTY_TARGET_FORM, 4).errors).toEqual([
      'Choose the edition first.',
    ]);
  });
});

describe('activeEditionOf', () => {
  const edition = (name: string, createdAt: number): EditionRow => ({
    app: 'demo-app',
    name,
    sha256: 'a'.repeat(64),
    size: 1,
    createdAt,
    createdBy: 'op',
  });
  const state = (name: string, activeOn: number): EditionStateRow => ({
    app: 'demo-app',
    edition: name,
    cluster: 'demo',
    state: activeOn > 0 ? 'ACTIVE' : 'INACTIVE',
    activeOn,
    installedOn: 4,
    cloneOn: 0,
    servers: 4,
  });

  it('is the edition active on every server, and null while a rollout has left them mixed', () => {
    const editions = [edition('1.0', 1), edition('2.0', 2)];
    const [settled] = groupEditions(editions, [state('1.0', 4), state('2.0', 0)]);
    expect(activeEditionOf(settled!, 'demo')).toBe('1.0');
    const [mixed] = groupEditions(editions, [state('1.0', 2), state('2.0', 2)]);
    expect(activeEditionOf(mixed!, 'demo')).toBeNull();
    expect(activeEditionOf(settled!, 'elsewhere')).toBeNull();
  });

  it('keeps the active edition while another validates on a clone, which has its own tone', () => {
    const editions = [edition('1.0', 1), edition('2.0', 2)];
    const [app] = groupEditions(editions, [
      state('1.0', 4),
      { ...state('2.0', 0), state: 'VALIDATING', cloneOn: 2 },
    ]);
    expect(activeEditionOf(app!, 'demo')).toBe('1.0');
    expect(validatingOn(app!, 'demo').map((s) => [s.edition, s.cloneOn])).toEqual([['2.0', 2]]);
    expect(validatingOn(app!, 'elsewhere')).toEqual([]);
    expect(['ACTIVE', 'VALIDATING', 'INACTIVE'].map((s) => stateTone(s as 'ACTIVE'))).toEqual([
      'ok',
      'pilot',
      'idle',
    ]);
  });
});
