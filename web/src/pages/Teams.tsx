import { useState, type FormEvent } from "react";
import { api, problemText, type AccessList, type Group } from "../api/client";
import { useUser } from "../Layout";
import { Confirm, usePoll } from "../ui";

// Groups lists groups; user admins make them and change their members.
export function Groups() {
  const me = useUser();
  const admin = !!me && me.roles.some((r) => r === "owner" || r === "user-admin");
  const [error, setError] = useState("");
  const [open, setOpen] = useState("");
  const [deleting, setDeleting] = useState<Group | null>(null);
  const [list, refresh] = usePoll(async () => {
    const { data, error } = await api.GET("/api/v2/groups");
    if (error) setError(problemText(error));
    return data;
  }, 10000, []);
  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const members = String(f.get("members")).split(",").map((s) => s.trim()).filter(Boolean);
    const res = await api.POST("/api/v2/groups", { body: { name: String(f.get("name")), display_name: String(f.get("display_name")) || undefined, members,
      quota_allowance: Number(f.get("quota_allowance") || 0) } });
    if (res.error) return setError(problemText(res.error));
    setError("");
    form.reset();
    refresh();
  };
  const remove = async (g: Group) => {
    const res = await api.DELETE("/api/v2/groups/{group}", { params: { path: { group: g.name } } });
    setError(res.error ? `${g.name}: ${problemText(res.error)}` : "");
    refresh();
  };
  return (
    <section>
      <h1>Groups</h1>
      {error && <p className="error" role="alert">{error}</p>}
      {!list ? <p role="status">Loading…</p> : (
        <table>
          <thead><tr><th>Name</th><th>Display name</th><th>Members</th><th>Quota (credits a day)</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.groups.map((g) => (
              <tr key={g.id}>
                <td><button className="link" onClick={() => setOpen(open === g.name ? "" : g.name)} aria-expanded={open === g.name}>{g.name}</button></td>
                <td>{g.display_name}</td><td>{g.everyone ? `every user (${g.member_count})` : g.member_count}</td><td>{g.quota_allowance}</td>
                <td className="actions">{admin && !g.everyone && <button className="small danger" onClick={() => setDeleting(g)} aria-label={`Delete ${g.name}`}>Delete</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && <GroupMembers name={open} admin={admin} onChange={refresh} />}
      {admin && (
        <form className="card" onSubmit={create}>
          <h2>Add a group</h2>
          <div className="row">
            <label className="field">Group name<input name="name" required pattern="[a-z0-9][a-z0-9-]*" /></label>
            <label className="field">Display name<input name="display_name" /></label>
            <label className="field">Members (usernames, comma-separated)<input name="members" /></label>
            <label className="field">Quota (credits a day per member)<input name="quota_allowance" type="number" min="0" defaultValue="0" /></label>
          </div>
          <button type="submit">Add group</button>
        </form>
      )}
      {deleting && <Confirm title={`Delete ${deleting.name}?`} body="Its grants on templates and workspaces go with it." action="Delete group"
        onCancel={() => setDeleting(null)} onConfirm={() => { remove(deleting); setDeleting(null); }} />}
    </section>
  );
}

function GroupMembers({ name, admin, onChange }: { name: string; admin: boolean; onChange: () => void }) {
  const [error, setError] = useState("");
  const [group, refresh] = usePoll(async () => (await api.GET("/api/v2/groups/{group}", { params: { path: { group: name } } })).data, 10000, [name]);
  const change = async (body: { add_members?: string[]; remove_members?: string[] }) => {
    const res = await api.PATCH("/api/v2/groups/{group}", { params: { path: { group: name } }, body });
    setError(res.error ? problemText(res.error) : "");
    refresh();
    onChange();
  };
  const add = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    change({ add_members: [String(new FormData(form).get("username"))] });
    form.reset();
  };
  if (!group) return null;
  return (
    <section className="card" aria-label={`Members of ${name}`}>
      <h2>Members of {group.display_name || group.name}</h2>
      {error && <p className="error" role="alert">{error}</p>}
      {group.everyone ? <p>Every user is a member.</p> : (
        <ul>
          {(group.members ?? []).map((m) => (
            <li key={m.id}>{m.username} {m.source === "oidc" && <small>(from OIDC)</small>}
              {admin && <button className="small secondary" onClick={() => change({ remove_members: [m.username] })} aria-label={`Remove ${m.username}`}>Remove</button>}</li>
          ))}
        </ul>
      )}
      {admin && !group.everyone && (
        <form className="row" onSubmit={add}>
          <label className="field">Username<input name="username" required /></label>
          <button type="submit">Add member</button>
        </form>
      )}
    </section>
  );
}

// AccessEditor shows an access list (a template's or a workspace's) and, for those who may, changes it.
export function AccessEditor(props: { title: string; load: () => Promise<{ data?: AccessList; error?: unknown }>;
  save: (body: { users?: Record<string, string>; groups?: Record<string, string> }) => Promise<{ data?: AccessList; error?: unknown }>;
  canChange: boolean; hideWhenRefused?: boolean }) {
  const [error, setError] = useState("");
  const [refused, setRefused] = useState(false);
  const [list, refresh] = usePoll(async () => {
    const { data, error } = await props.load();
    if (error && (error as { status?: number }).status === 403) setRefused(true);
    else if (error) setError(problemText(error));
    return data;
  }, 15000, []);
  if (refused && props.hideWhenRefused) return null;
  const save = async (body: { users?: Record<string, string>; groups?: Record<string, string> }) => {
    const res = await props.save(body);
    setError(res.error ? problemText(res.error) : "");
    refresh();
  };
  const grant = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const name = String(f.get("name")), role = String(f.get("role"));
    save(f.get("kind") === "group" ? { groups: { [name]: role } } : { users: { [name]: role } });
    form.reset();
  };
  const entries = list ? [...list.groups.map((g) => ({ ...g, kind: "group" })), ...list.users.map((u) => ({ ...u, kind: "user" }))] : [];
  return (
    <section className="card" aria-label={props.title}>
      <h2>{props.title}</h2>
      {error && <p className="error" role="alert">{error}</p>}
      {list && entries.length === 0 && <p>Nobody besides the owner and admins.</p>}
      {entries.length > 0 && (
        <table>
          <thead><tr><th>Kind</th><th>Name</th><th>Role</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.kind + e.id}>
                <td>{e.kind}</td><td>{e.name}</td><td>{e.role}</td>
                <td className="actions">{props.canChange && <button className="small secondary" aria-label={`Remove ${e.kind} ${e.name}`}
                  onClick={() => save(e.kind === "group" ? { groups: { [e.name]: "" } } : { users: { [e.name]: "" } })}>Remove</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.canChange && (
        <form className="row" onSubmit={grant}>
          <label className="field">Share with<select name="kind" defaultValue="user"><option value="user">user</option><option value="group">group</option></select></label>
          <label className="field">Name<input name="name" required /></label>
          <label className="field">Role<select name="role" defaultValue="use"><option value="use">use</option><option value="admin">admin</option></select></label>
          <button type="submit">Grant</button>
        </form>
      )}
    </section>
  );
}
