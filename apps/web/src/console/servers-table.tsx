import type { ServerRow } from '../api-types';
import { activeEditions, agentTone, formatAge } from '../view-model';

export interface ServersTableProps {
  servers: ServerRow[];
  /** Ages are computed against this (epoch ms). */
  now: number;
}

export function ServersTable({ servers, now }: ServersTableProps) {
  if (servers.length === 0) {
    return (
      <p className="empty">No servers have registered yet. Start an agent pointed at this coordinator.</p>
    );
  }
  // Code-unit order, like the CLI: the same fleet always lists the same way.
  const sorted = [...servers].sort((a, b) => {
    const x = `${a.cluster}\u0000${a.id}`;
    const y = `${b.cluster}\u0000${b.id}`;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return (
    <div className="table-wrap">
      <table className="servers">
        <thead>
          <tr>
            <th scope="col">Server</th>
            <th scope="col">Cluster</th>
            <th scope="col">Role</th>
            <th scope="col">Agent</th>
            <th scope="col">Gate</th>
            <th scope="col">Active edition</th>
            <th scope="col">Last heartbeat</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((s) => (
            <tr key={s.id} data-server={s.id}>
              <td className="mono">{s.id}</td>
              <td>{s.cluster}</td>
              <td>{s.role}</td>
              <td>
                <span className={`dot tone-${agentTone(s.status)}`} aria-hidden="true" />
                {s.status}
              </td>
              <td>
                <span className={`gate ${s.gateOpen ? 'gate-open' : 'gate-closed'}`}>
                  {s.gateOpen ? 'open' : 'closed'}
                </span>
              </td>
              <td className="mono">{activeEditions(s)}</td>
              <td className="num">{formatAge(s.lastHeartbeatAt, now)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
