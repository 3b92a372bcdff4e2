'use client';

import { useEffect, useState, type FormEvent } from 'react';
import type { SignInAnswer } from '../session-handlers';

type Problem = { kind: 'credentials' | 'rate-limited' | 'unreachable' | 'other'; message: string };

/** The sign-in answer, as the form shows it. */
export function problemOf(status: number, answer: SignInAnswer | null): Problem | null {
  if (answer?.ok) return null;
  const err = answer?.error;
  if (!err) {
    return { kind: 'unreachable', message: `The console's server answered ${status} without a reason.` };
  }
  switch (err.code) {
    case 'UNAUTHORIZED':
      return { kind: 'credentials', message: err.message || 'Wrong user name or password.' };
    case 'TOO_MANY_REQUESTS':
      return { kind: 'rate-limited', message: err.message };
    case 'UNREACHABLE':
      return { kind: 'unreachable', message: err.message };
    default:
      return { kind: 'other', message: err.message };
  }
}

export function LoginPage(props: { next: string; expired: boolean; signedOut: boolean }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  // Rate-limited: the seconds left before another try, counting down.
  const [waitUntil, setWaitUntil] = useState<number | null>(null);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (waitUntil === null) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [waitUntil]);
  const waitLeft = waitUntil === null ? 0 : Math.max(0, Math.ceil((waitUntil - now) / 1000));

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!username.trim() || !password) {
      setProblem({ kind: 'other', message: 'Enter your user name and password.' });
      return;
    }
    setBusy(true);
    setProblem(null);
    let status = 0;
    let answer: SignInAnswer | null = null;
    try {
      const res = await fetch('/api/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify({ username: username.trim(), password }),
      });
      status = res.status;
      answer = (await res.json().catch(() => null)) as SignInAnswer | null;
    } catch (err) {
      setProblem({
        kind: 'unreachable',
        message: `The console's server does not answer (${(err as Error).message}).`,
      });
      setBusy(false);
      return;
    }
    if (answer?.ok) {
      // A full load: the console's layout reads the new session on the server.
      window.location.assign(props.next);
      return;
    }
    const p = problemOf(status, answer);
    setProblem(p);
    if (answer && !answer.ok && answer.error.retryAfterSec) {
      setWaitUntil(Date.now() + answer.error.retryAfterSec * 1000);
      setNow(Date.now());
    }
    setPassword('');
    setBusy(false);
  };

  return (
    <main className="login">
      <div className="login-card card">
        <div className="brand login-brand">
          <span className="logo" aria-hidden="true">
            ⇆
          </span>
          Rollgate <span className="muted">console</span>
        </div>
        <h1>Sign in</h1>
        {props.expired && !problem ? (
          <div className="alert alert-warn" role="status" data-login-note="expired">
            Your session ended. Sign in again to continue.
          </div>
        ) : null}
        {props.signedOut && !problem ? (
          <div className="alert alert-ok" role="status" data-login-note="signed-out">
            You are signed out.
          </div>
        ) : null}
        {problem ? (
          <div
            className={`alert ${problem.kind === 'unreachable' ? 'alert-bad' : 'alert-warn'}`}
            role="alert"
            data-login-error={problem.kind}
          >
            {problem.kind === 'unreachable' ? <strong>Coordinator unreachable. </strong> : null}
            {problem.kind === 'rate-limited' && waitLeft > 0
              ? `Too many failed sign-ins: try again in ${waitLeft} s.`
              : problem.message}
          </div>
        ) : null}
        <form className="login-form" onSubmit={(ev) => void submit(ev)} method="post" action="/api/session">
          <label>
            User name
            <input
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              autoFocus
              value={username}
              onChange={(e) => setUsername(e.target.value)}
            />
          </label>
          <label>
            Password
            <input
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          <button type="submit" className="btn btn-primary" disabled={busy || waitLeft > 0}>
            {busy ? 'Signing in…' : waitLeft > 0 ? `Wait ${waitLeft} s` : 'Sign in'}
          </button>
        </form>
        <p className="small muted">
          No account yet? An administrator creates one with <code>rollgate users create</code>.
        </p>
      </div>
    </main>
  );
}
