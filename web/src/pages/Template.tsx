import { useState } from "react";
import { Link, useParams } from "react-router";
import { api, problemText } from "../api/client";
import { useUser } from "../Layout";
import { ago, Badge, usePoll } from "../ui";

// TemplatePage shows a template: its versions (with promotion for template admins), the chosen
// version's parameters and import log, and the workspaces built from it.
export function TemplatePage() {
  const { name = "" } = useParams();
  const me = useUser();
  const admin = !!me?.roles.some((r) => r === "owner" || r === "template-admin");
  const [chosen, setChosen] = useState("");
  const [error, setError] = useState("");
  const [tmpl, refresh] = usePoll(async () => {
    const { data, error } = await api.GET("/api/v2/templates/{template}", { params: { path: { template: name } } });
    if (error) setError(problemText(error));
    return data;
  }, 10000, [name]);
  const [versions] = usePoll(async () => (await api.GET("/api/v2/templates/{template}/versions", { params: { path: { template: name } } })).data, 10000, [name, tmpl?.active_version_id]);
  const versionID = chosen || tmpl?.active_version_id || "";
  const [version] = usePoll(async () => versionID ? (await api.GET("/api/v2/template-versions/{id}", { params: { path: { id: versionID } } })).data : undefined, 10000, [versionID]);
  const [logs] = usePoll(async () => versionID ? (await api.GET("/api/v2/template-versions/{id}/logs", { params: { path: { id: versionID } } })).data : undefined, 10000, [versionID]);
  const [spaces] = usePoll(async () => (await api.GET("/api/v2/workspaces", { params: { query: { q: `template:${name}`, limit: 50 } } })).data, 10000, [name]);
  if (!tmpl) return error ? <p className="error" role="alert">{error}</p> : <p role="status">Loading…</p>;
  const promote = async (id: string) => {
    const res = await api.PUT("/api/v2/templates/{template}/active-version", { params: { path: { template: name } }, body: { version_id: id } });
    setError(res.error ? problemText(res.error) : "");
    refresh();
  };
  return (
    <section>
      <div className="row">
        <h1>{tmpl.display_name || tmpl.name}</h1>
        <span className="grow" />
        <Link className="button" to={`/workspaces/new?template=${encodeURIComponent(tmpl.name)}`}>Create workspace</Link>
      </div>
      {tmpl.description && <p>{tmpl.description}</p>}
      {error && <p className="error" role="alert">{error}</p>}
      <h2>Versions</h2>
      <table>
        <thead><tr><th>Version</th><th>Import</th><th>Pushed</th><th>Message</th><th><span className="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {(versions?.versions ?? []).map((v) => (
            <tr key={v.id} aria-selected={v.id === versionID}>
              <td><button className="link" onClick={() => setChosen(v.id)}>{v.name}</button>{v.id === tmpl.active_version_id && <span className="hint"> (active)</span>}</td>
              <td><Badge status={v.status} /></td><td>{ago(v.created_at)}</td><td>{v.message}</td>
              <td className="actions">{admin && v.status === "succeeded" && v.id !== tmpl.active_version_id &&
                <button className="small" onClick={() => promote(v.id)}>Make active</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {version && (
        <>
          <h2>Parameters of {version.name}</h2>
          {version.parameters.length === 0 ? <p className="hint">None.</p> : (
            <table>
              <thead><tr><th>Name</th><th>Type</th><th>Default</th><th>Rules</th></tr></thead>
              <tbody>{version.parameters.map((p) => (
                <tr key={p.name}><td>{p.display_name || p.name}</td><td>{p.type}</td><td>{p.required ? <em>required</em> : p.default}</td>
                  <td>{[p.options?.length ? `one of ${p.options.map((o) => o.value).join(", ")}` : "", p.mutable ? "" : "immutable",
                    p.validation?.min != null ? `min ${p.validation.min}` : "", p.validation?.max != null ? `max ${p.validation.max}` : "",
                    p.validation?.regex ? `matches ${p.validation.regex}` : ""].filter(Boolean).join("; ")}</td></tr>
              ))}</tbody>
            </table>
          )}
          <h2>Import log</h2>
          <div className="log" role="log">{(logs?.logs ?? []).map((l) => <div key={l.id}><span className="t">{l.stage}</span> {l.output}</div>)}</div>
        </>
      )}
      <h2>Workspaces</h2>
      {spaces && (spaces.workspaces.length === 0 ? <p className="hint">No workspace uses this template yet.</p> : (
        <ul>{spaces.workspaces.map((w) => <li key={w.id}><Link to={`/@${w.owner_name}/${w.name}`}>{w.owner_name}/{w.name}</Link> <Badge status={w.status} /></li>)}</ul>
      ))}
    </section>
  );
}
