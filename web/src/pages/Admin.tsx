import { useState, type FormEvent } from "react";
import { api, fieldErrors, problemText, type User } from "../api/client";
import { useUser } from "../Layout";
import { ago, Badge, Confirm, usePoll } from "../ui";

const can = (u: User | null, ...roles: string[]) => !!u && u.roles.some((r) => r === "owner" || roles.includes(r));

// Users lists and administers users (user admins and owners; auditors read).
export function Users() {
  const me = useUser();
  const [search, setSearch] = useState("");
  const [error, setError] = useState("");
  const [fields, setFields] = useState<Record<string, string>>({});
  const [deleting, setDeleting] = useState<User | null>(null);
  const [list, refresh] = usePoll(async () => {
    const { data, error } = await api.GET("/api/v2/users", { params: { query: { search: search || undefined, limit: 100 } } });
    if (error) setError(problemText(error));
    return data;
  }, 10000, [search]);
  const admin = can(me, "user-admin");
  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const password = String(f.get("password"));
    const res = await api.POST("/api/v2/users", { body: { username: String(f.get("username")), email: String(f.get("email")), password: password || undefined } });
    setFields(fieldErrors(res.error));
    if (res.error) return setError(problemText(res.error));
    setError("");
    form.reset();
    refresh();
  };
  const act = async (u: User, what: "suspend" | "activate" | "delete") => {
    const path = { params: { path: { user: u.username } } };
    const res = what === "delete" ? await api.DELETE("/api/v2/users/{user}", path)
      : what === "suspend" ? await api.POST("/api/v2/users/{user}/suspend", path) : await api.POST("/api/v2/users/{user}/activate", path);
    setError(res.error ? `${u.username}: ${problemText(res.error)}` : "");
    refresh();
  };
  return (
    <section>
      <h1>Users</h1>
      <label className="row"><span>Search</span><input value={search} onChange={(e) => setSearch(e.target.value)} placeholder="name, username or email" /></label>
      {error && <p className="error" role="alert">{error}</p>}
      {!list ? <p role="status">Loading…</p> : (
        <table>
          <thead><tr><th>Username</th><th>Email</th><th>Roles</th><th>Status</th><th>Created</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.users.map((u) => (
              <tr key={u.id}>
                <td>{u.username}</td><td>{u.email}</td><td>{u.roles.join(", ") || "member"}</td><td><Badge status={u.status} /></td><td>{ago(u.created_at)}</td>
                <td className="actions">
                  {admin && u.id !== me?.id && (u.status === "active"
                    ? <button className="small secondary" onClick={() => act(u, "suspend")}>Suspend</button>
                    : <button className="small" onClick={() => act(u, "activate")}>Activate</button>)}
                  {admin && u.id !== me?.id && <button className="small danger" onClick={() => setDeleting(u)} aria-label={`Delete ${u.username}`}>Delete</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin && (
        <form className="card" onSubmit={create}>
          <h2>Add a user</h2>
          <div className="row">
            <label className="field">Username<input name="username" required aria-invalid={!!fields.username} />{fields.username && <small className="error">{fields.username}</small>}</label>
            <label className="field">Email<input name="email" type="email" required aria-invalid={!!fields.email} />{fields.email && <small className="error">{fields.email}</small>}</label>
            <label className="field">Password (leave empty for OIDC only)<input name="password" type="password" autoComplete="new-password" /></label>
          </div>
          <button type="submit">Add user</button>
        </form>
      )}
      {deleting && <Confirm title={`Delete ${deleting.username}?`} body="They can no longer sign in; their workspaces must be deleted first." action="Delete user"
        onCancel={() => setDeleting(null)} onConfirm={() => { act(deleting, "delete"); setDeleting(null); }} />}
    </section>
  );
}

// Tokens lists, creates and revokes the signed-in user's API tokens.
export function Tokens() {
  const [error, setError] = useState("");
  const [created, setCreated] = useState("");
  const [list, refresh] = usePoll(async () => (await api.GET("/api/v2/users/{user}/tokens", { params: { path: { user: "me" } } })).data, 30000, []);
  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const res = await api.POST("/api/v2/users/{user}/tokens", { params: { path: { user: "me" } }, body: { name: String(new FormData(form).get("name")) } });
    if (res.error) return setError(problemText(res.error));
    setError("");
    setCreated(res.data.token);
    form.reset();
    refresh();
  };
  const revoke = async (id: string) => {
    const res = await api.DELETE("/api/v2/users/{user}/tokens/{id}", { params: { path: { user: "me", id } } });
    setError(res.error ? problemText(res.error) : "");
    refresh();
  };
  return (
    <section>
      <h1>API tokens</h1>
      <form className="row" onSubmit={create}>
        <label className="row">Name <input name="name" required placeholder="ci" /></label>
        <button type="submit">Create token</button>
      </form>
      {created && <p className="card" role="status">New token (shown only now): <code>{created}</code></p>}
      {error && <p className="error" role="alert">{error}</p>}
      {list && (list.tokens.length === 0 ? <p className="empty">No tokens. Create one for scripts and CI.</p> : (
        <table>
          <thead><tr><th>Name</th><th>Scopes</th><th>Expires</th><th>Last used</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.tokens.map((t) => (
              <tr key={t.id}><td>{t.name}</td><td>{t.scopes.join(", ")}</td><td>{new Date(t.expires_at).toLocaleDateString()}</td><td>{ago(t.last_used_at)}</td>
                <td className="actions"><button className="small danger" onClick={() => revoke(t.id)} aria-label={`Revoke ${t.name}`}>Revoke</button></td></tr>
            ))}
          </tbody>
        </table>
      ))}
    </section>
  );
}

// Provisioners shows the workers and the build queue, refreshing every few seconds.
export function Provisioners() {
  const [workers] = usePoll(async () => (await api.GET("/api/v2/provisioners")).data, 5000, []);
  const [jobs] = usePoll(async () => (await api.GET("/api/v2/provisioners/jobs")).data, 3000, []);
  const waiting = (jobs?.jobs ?? []).filter((j) => j.state !== "running");
  const oldest = waiting.reduce<string | undefined>((o, j) => (!o || j.created_at < o ? j.created_at : o), undefined);
  const tags = (m: Record<string, string>) => Object.entries(m).map(([k, v]) => `${k}=${v}`).join(", ") || "untagged";
  return (
    <section>
      <h1>Provisioners</h1>
      {!workers ? <p role="status">Loading…</p> : workers.workers.length === 0 ? <p className="empty">No workers seen recently: start one with <code>hearth provisioner start</code>.</p> : (
        <table>
          <thead><tr><th>Worker</th><th>Tags</th><th>Job</th><th>Last seen</th><th>Version</th></tr></thead>
          <tbody>{workers.workers.map((w) => <tr key={w.name}><td>{w.name}{w.builtin && <span className="hint"> (built-in)</span>}</td><td>{tags(w.tags)}</td><td>{w.current_job_id ? `#${w.current_job_id}` : "idle"}</td><td>{ago(w.last_seen_at)}</td><td>{w.version}</td></tr>)}</tbody>
        </table>
      )}
      <h2>Queue {oldest && <span className="hint">(oldest waiting: {ago(oldest)})</span>}</h2>
      {jobs && (jobs.jobs.length === 0 ? <p className="empty">The queue is empty.</p> : (
        <table>
          <thead><tr><th>Job</th><th>Kind</th><th>State</th><th>Position</th><th>Tags</th><th>Queued</th></tr></thead>
          <tbody>{jobs.jobs.map((j) => <tr key={j.id}><td>#{j.id}</td><td>{j.kind}</td><td>{j.state}{j.no_matching_worker && <span className="error"> (no worker has its tags)</span>}</td><td>{j.queue_position || "–"}</td><td>{tags(j.tags)}</td><td>{ago(j.created_at)}</td></tr>)}</tbody>
        </table>
      ))}
    </section>
  );
}

// Audit shows the audit log (owners and auditors), newest first.
export function Audit() {
  const [error, setError] = useState("");
  const [list] = usePoll(async () => {
    const { data, error } = await api.GET("/api/v2/audit", { params: { query: { limit: 100 } } });
    if (error) setError(problemText(error));
    return data;
  }, 10000, []);
  return (
    <section>
      <h1>Audit log</h1>
      {error && <p className="error" role="alert">{error}</p>}
      {list && (
        <table>
          <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Resource</th><th>Result</th><th>IP</th></tr></thead>
          <tbody>{list.entries.map((e) => <tr key={e.id}><td>{ago(e.time)}</td><td>{e.username}</td><td>{e.action}</td><td>{e.resource_type} {e.resource_name || e.resource_id}</td><td><Badge status={e.result === "success" ? "succeeded" : "failed"} /> {e.status}</td><td>{e.ip}</td></tr>)}</tbody>
        </table>
      )}
    </section>
  );
}

export { can };
