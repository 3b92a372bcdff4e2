'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import type { EditionRolloutInput, PlanPreview, ReadinessGate, UpgradeInput } from '../api-types';
import {
  ATOMIC_NOTE,
  buildRolloutInput,
  buildUpgradeInput,
  CONTACT_LABEL,
  EMPTY_PLANNER_FORM,
  errorIssues,
  type ContactRole,
  type Issue,
  type PlannerForm,
} from '../planner-model';
import { consoleClient } from '../trpc-client';
import { usePolled } from './hooks';
import { IssueList } from './issue-list';
import { RolloutFields } from './rollout-fields';
import { PlanView } from './plan-view';
import { NeedsRole, useCan } from './session-context';

export function PlannerPage() {
  const router = useRouter();
  const client = consoleClient();
  const canStart = useCan('operator');
  const canWaive = useCan('admin');
  const choices = usePolled(async () => {
    const [page, editions] = await Promise.all([
      client.servers.page.query({ limit: 1 }),
      client.editions.list.query({}),
    ]);
    return { clusters: page.clusters, editions };
  }, 30_000);
  const [form, setForm] = useState<PlannerForm>(EMPTY_PLANNER_FORM);
  const [plan, setPlan] = useState<PlanPreview | null>(null);
  const [planned, setPlanned] = useState<string>('');
  const [issues, setIssues] = useState<Issue[]>([]);
  const [issuesTitle, setIssuesTitle] = useState('');
  const [busy, setBusy] = useState<'plan' | 'start' | null>(null);

  const apps = useMemo(
    () => [...new Set((choices.data?.editions ?? []).map((e) => e.app))].sort(),
    [choices.data],
  );
  const editions = useMemo(
    () =>
      (choices.data?.editions ?? [])
        .filter((e) => e.app === form.app)
        .sort((a, b) => b.createdAt - a.createdAt),
    [choices.data, form.app],
  );

  // Sensible first choices once the fleet and editions are known.
  useEffect(() => {
    if (!choices.data) return;
    setForm((f) => {
      const cluster = f.cluster || choices.data!.clusters[0] || '';
      const app = f.app || apps[0] || '';
      return cluster === f.cluster && app === f.app ? f : { ...f, cluster, app };
    });
  }, [choices.data, apps]);

  const set = (patch: Partial<PlannerForm>) => setForm((f) => ({ ...f, ...patch }));
  const setContact = (role: ContactRole, patch: Partial<PlannerForm['contacts'][ContactRole]>) =>
    setForm((f) => ({ ...f, contacts: { ...f.contacts, [role]: { ...f.contacts[role], ...patch } } }));
  const setWaiver = (gate: ReadinessGate, patch: Partial<{ on: boolean; reason: string }>) =>
    setForm((f) => ({
      ...f,
      waivers: { ...f.waivers, [gate]: { on: false, reason: '', ...f.waivers[gate], ...patch } },
    }));

  const rollout = form.procedure === 'rollout';
  const built = rollout ? buildRolloutInput(form) : buildUpgradeInput(form);
  const inputKey = JSON.stringify(built.input);
  const stale = plan !== null && planned !== inputKey;

  const showPlan = async (ev?: FormEvent) => {
    ev?.preventDefault();
    setIssues([]);
    if (!built.input) {
      setIssuesTitle('The form is not complete');
      setIssues(built.errors.map((message) => ({ code: 'FORM', message, hint: '' })));
      return;
    }
    setBusy('plan');
    try {
      const input = built.input;
      setPlan(
        rollout
          ? await client.editions.plan.query(input as EditionRolloutInput)
          : await client.upgrade.plan.query(input as UpgradeInput),
      );
      setPlanned(inputKey);
    } catch (err) {
      setPlan(null);
      setIssuesTitle('The plan cannot be compiled');
      setIssues(errorIssues(err));
    } finally {
      setBusy(null);
    }
  };

  const start = async () => {
    setIssues([]);
    if (!built.input) return;
    setBusy('start');
    try {
      const input = built.input;
      const view = rollout
        ? await client.editions.rollout.mutate(input as EditionRolloutInput)
        : await client.upgrade.start.mutate(input as UpgradeInput);
      router.push(`/runs/${encodeURIComponent(view.run.id)}`);
    } catch (err) {
      setIssuesTitle('The run was refused: nothing was started');
      setIssues(errorIssues(err));
      setBusy(null);
      // The refusal says what to do: bring it into view.
      requestAnimationFrame(() => document.querySelector('.issues')?.scrollIntoView({ block: 'center' }));
    }
  };

  const gates = plan?.readiness ?? [];
  return (
    <>
      <section className="card" aria-labelledby="plan-h">
        <h2 id="plan-h">Plan an upgrade</h2>
        <form className="form-grid planner" onSubmit={showPlan}>
          <label>
            Cluster
            <select name="cluster" value={form.cluster} onChange={(e) => set({ cluster: e.target.value })}>
              {(choices.data?.clusters ?? []).map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>
          <label>
            Application
            <select name="app" value={form.app} onChange={(e) => set({ app: e.target.value, edition: '' })}>
              {apps.map((a) => (
                <option key={a}>{a}</option>
              ))}
            </select>
          </label>
          <label>
            Edition
            <select name="edition" value={form.edition} onChange={(e) => set({ edition: e.target.value })}>
              <option value="">choose…</option>
              {editions.map((e) => (
                <option key={e.name} value={e.name}>
                  {e.name}
                  {e.description ? ` — ${e.description}` : ''}
                </option>
              ))}
            </select>
          </label>
          <fieldset className="radios">
            <legend>Procedure</legend>
            <label>
              <input
                type="radio"
                name="procedure"
                value="minor"
                checked={form.procedure === 'minor'}
                onChange={() => set({ procedure: 'minor' })}
              />
              minor <span className="muted">(no downtime)</span>
            </label>
            <label>
              <input
                type="radio"
                name="procedure"
                value="major"
                checked={form.procedure === 'major'}
                onChange={() => set({ procedure: 'major' })}
              />
              major <span className="muted">(schema step, short downtime)</span>
            </label>
            <label>
              <input
                type="radio"
                name="procedure"
                value="rollout"
                checked={form.procedure === 'rollout'}
                onChange={() => set({ procedure: 'rollout' })}
              />
              edition rollout <span className="muted">(grouped or atomic, no downtime)</span>
            </label>
          </fieldset>
          {rollout ? (
            <>
              <RolloutFields strategy={form.strategy} groupSize={form.groupSize} onChange={set} />
              <label>
                Reset
                <select
                  name="reset"
                  value={form.reset}
                  onChange={(e) => set({ reset: e.target.value as PlannerForm['reset'] })}
                >
                  <option value="soft">soft (restart the app)</option>
                  <option value="hard">hard (also the host)</option>
                </select>
              </label>
            </>
          ) : null}
          <label>
            Drainage interval (s)
            <input
              name="drainageIntervalSec"
              inputMode="numeric"
              placeholder="cluster default (30)"
              value={form.drainageIntervalSec}
              onChange={(e) => set({ drainageIntervalSec: e.target.value })}
            />
          </label>
          {rollout && form.strategy === 'atomic' ? (
            <p className="span-all alert alert-info atomic-note" data-atomic-note>
              {ATOMIC_NOTE}
            </p>
          ) : null}
          {rollout ? (
            <p className="muted span-all rollout-note" data-rollout-note>
              An edition rollout starts at once and pauses on a failure; it has no readiness gates, schedule
              or agreed window (those belong to the minor and major procedures).
            </p>
          ) : (
            <>
              <label>
                On failure
                <select
                  name="onFailure"
                  value={form.onFailure}
                  onChange={(e) => set({ onFailure: e.target.value as PlannerForm['onFailure'] })}
                >
                  <option value="pause">pause for a decision</option>
                  <option value="rollback">roll back automatically</option>
                </select>
              </label>
              <label>
                Agreed window (min)
                <input
                  name="windowMinutes"
                  inputMode="numeric"
                  placeholder="the announced window"
                  value={form.windowMinutes}
                  onChange={(e) => set({ windowMinutes: e.target.value })}
                />
              </label>
              <label>
                Schedule <span className="muted">(empty: start now)</span>
                <input
                  type="datetime-local"
                  name="at"
                  value={form.at}
                  onChange={(e) => set({ at: e.target.value })}
                />
              </label>
            </>
          )}
          <div className="span-all actions">
            <button type="submit" className="btn" disabled={busy !== null}>
              {busy === 'plan' ? 'Compiling…' : plan ? 'Re-plan' : 'Show plan'}
            </button>
            {stale ? (
              <span className="muted">The form changed since this plan: re-plan before starting.</span>
            ) : null}
          </div>
        </form>
      </section>

      {plan ? (
        <section className={`card${stale ? ' stale' : ''}`} aria-labelledby="compiled-h">
          <h2 id="compiled-h">Compiled plan</h2>
          <PlanView plan={plan} />
        </section>
      ) : null}

      {plan ? (
        <section className="card" aria-labelledby="confirm-h">
          <h2 id="confirm-h">{canStart && !rollout ? 'Contacts, waivers and start' : 'Start'}</h2>
          {canStart && !rollout ? (
            <div className="contacts">
              {(Object.keys(CONTACT_LABEL) as ContactRole[]).map((role) => (
                <fieldset key={role} className="contact" data-contact={role}>
                  <legend>{CONTACT_LABEL[role]}</legend>
                  <input
                    aria-label={`${CONTACT_LABEL[role]} name`}
                    name={`${role}-name`}
                    placeholder="name"
                    value={form.contacts[role].name}
                    onChange={(e) => setContact(role, { name: e.target.value })}
                  />
                  <input
                    aria-label={`${CONTACT_LABEL[role]} phone or email`}
                    name={`${role}-reach`}
                    placeholder="phone or email"
                    value={form.contacts[role].reach}
                    onChange={(e) => setContact(role, { reach: e.target.value })}
                  />
                </fieldset>
              ))}
            </div>
          ) : null}
          {!canWaive && canStart && !rollout && gates.some((g) => g.required && g.status === 'unmet') ? (
            <NeedsRole role="admin" what="Waiving a readiness gate" />
          ) : null}
          {canWaive &&
          !rollout &&
          gates.some((g) => (g.required && g.status === 'unmet') || form.waivers[g.gate]?.on) ? (
            <div className="waivers">
              <h3>Waive a gate</h3>
              {gates
                .filter((g) => (g.required && g.status === 'unmet') || form.waivers[g.gate]?.on)
                .map((g) => (
                  <div key={g.gate} className="waiver" data-waiver={g.gate}>
                    <label>
                      <input
                        type="checkbox"
                        checked={form.waivers[g.gate]?.on ?? false}
                        onChange={(e) => setWaiver(g.gate, { on: e.target.checked })}
                      />{' '}
                      waive <span className="mono">{g.gate}</span>
                    </label>
                    <input
                      aria-label={`reason for waiving ${g.gate}`}
                      placeholder="reason (audited)"
                      value={form.waivers[g.gate]?.reason ?? ''}
                      disabled={!form.waivers[g.gate]?.on}
                      onChange={(e) => setWaiver(g.gate, { reason: e.target.value })}
                    />
                  </div>
                ))}
            </div>
          ) : null}
          {canStart ? (
            <div className="actions">
              <button
                type="button"
                className="btn btn-primary"
                name="start"
                disabled={busy !== null || stale || !built.input}
                onClick={() => void start()}
              >
                {busy === 'start'
                  ? 'Starting…'
                  : rollout
                    ? 'Start rollout'
                    : form.at
                      ? 'Schedule upgrade'
                      : 'Start upgrade'}
              </button>
              {!built.input ? <span className="bad-text">{built.errors.join(' ')}</span> : null}
            </div>
          ) : (
            <NeedsRole role="operator" what="Starting or scheduling an upgrade" />
          )}
        </section>
      ) : null}
      <IssueList issues={issues} title={issuesTitle} />
    </>
  );
}
