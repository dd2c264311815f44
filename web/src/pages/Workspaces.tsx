import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, problemText, type Workspace } from "../api/client";
import { ago, Badge, Confirm, usePoll } from "../ui";

const PAGE = 50;

// Workspaces lists the user's workspaces (or, with a filter, anyone's they may see), refreshing every
// few seconds, with start/stop/delete at hand.
export function Workspaces() {
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "owner:me";
  const page = Number(params.get("page") ?? "0");
  const [error, setError] = useState("");
  const [deleting, setDeleting] = useState<Workspace | null>(null);
  const [list, refresh] = usePoll(
    async () => {
      const { data, error } = await api.GET("/api/v2/workspaces", { params: { query: { q, limit: PAGE, offset: page * PAGE } } });
      if (error) setError(problemText(error));
      return data;
    },
    3000,
    [q, page],
  );
  const [quota] = usePoll(async () => (await api.GET("/api/v2/users/{user}/quota", { params: { path: { user: "me" } } })).data, 10000, []);
  const build = async (w: Workspace, transition: "start" | "stop" | "delete") => {
    setError("");
    const res = transition === "delete"
      ? await api.DELETE("/api/v2/workspaces/{workspace}", { params: { path: { workspace: w.id } } })
      : await api.POST("/api/v2/workspaces/{workspace}/builds", { params: { path: { workspace: w.id } }, body: { transition } });
    if (res.error) setError(`${w.name}: ${problemText(res.error)}`);
    refresh();
  };
  return (
    <section>
      <div className="row">
        <h1>Workspaces</h1>
        {quota && quota.allowance > 0 && <span className="hint" role="status" aria-label="Quota">Quota: {quota.used} of {quota.allowance} credits a day</span>}
        <Link className="button" to="/workspaces/new">New workspace</Link>
      </div>
      <form className="row" role="search" onSubmit={(e) => {
        e.preventDefault();
        setParams({ q: String(new FormData(e.currentTarget).get("q")) });
      }}>
        <label className="grow">
          <span className="sr-only">Filter</span>
          <input name="q" defaultValue={q} placeholder="owner:me template:NAME status:running words" />
        </label>
        <button className="secondary" type="submit">Filter</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {!list ? <p role="status">Loading…</p> : list.workspaces.length === 0 ? (
        <div className="empty">
          <p>No workspaces{q !== "owner:me" ? " match this filter" : " yet"}.</p>
          <Link className="button" to="/workspaces/new">Create your first workspace</Link>
        </div>
      ) : (
        <table>
          <thead>
            <tr><th>Name</th><th>Owner</th><th>Template</th><th>Status</th><th>Last used</th><th><span className="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {list.workspaces.map((w) => (
              <tr key={w.id}>
                <td><Link to={`/@${w.owner_name}/${w.name}`}>{w.name}</Link>{w.outdated && <span className="hint"> (outdated)</span>}</td>
                <td>{w.owner_name}</td>
                <td>{w.template_display_name || w.template_name}</td>
                <td><Badge status={w.status} /></td>
                <td>{ago(w.last_used_at)}</td>
                <td className="actions">
                  {w.status === "stopped" || w.status === "failed" ? <button className="small" onClick={() => build(w, "start")}>Start</button> : null}
                  {w.status === "running" ? <button className="small secondary" onClick={() => build(w, "stop")}>Stop</button> : null}
                  <button className="small danger" onClick={() => setDeleting(w)} aria-label={`Delete ${w.name}`}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list && list.count > PAGE && (
        <nav className="row pager" aria-label="Pages">
          <button className="secondary" disabled={page === 0} onClick={() => setParams({ q, page: String(page - 1) })}>Previous</button>
          <span>{page * PAGE + 1}–{Math.min((page + 1) * PAGE, list.count)} of {list.count}</span>
          <button className="secondary" disabled={(page + 1) * PAGE >= list.count} onClick={() => setParams({ q, page: String(page + 1) })}>Next</button>
        </nav>
      )}
      {deleting && (
        <Confirm title={`Delete ${deleting.name}?`} body="Its resources are destroyed and it cannot be brought back." action="Delete workspace"
          onCancel={() => setDeleting(null)} onConfirm={() => { build(deleting, "delete"); setDeleting(null); }} />
      )}
    </section>
  );
}
