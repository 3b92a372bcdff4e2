'use client';

import { useState, type FormEvent, type ReactNode } from 'react';
import { ROLE_DESCRIPTION, ROLES_BY_RANK } from '@rollgate/domain';
import type { UserRow } from '../api-types';
import { errorIssues, type Issue } from '../planner-model';
import type { Role } from '../roles';
import { consoleClient } from '../trpc-client';
import { formatTime } from '../view-model';
import { usePolled } from './hooks';
import { IssueList } from './issue-list';
import { NeedsRole, useCan, useSessionUser } from './session-context';
import { ServiceTokensCard } from './service-tokens-card';

const ROLES: { role: Role; what: string }[] = ROLES_BY_RANK.map((role) => ({
  role,
  what: ROLE_DESCRIPTION[role],
}));

/** Accounts (administrators only): who may sign in, with which role; create, change role, disable. */
export function UsersPage() {
  const isAdmin = useCan('admin');
  if (!isAdmin) {
    return (
      <section className="card" aria-labelledby="users-h">
        <h2 id="users-h">Users</h2>
        <NeedsRole role="admin" what="Managing accounts" />
      </section>
    );
  }
  return <UsersAdmin />;
}

function UsersAdmin() {
  const me = useSessionUser();
  const users = usePolled(() => consoleClient().users.list.query(), 10_000);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [issuesTitle, setIssuesTitle] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  // The answer is shown beside what was asked: the list's row buttons, or the create form.
  const [from, setFrom] = useState<'list' | 'create'>('list');

  /** Runs one account change and says how it went; the list is read again either way. */
  const change = async (key: string, title: string, call: () => Promise<string>) => {
    setIssues([]);
    setDone(null);
    setBusy(key);
    setFrom(key === 'create' ? 'create' : 'list');
    try {
      setDone(await call());
    } catch (err) {
      setIssuesTitle(title);
      setIssues(errorIssues(err));
    } finally {
      setBusy(null);
      users.refresh();
    }
  };

  const rows = [...(users.data ?? [])].sort((a, b) => a.username.localeCompare(b.username));
  return (
    <>
      <section className="card" aria-labelledby="users-h">
        <div className="card-head">
          <h2 id="users-h">Users</h2>
          <span className="muted">
            Roles: {ROLES.map((r) => `${r.role} — ${r.what}`).join('; ')}. A disabled account cannot sign in
            and its sessions end at once.
          </span>
        </div>
        {users.error ? (
          <div className="alert alert-bad" role="alert">
            {users.error}
          </div>
        ) : null}
        {users.data === null ? (
          <p className="empty">Loading…</p>
        ) : (
          <div className="table-wrap">
            <table className="grid users">
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((u) => (
                  <UserLine
                    key={u.id}
                    user={u}
                    self={u.username === me?.username}
                    busy={busy}
                    onRole={(role) =>
                      change(`role:${u.username}`, `The role of ${u.username} was not changed`, async () => {
                        const v = await consoleClient().users.setRole.mutate({ username: u.username, role });
                        return `${v.username} is now ${v.role === 'viewer' ? 'a' : 'an'} ${v.role}.`;
                      })
                    }
                    onDisable={() =>
                      change(`disable:${u.username}`, `${u.username} was not disabled`, async () => {
                        const v = await consoleClient().users.disable.mutate({ username: u.username });
                        return `${v.username} is disabled: it cannot sign in, and its sessions have ended.`;
                      })
                    }
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {from === 'list' ? <Outcome done={done} issues={issues} title={issuesTitle} /> : null}
      </section>
      <CreateUser
        outcome={from === 'create' ? <Outcome done={done} issues={issues} title={issuesTitle} /> : null}
        busy={busy === 'create'}
        onCreate={(username, role, password) =>
          change('create', 'The account was not created', async () => {
            const v = await consoleClient().users.create.mutate({ username, role, password });
            return `Created ${v.username} (${v.role}). Give them the password through a safe channel.`;
          })
        }
      />
      <ServiceTokensCard />
    </>
  );
}

function Outcome({ done, issues, title }: { done: string | null; issues: Issue[]; title: string }) {
  return (
    <>
      {done ? (
        <p className="ok-text" role="status" data-users-done>
          {done}
        </p>
      ) : null}
      <IssueList issues={issues} title={title} />
    </>
  );
}

function UserLine(props: {
  user: UserRow;
  self: boolean;
  busy: string | null;
  onRole: (role: Role) => Promise<void>;
  onDisable: () => Promise<void>;
}) {
  const { user: u, self } = props;
  const [role, setRole] = useState<Role>(u.role);
  const disabled = u.disabledAt !== null;
  return (
    <tr data-user={u.username} data-user-role={u.role} data-user-status={disabled ? 'disabled' : 'active'}>
      <td className="mono strong">
        {u.username}
        {self ? <span className="muted"> (you)</span> : null}
      </td>
      <td>
        <span
          className={`badge tone-${u.role === 'admin' ? 'warn' : u.role === 'operator' ? 'active' : 'idle'}`}
        >
          {u.role}
        </span>
      </td>
      <td>
        {disabled ? (
          <span className="badge tone-bad">disabled {formatTime(u.disabledAt!)}</span>
        ) : (
          <span className="badge tone-ok">active</span>
        )}
      </td>
      <td className="muted small">
        {formatTime(u.createdAt)} by {u.createdBy}
      </td>
      <td>
        {disabled ? (
          <span className="muted small">—</span>
        ) : (
          <div className="btn-group">
            <select
              aria-label={`new role for ${u.username}`}
              name="set-role"
              value={role}
              onChange={(e) => setRole(e.target.value as Role)}
            >
              {ROLES.map((r) => (
                <option key={r.role} value={r.role}>
                  {r.role}
                </option>
              ))}
            </select>
            <button
              type="button"
              className="btn btn-small"
              name="apply-role"
              disabled={props.busy !== null || role === u.role}
              onClick={() => void props.onRole(role)}
            >
              Change role
            </button>
            {self ? null : (
              <button
                type="button"
                className="btn btn-small btn-danger"
                name="disable"
                disabled={props.busy !== null}
                onClick={() => void props.onDisable()}
              >
                Disable
              </button>
            )}
          </div>
        )}
      </td>
    </tr>
  );
}

function CreateUser({
  busy,
  onCreate,
  outcome,
}: {
  busy: boolean;
  outcome: ReactNode;
  onCreate: (username: string, role: Role, password: string) => Promise<void>;
}) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [password, setPassword] = useState('');
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    // The coordinator checks the name and the password policy and says what is wrong.
    await onCreate(username.trim(), role, password);
    setPassword('');
  };
  return (
    <section className="card" aria-labelledby="create-user-h">
      <h2 id="create-user-h">Create an account</h2>
      <form className="form-grid create-user" onSubmit={submit}>
        <label>
          User name
          <input
            name="new-username"
            autoComplete="off"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            placeholder="e.g. vera"
          />
        </label>
        <label>
          Role
          <select name="new-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r.role} value={r.role}>
                {r.role}
              </option>
            ))}
          </select>
        </label>
        <label>
          Password <span className="muted">(12 characters or more)</span>
          <input
            type="password"
            name="new-password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <div className="actions">
          <button type="submit" className="btn btn-primary" name="create-user" disabled={busy}>
            {busy ? 'Creating…' : 'Create account'}
          </button>
        </div>
      </form>
      {outcome}
    </section>
  );
}
