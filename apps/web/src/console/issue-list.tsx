import type { Issue } from '../planner-model';

/** A refusal's issues, each with what to do about it. */
export function IssueList({ issues, title }: { issues: Issue[]; title: string }) {
  if (issues.length === 0) return null;
  return (
    <div className="alert alert-bad issues" role="alert">
      <strong>{title}</strong>
      <ul>
        {issues.map((i, n) => (
          <li key={n} data-issue={i.code}>
            <span className="mono small">{i.code}</span> {i.message}
            {i.hint ? <div className="hint">{i.hint}</div> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
