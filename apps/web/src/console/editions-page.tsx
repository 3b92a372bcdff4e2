'use client';

import Link from 'next/link';
import { useMemo, useState, type FormEvent } from 'react';
import type { RunListRow } from '../api-types';
import { formatBytes } from '@rollgate/domain';
import {
  activeEditionOf,
  buildEditionCall,
  EMPTY_TARGET_FORM,
  groupEditions,
  stateOf,
  stateTone,
  validatingOn,
  type AppEditions,
  type EditionCall,
  type EditionVerb,
  type TargetForm,
} from '../editions-model';
import { ATOMIC_NOTE, errorIssues, type Issue } from '../planner-model';
import { consoleClient } from '../trpc-client';
import { formatTime } from '../view-model';
import { usePolled } from './hooks';
import { IssueList } from './issue-list';
import { RolloutFields } from './rollout-fields';
import { NeedsRole, useCan } from './session-context';

export function EditionsPage() {
  const client = consoleClient();
  const canUpload = useCan('operator');
  const data = usePolled(async () => {
    const [editions, states, runs] = await Promise.all([
      client.editions.list.query({}),
      client.editions.states.query({}),
      client.upgrade.list.query(),
    ]);
    return { editions, states, runs };
  }, 5_000);
  const apps = useMemo(
    () => (data.data ? groupEditions(data.data.editions, data.data.states) : null),
    [data.data],
  );
  return (
    <>
      <section className="card" aria-labelledby="editions-h">
        <div className="card-head">
          <h2 id="editions-h">Editions</h2>
          <span className="muted">
            Installed side by side. Each target (an application on one cluster) below can distribute,
            activate, roll out, back out or validate an edition on a clone; every verb starts a run you can
            watch live.
          </span>
        </div>
        {data.error ? (
          <div className="alert alert-bad" role="alert">
            {data.error}
          </div>
        ) : null}
        {apps === null ? (
          <p className="empty">Loading…</p>
        ) : apps.length === 0 ? (
          <p className="empty">No edition uploaded yet. Upload one below.</p>
        ) : (
          apps.map((a) => (
            <div key={a.app} className="app-editions" data-app={a.app}>
              <AppTable app={a} />
              <h4>Targets</h4>
              {canUpload ? (
                <div className="targets">
                  {a.clusters.map((c) => (
                    <TargetPanel
                      key={c}
                      app={a}
                      cluster={c}
                      runs={data.data?.runs ?? []}
                      onStarted={data.refresh}
                    />
                  ))}
                </div>
              ) : (
                <NeedsRole
                  role="operator"
                  what="Distributing, activating, rolling out, backing out or validating an edition"
                />
              )}
              {a.clusters.length === 0 ? (
                <p className="empty">No server manages {a.app} yet: start its agents to get a target.</p>
              ) : null}
            </div>
          ))
        )}
      </section>
      {canUpload ? (
        <UploadForm apps={apps?.map((a) => a.app) ?? []} onUploaded={data.refresh} />
      ) : (
        <section className="card" aria-labelledby="upload-h">
          <h2 id="upload-h">Upload an edition</h2>
          <NeedsRole role="operator" what="Uploading an edition" />
        </section>
      )}
    </>
  );
}

/** The editions of one application with their state on every cluster (VALIDATING: a clone runs it). */
export function AppTable({ app }: { app: AppEditions }) {
  return (
    <>
      <h3>{app.app}</h3>
      <div className="table-wrap">
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Edition</th>
              <th scope="col">Description</th>
              {app.clusters.map((c) => (
                <th key={c} scope="col">
                  cluster {c}
                </th>
              ))}
              <th scope="col">DB upgrade</th>
              <th scope="col">Size</th>
              <th scope="col">sha256</th>
              <th scope="col">Uploaded</th>
            </tr>
          </thead>
          <tbody>
            {app.editions.map((e, i) => (
              <tr key={e.name} data-edition={e.name}>
                <td className="mono strong">
                  {e.name}
                  {i === 0 ? (
                    <>
                      {' '}
                      <span
                        className="badge tone-idle"
                        title="the first edition uploaded for this application"
                      >
                        base
                      </span>
                    </>
                  ) : null}
                </td>
                <td>{e.description || <span className="muted">—</span>}</td>
                {app.clusters.map((c) => {
                  const s = app.states.get(`${e.name}\u0000${c}`);
                  return (
                    <td key={c} data-cluster={c} data-state={s?.state ?? 'NONE'}>
                      {s ? (
                        <>
                          <span className={`badge tone-${stateTone(s.state)}`}>{s.state}</span>{' '}
                          <span className="muted small">
                            active {s.activeOn}/{s.servers} · installed {s.installedOn}/{s.servers}
                            {s.state === 'VALIDATING' || s.cloneOn > 0 ? (
                              <span data-clone-on={s.cloneOn}> · clone on {s.cloneOn}</span>
                            ) : null}
                          </span>
                        </>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                  );
                })}
                <td className="mono">{e.dbUpgradeCommand ?? <span className="muted">—</span>}</td>
                <td className="num">
                  {e.size > 0 ? formatBytes(e.size) : <span className="muted">unknown</span>}
                </td>
                <td className="mono muted" title={e.sha256}>
                  {e.sha256.slice(0, 12)}…
                </td>
                <td className="muted small">
                  {formatTime(e.createdAt)} by {e.createdBy}
                  {e.fetchBy === 'agents' ? (
                    // docs/adr/0039: origin and path only; the URL's query string is never shown.
                    <div title={e.source}>each agent fetches it from {e.source}</div>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

const VERB_LABEL: Record<EditionVerb, string> = {
  install: 'Distribution',
  activate: 'Simple activation',
  rollout: 'Rollout',
  backout: 'Back-out',
  validate: 'Validation',
  deactivate: 'Deactivation',
};

/** The procedure each call goes to; every one answers with the run it started. */
function callEdition(call: EditionCall) {
  const c = consoleClient().editions;
  switch (call.verb) {
    case 'install':
      return c.install.mutate(call.input);
    case 'activate':
      return c.activate.mutate(call.input);
    case 'rollout':
      return c.rollout.mutate(call.input);
    case 'backout':
      return c.backout.mutate(call.input);
    case 'validate':
      return c.validate.mutate(call.input);
    case 'deactivate':
      return c.deactivate.mutate(call.input);
  }
}

const ACTIVE_RUN = new Set(['pending', 'running', 'paused', 'waiting-approval']);

/**
 * One target (an application on one cluster): the edition verbs with their parameters. Each button
 * calls its procedure; the run it starts is linked to its live page.
 */
function TargetPanel(props: {
  app: AppEditions;
  cluster: string;
  runs: RunListRow[];
  onStarted: () => void;
}) {
  const { app, cluster } = props;
  const [form, setForm] = useState<TargetForm>(EMPTY_TARGET_FORM);
  const [busy, setBusy] = useState<EditionVerb | null>(null);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [issuesTitle, setIssuesTitle] = useState('');
  const [started, setStarted] = useState<{ verb: EditionVerb; runId: string } | null>(null);
  const set = (patch: Partial<TargetForm>) => setForm((f) => ({ ...f, ...patch }));
  const active = activeEditionOf(app, cluster);
  const servers = app.editions
    .map((e) => app.states.get(`${e.name}\u0000${cluster}`)?.servers)
    .find((n) => n !== undefined);
  const inProgress = props.runs.find(
    (r) => r.cluster === cluster && r.app === app.app && ACTIVE_RUN.has(r.status),
  );
  const id = (field: string) => `${app.app}-${cluster}-${field}`;
  const chosen = form.edition ? stateOf(app, form.edition, cluster) : undefined;
  const validating = validatingOn(app, cluster);
  const cloneN = /^\d+$/.test(form.cloneSize.trim()) ? Number(form.cloneSize.trim()) : 1;

  const run = async (verb: EditionVerb) => {
    setIssues([]);
    setStarted(null);
    const built = buildEditionCall(verb, { app: app.app, cluster }, form, servers);
    if (!built.call) {
      setIssuesTitle(`${VERB_LABEL[verb]} not started: the form is not complete`);
      setIssues(built.errors.map((message) => ({ code: 'FORM', message, hint: '' })));
      return;
    }
    setBusy(verb);
    try {
      const view = await callEdition(built.call);
      setStarted({ verb, runId: view.run.id });
      if (verb === 'activate') set({ acceptDowntime: false });
      props.onStarted();
    } catch (err) {
      setIssuesTitle(`${VERB_LABEL[verb]} refused: nothing was started`);
      setIssues(errorIssues(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section
      className="target"
      data-target={`${app.app}@${cluster}`}
      aria-label={`${app.app} on cluster ${cluster}`}
    >
      <div className="target-head">
        <strong>
          {app.app} on cluster {cluster}
        </strong>
        <span className="muted">
          {servers ?? '?'} servers · active{' '}
          {active ? <span className="mono">{active}</span> : <span className="warn-text">mixed</span>}
        </span>
        {inProgress ? (
          <span className="badge tone-active" data-target-run={inProgress.id}>
            {inProgress.kind} to {inProgress.edition} {inProgress.status} ·{' '}
            <Link href={`/runs/${encodeURIComponent(inProgress.id)}`}>watch</Link>
          </span>
        ) : null}
      </div>
      <div className="form-grid target-form">
        <label htmlFor={id('edition')}>
          Edition
          <select
            id={id('edition')}
            name="target-edition"
            value={form.edition}
            onChange={(e) => set({ edition: e.target.value })}
          >
            <option value="">choose…</option>
            {app.editions.map((e) => (
              <option key={e.name} value={e.name}>
                {e.name}
                {e.name === active
                  ? ' (active)'
                  : stateOf(app, e.name, cluster)?.state === 'VALIDATING'
                    ? ' (validating)'
                    : ''}
              </option>
            ))}
          </select>
        </label>
        <RolloutFields strategy={form.strategy} groupSize={form.groupSize} onChange={set} idOf={id} />
        <label htmlFor={id('drainage')}>
          Drainage interval (s)
          <input
            id={id('drainage')}
            name="target-drainageIntervalSec"
            inputMode="numeric"
            placeholder="cluster default (30)"
            value={form.drainageIntervalSec}
            onChange={(e) => set({ drainageIntervalSec: e.target.value })}
          />
        </label>
        <fieldset className="radios">
          <legend>Reset</legend>
          {(['soft', 'hard'] as const).map((r) => (
            <label key={r}>
              <input
                type="radio"
                name={id('reset')}
                value={r}
                checked={form.reset === r}
                onChange={() => set({ reset: r })}
              />
              {r} <span className="muted">{r === 'soft' ? '(restart the app)' : '(also the host)'}</span>
            </label>
          ))}
        </fieldset>
        <label htmlFor={id('backout-to')}>
          Back out to
          <select
            id={id('backout-to')}
            name="backoutTo"
            value={form.backoutTo}
            onChange={(e) => set({ backoutTo: e.target.value })}
          >
            <option value="">the previous edition</option>
            {app.editions
              .filter((e) => e.name !== active)
              .map((e) => (
                <option key={e.name} value={e.name}>
                  {e.name}
                </option>
              ))}
          </select>
        </label>
        {form.strategy === 'atomic' ? (
          <p className="span-all alert alert-info atomic-note" data-atomic-note>
            {ATOMIC_NOTE}
          </p>
        ) : null}
      </div>
      <div className="actions target-actions" aria-label="edition verbs">
        <button
          type="button"
          className="btn"
          name="install"
          disabled={busy !== null}
          onClick={() => void run('install')}
          title="Download, verify and unpack on every server; nothing is activated"
        >
          {busy === 'install' ? 'Distributing…' : 'Install (distribute)'}
        </button>
        <button
          type="button"
          className="btn btn-primary"
          name="rollout"
          disabled={busy !== null}
          onClick={() => void run('rollout')}
          title="Replace the active edition with the chosen strategy, without interruption"
        >
          {busy === 'rollout' ? 'Starting…' : 'Roll out'}
        </button>
        <button
          type="button"
          className="btn"
          name="backout"
          disabled={busy !== null}
          onClick={() => void run('backout')}
          title="Roll the previous edition out again"
        >
          {busy === 'backout' ? 'Starting…' : 'Back out'}
        </button>
      </div>
      <div className="validation alert alert-pilot" data-validation>
        <div className="validation-row">
          <label htmlFor={id('clone-size')} className="inline-field">
            Clone size
            <input
              id={id('clone-size')}
              name="cloneSize"
              inputMode="numeric"
              placeholder="1"
              value={form.cloneSize}
              onChange={(e) => set({ cloneSize: e.target.value })}
              aria-describedby={id('validate-note')}
            />
          </label>
          <button
            type="button"
            className="btn"
            name="validate"
            disabled={busy !== null}
            onClick={() => void run('validate')}
            title="Run the chosen edition on a clone of the target, for pilot requests"
          >
            {busy === 'validate' ? 'Starting…' : 'Validate'}
          </button>
          <span className="muted" id={id('validate-note')} data-validate-note>
            Runs {form.edition || 'the edition'} beside {cloneN} of the {servers ?? '?'} servers in the
            cluster&apos;s validation backend; route pilot requests to it with{' '}
            <code>rollgate lb routes set</code>.
          </span>
        </div>
        <div className="validation-row">
          <button
            type="button"
            className="btn"
            name="deactivate"
            disabled={busy !== null || chosen?.state !== 'VALIDATING'}
            onClick={() => void run('deactivate')}
            title={
              chosen?.state === 'VALIDATING'
                ? `Stop the clone of ${form.edition}`
                : 'Choose an edition that is VALIDATING on this cluster'
            }
          >
            {busy === 'deactivate' ? 'Stopping…' : 'Deactivate'}
          </button>
          <span className="muted" data-deactivate-note>
            {chosen?.state === 'VALIDATING' ? (
              <>
                Stops the clone of <span className="mono">{form.edition}</span> (on {chosen.cloneOn}{' '}
                {chosen.cloneOn === 1 ? 'server' : 'servers'}) and lifts the pilot routing rules that send
                requests to it.
              </>
            ) : (
              <>
                For an edition VALIDATING here: stops its clone and lifts the pilot routing rules to it.{' '}
                {validating.length > 0 ? (
                  <>
                    Validating now:{' '}
                    {validating.map((v, i) => (
                      <span key={v.edition}>
                        {i > 0 ? ', ' : ''}
                        <span className="mono">{v.edition}</span> (clone on {v.cloneOn})
                      </span>
                    ))}
                    .
                  </>
                ) : (
                  'No edition is validating on this cluster.'
                )}
              </>
            )}
          </span>
        </div>
      </div>
      <div className="downtime alert alert-warn" data-downtime-warning>
        <strong>Simple activation has downtime:</strong> it stops all {servers ?? ''} servers of cluster{' '}
        {cluster} at once, and the service is down until {form.edition || 'the edition'} has started. Use Roll
        out to change editions without interruption.
        <div className="actions">
          <label className="inline-check">
            <input
              type="checkbox"
              name="acceptDowntime"
              checked={form.acceptDowntime}
              onChange={(e) => set({ acceptDowntime: e.target.checked })}
            />{' '}
            I accept the downtime
          </label>
          <button
            type="button"
            className="btn btn-danger"
            name="activate"
            disabled={busy !== null || !form.acceptDowntime}
            onClick={() => void run('activate')}
          >
            {busy === 'activate' ? 'Activating…' : 'Activate (downtime)'}
          </button>
        </div>
      </div>
      {started ? (
        <div className="alert alert-ok" role="status" data-run-started={started.runId}>
          {VERB_LABEL[started.verb]} started as run{' '}
          <Link className="mono" href={`/runs/${encodeURIComponent(started.runId)}`} data-run-link>
            {started.runId}
          </Link>
          : watch it live.
        </div>
      ) : null}
      <IssueList issues={issues} title={issuesTitle} />
    </section>
  );
}

/** The console's streamed upload route (app/api/upload/edition, docs/adr/0036). */
const UPLOAD_ROUTE = '/api/upload/edition';

interface EditionRecord {
  app: string;
  name: string;
  sha256: string;
  size: number;
}

/** Why an upload did not happen, as the IssueList shows it. */
class UploadRefused extends Error {
  constructor(
    message: string,
    readonly data: { code: string },
  ) {
    super(message);
  }
}

/** The refusal of a coordinator without streamed uploads (docs/adr/0036): no base64 fallback here. */
function olderCoordinator(detail: string): UploadRefused {
  return new UploadRefused(
    `The coordinator does not take streamed uploads (PUT /upload/edition answered 404${
      detail ? `: ${detail}` : ''
    }): it is older than this console. Upgrade the coordinator, or upload with the CLI (\`rollgate edition upload\`). Nothing was uploaded.`,
    { code: 'NOT_FOUND' },
  );
}

/**
 * PUTs the file as it is (the browser streams it from disk; never read into this page's memory)
 * and reports the bytes sent. Resolves with the recorded edition; rejects with the coordinator's
 * own refusal.
 */
function putEdition(
  query: URLSearchParams,
  file: File,
  onProgress: (sent: number, total: number) => void,
): Promise<EditionRecord> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `${UPLOAD_ROUTE}?${query}`);
    xhr.setRequestHeader('content-type', 'application/gzip');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () =>
      reject(
        new UploadRefused(
          'The upload was cut off (the console or the network went away). Nothing was recorded.',
          {
            code: 'NETWORK',
          },
        ),
      );
    xhr.onload = () => {
      let parsed: {
        result?: { data?: EditionRecord };
        error?: { message?: string; data?: { code?: string } };
      } = {};
      try {
        parsed = JSON.parse(xhr.responseText) as typeof parsed;
      } catch {
        // Not JSON: an older coordinator's plain-text 404, or something in between.
      }
      if (xhr.status === 404) {
        reject(olderCoordinator(parsed.error?.message ?? ''));
        return;
      }
      if (xhr.status === 200 && parsed.result?.data) {
        resolve(parsed.result.data);
        return;
      }
      reject(
        new UploadRefused(
          parsed.error?.message ?? `The upload was refused (HTTP ${xhr.status}). Nothing was recorded.`,
          { code: parsed.error?.data?.code ?? `HTTP_${xhr.status}` },
        ),
      );
    };
    xhr.send(file);
  });
}

function UploadForm({ apps, onUploaded }: { apps: string[]; onUploaded: () => void }) {
  const [app, setApp] = useState('');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [dbCmd, setDbCmd] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [done, setDone] = useState<string | null>(null);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setIssues([]);
    setDone(null);
    const appName = app || apps[0] || '';
    if (!file || !appName || !name.trim()) {
      setIssues([
        {
          code: 'FORM',
          message: 'Give the application, the edition name and an archive (.tar.gz).',
          hint: '',
        },
      ]);
      return;
    }
    setBusy(true);
    setProgress(null);
    // No sha256: hashing in the browser means reading the whole file into memory. The coordinator
    // hashes what it receives; the size tells it whether all of it arrived.
    const fields = {
      app: appName,
      name: name.trim(),
      description: description.trim(),
      ...(dbCmd.trim() ? { dbUpgradeCommand: dbCmd.trim() } : {}),
      size: file.size,
    };
    try {
      // The coordinator's own check first (role, fields, a name already used): a refusal comes at
      // once instead of after the whole archive was sent.
      await consoleClient()
        .editions.uploadCheck.mutate(fields)
        .catch((err: unknown) => {
          // Only a coordinator older than streamed uploads lacks the procedure.
          throw (err as { data?: { code?: unknown } | null })?.data?.code === 'NOT_FOUND'
            ? olderCoordinator('')
            : err;
        });
      setProgress({ sent: 0, total: file.size });
      const query = new URLSearchParams(
        Object.entries(fields).map(([k, v]) => [k, String(v)] as [string, string]),
      );
      const rec = await putEdition(query, file, (sent, total) => setProgress({ sent, total }));
      setDone(
        `Uploaded ${rec.app} ${rec.name} (${formatBytes(rec.size)}, sha256 ${rec.sha256.slice(0, 12)}…).`,
      );
      setName('');
      setDescription('');
      setDbCmd('');
      onUploaded();
    } catch (err) {
      setIssues(errorIssues(err));
    } finally {
      setBusy(false);
    }
  };
  const pct = progress && progress.total > 0 ? Math.floor((progress.sent / progress.total) * 100) : 0;

  return (
    <section className="card" aria-labelledby="upload-h">
      <h2 id="upload-h">Upload an edition</h2>
      <form className="form-grid" onSubmit={submit}>
        <label>
          Application
          <input
            list="apps"
            value={app}
            placeholder={apps[0] ?? 'demo-app'}
            onChange={(e) => setApp(e.target.value)}
            name="app"
          />
          <datalist id="apps">
            {apps.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <label>
          Edition name
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="e.g. 2.1 or 2.0_FIX"
            name="edition"
          />
        </label>
        <label className="span-2">
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} name="description" />
        </label>
        <label>
          Database upgrade command <span className="muted">(major upgrades)</span>
          <input
            value={dbCmd}
            onChange={(e) => setDbCmd(e.target.value)}
            placeholder="e.g. db-upgrade"
            name="dbUpgradeCommand"
          />
        </label>
        <label>
          Archive (.tar.gz)
          <input
            type="file"
            accept=".tgz,.tar.gz,application/gzip"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            name="file"
          />
        </label>
        {progress ? (
          <div className="progress-row" style={{ gridColumn: '1 / -1' }} data-upload-progress={pct}>
            <progress
              style={{ flex: 1 }}
              max={progress.total}
              value={progress.sent}
              aria-label="Upload progress"
              aria-valuetext={`${pct} %, ${formatBytes(progress.sent)} of ${formatBytes(progress.total)}`}
            />
            <span className="progress-text">
              {pct} % · {formatBytes(progress.sent)} of {formatBytes(progress.total)}
            </span>
          </div>
        ) : null}
        <div className="span-2 actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Uploading…' : 'Upload edition'}
          </button>
          {done ? (
            <span className="ok-text" role="status">
              {done}
            </span>
          ) : null}
        </div>
      </form>
      <IssueList issues={issues} title="The upload was refused" />
    </section>
  );
}
