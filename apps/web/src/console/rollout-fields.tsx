'use client';

import type { RolloutStrategy } from '../planner-model';

export interface RolloutFieldsProps {
  strategy: RolloutStrategy;
  groupSize: string;
  onChange: (patch: { strategy?: RolloutStrategy; groupSize?: string }) => void;
  /** Element ids for the labels (the editions page has one form per target); none in the planner. */
  idOf?: (name: string) => string;
}

/** A rollout's strategy and, for the grouped one, its group size (atomic switches halves). */
export function RolloutFields({ strategy, groupSize, onChange, idOf }: RolloutFieldsProps) {
  return (
    <>
      <label htmlFor={idOf?.('strategy')}>
        Strategy
        <select
          id={idOf?.('strategy')}
          name="strategy"
          value={strategy}
          onChange={(e) => onChange({ strategy: e.target.value as RolloutStrategy })}
        >
          <option value="grouped">grouped</option>
          <option value="atomic">atomic (one switch)</option>
        </select>
      </label>
      {strategy === 'grouped' ? (
        <label htmlFor={idOf?.('group-size')}>
          Group size
          <input
            id={idOf?.('group-size')}
            name="groupSize"
            inputMode="numeric"
            placeholder="1"
            value={groupSize}
            onChange={(e) => onChange({ groupSize: e.target.value })}
          />
        </label>
      ) : null}
    </>
  );
}
