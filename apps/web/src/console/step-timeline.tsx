import type { StepView } from '../api-types';
import { groupByPhase, stepFacts, stepTone } from '../view-model';

export interface StepTimelineProps {
  steps: StepView[];
  now: number;
}

/**
 * The plan as a timeline: one row per step, coloured by its status, under the phase banners the
 * customer was notified with. Numbers are 1-based, as in `rollgate upgrade plan`.
 */
export function StepTimeline({ steps, now }: StepTimelineProps) {
  return (
    <div className="timeline">
      {groupByPhase(steps).map((group) => (
        <section
          key={`${group.phase}-${group.steps[0]?.index ?? 0}`}
          className={`phase phase-${group.phase}`}
        >
          <h4 className="phase-banner">{group.label}</h4>
          <ol className="steps">
            {group.steps.map((step) => (
              <li key={step.index} className={`step tone-${stepTone(step.status)}`} data-status={step.status}>
                <span className="step-marker" aria-hidden="true">
                  {step.index + 1}
                </span>
                <div className="step-body">
                  <div className="step-title">
                    <span>{step.title}</span>
                    <span className={`badge tone-${stepTone(step.status)}`}>{step.status}</span>
                  </div>
                  <div className="step-facts">{stepFacts(step, now).join(' · ')}</div>
                  {step.error ? <div className="step-error">{step.error}</div> : null}
                </div>
              </li>
            ))}
          </ol>
        </section>
      ))}
    </div>
  );
}
