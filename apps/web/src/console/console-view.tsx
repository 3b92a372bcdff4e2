import type { Snapshot } from '../snapshot';
import { formatAge } from '../view-model';
import { RunPanel } from './run-panel';
import { ServersTable } from './servers-table';

const CONNECTION_LABEL: Record<Snapshot['connection'], string> = {
  connecting: 'connecting…',
  connected: 'connected',
  unreachable: 'unreachable',
};

/** The whole console for one snapshot; no state, no effects, so it renders the same on the server and in tests. */
export function ConsoleView({ snapshot }: { snapshot: Snapshot }) {
  const { connection, version, servers, run, noRunYet, error, updatedAt, now } = snapshot;
  const stale = connection === 'unreachable' && updatedAt !== null;
  return (
    <div className="console">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ⇆
          </span>
          Rollgate <span className="muted">console</span>
        </div>
        <div className="conn" data-connection={connection}>
          <span
            className={`dot tone-${connection === 'connected' ? 'ok' : connection === 'unreachable' ? 'bad' : 'idle'}`}
          />
          coordinator {CONNECTION_LABEL[connection]}
          {version ? <span className="muted"> · v{version}</span> : null}
          {updatedAt !== null ? <span className="muted"> · updated {formatAge(updatedAt, now)}</span> : null}
        </div>
      </header>

      <main className="content">
        {connection === 'unreachable' ? (
          <div className="alert alert-bad" role="alert">
            <strong>Coordinator unreachable.</strong> {error}
            {stale ? ' The data below is from the last successful update.' : null}
          </div>
        ) : error ? (
          <div className="alert alert-warn" role="status">
            {error}
          </div>
        ) : null}

        <section className={`card${stale ? ' stale' : ''}`} aria-labelledby="servers-h">
          <h2 id="servers-h">Servers</h2>
          {servers === null ? (
            <p className="empty">Loading…</p>
          ) : (
            <ServersTable servers={servers} now={now} />
          )}
        </section>

        <section className={`card${stale ? ' stale' : ''}`} aria-labelledby="run-h">
          <h2 id="run-h">Current run</h2>
          {run ? (
            <RunPanel view={run} now={now} />
          ) : noRunYet ? (
            <p className="empty">
              No run yet. Plan one with <code>rollgate upgrade plan</code>, then start it with{' '}
              <code>rollgate upgrade start</code>.
            </p>
          ) : (
            <p className="empty">
              {connection === 'unreachable' ? 'Unknown while the coordinator is unreachable.' : 'Loading…'}
            </p>
          )}
        </section>
      </main>
    </div>
  );
}
