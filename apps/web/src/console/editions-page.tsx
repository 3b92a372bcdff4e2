'use client';

import { useMemo, useState, type FormEvent } from 'react';
import { bytesToBase64, formatBytes } from '../encode';
import { groupEditions, type AppEditions } from '../editions-model';
import { errorIssues, type Issue } from '../planner-model';
import { consoleClient } from '../trpc-client';
import { formatTime } from '../view-model';
import { usePolled } from './hooks';
import { IssueList } from './issue-list';
import { NeedsRole, useCan } from './session-context';

export function EditionsPage() {
  const client = consoleClient();
  const canUpload = useCan('operator');
  const data = usePolled(async () => {
    const [editions, states] = await Promise.all([
      client.editions.list.query({}),
      client.editions.states.query({}),
    ]);
    return { editions, states };
  }, 10_000);
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
            Installed side by side; activation, validation, rollout and back-out come with a later release.
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
          apps.map((a) => <AppTable key={a.app} app={a} />)
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

function AppTable({ app }: { app: AppEditions }) {
  return (
    <div className="app-editions" data-app={app.app}>
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
            {app.editions.map((e) => (
              <tr key={e.name} data-edition={e.name}>
                <td className="mono strong">{e.name}</td>
                <td>{e.description || <span className="muted">—</span>}</td>
                {app.clusters.map((c) => {
                  const s = app.states.get(`${e.name}\u0000${c}`);
                  return (
                    <td key={c} data-cluster={c} data-state={s?.state ?? 'NONE'}>
                      {s ? (
                        <>
                          <span className={`badge tone-${s.state === 'ACTIVE' ? 'ok' : 'idle'}`}>
                            {s.state}
                          </span>{' '}
                          <span className="muted small">
                            active {s.activeOn}/{s.servers} · installed {s.installedOn}/{s.servers}
                          </span>
                        </>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                  );
                })}
                <td className="mono">{e.dbUpgradeCommand ?? <span className="muted">—</span>}</td>
                <td className="num">{formatBytes(e.size)}</td>
                <td className="mono muted" title={e.sha256}>
                  {e.sha256.slice(0, 12)}…
                </td>
                <td className="muted small">
                  {formatTime(e.createdAt)} by {e.createdBy}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function UploadForm({ apps, onUploaded }: { apps: string[]; onUploaded: () => void }) {
  const [app, setApp] = useState('');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [dbCmd, setDbCmd] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
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
    try {
      const contentBase64 = bytesToBase64(new Uint8Array(await file.arrayBuffer()));
      const rec = await consoleClient().editions.upload.mutate({
        app: appName,
        name: name.trim(),
        description: description.trim(),
        ...(dbCmd.trim() ? { dbUpgradeCommand: dbCmd.trim() } : {}),
        contentBase64,
      });
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
