import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { api, problemText, type Template } from "../api/client";
import { useUser } from "../Layout";
import { AccessEditor } from "./Teams";
import { ago, Badge, Diagnostics, SourceWarnings, usePoll } from "../ui";

const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

// Policy shows a template's lifecycle policy, and lets template admins change it: durations are in
// hours or days here, seconds in the API; 0 or empty turns a policy off.
function Policy({ tmpl, admin, onChange }: { tmpl: Template; admin: boolean; onChange: () => void }) {
  const [message, setMessage] = useState<{ error: boolean; text: string }>();
  const fields: { name: keyof Template; label: string; unit: number; unitName: string }[] = [
    { name: "default_ttl_seconds", label: "Autostop after a start", unit: 3600, unitName: "hours" },
    { name: "max_ttl_seconds", label: "Longest run after a start", unit: 3600, unitName: "hours" },
    { name: "activity_bump_seconds", label: "Activity keeps it up for", unit: 3600, unitName: "hours (0: its autostop)" },
    { name: "dormancy_threshold_seconds", label: "Dormant when unused for", unit: 86400, unitName: "days" },
    { name: "dormancy_delete_seconds", label: "Delete when dormant for", unit: 86400, unitName: "days" },
    { name: "failure_ttl_seconds", label: "Stop a failed start after", unit: 3600, unitName: "hours" },
  ];
  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const body: Record<string, unknown> = { autostop_requirement_days: days.filter((d) => form.get(`req-${d}`)) };
    for (const f of fields) body[f.name] = Math.round(Number(form.get(f.name) || 0) * f.unit);
    const res = await api.PATCH("/api/v2/templates/{template}", { params: { path: { template: tmpl.name } }, body });
    setMessage(res.error ? { error: true, text: problemText(res.error) } : { error: false, text: "Policy saved." });
    onChange();
  };
  return (
    <form className="card" onSubmit={save} aria-label="Lifecycle policy">
      <h2>Lifecycle policy</h2>
      <div className="row">
        {fields.map((f) => (
          <label key={f.name} className="field">{f.label} ({f.unitName}; 0: never)
            <input name={f.name} type="number" min="0" step="any" disabled={!admin} defaultValue={String(Number(tmpl[f.name] ?? 0) / f.unit)} />
          </label>
        ))}
      </div>
      <fieldset className="days" disabled={!admin}>
        <legend>Required stop at the owner&apos;s quiet hours (default midnight UTC) on</legend>
        {days.map((d) => (
          <label key={d}><input type="checkbox" name={`req-${d}`} defaultChecked={tmpl.autostop_requirement_days.includes(d)} /> {d}</label>
        ))}
      </fieldset>
      {admin && <button type="submit" className="secondary">Save policy</button>}
      {message && <p className={message.error ? "error" : "hint"} role={message.error ? "alert" : "status"}>{message.text}</p>}
    </form>
  );
}

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
          {version.error && <p className="error">The import of {version.name} {version.status}: {version.error}</p>}
          <Diagnostics items={version.diagnostics ?? []} />
          <SourceWarnings items={version.warnings ?? []} />
          {(version.workspace_tags ?? []).length > 0 && (
            <p className="hint">Workspace tags: builds go only to provisioners tagged {(version.workspace_tags ?? []).map((t) => `${t.key}=${t.parameter ? `<parameter ${t.parameter}>` : t.value}`).join(", ")}.</p>
          )}
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
      <Policy tmpl={tmpl} admin={admin} onChange={refresh} />
      <AccessEditor title="Access" canChange hideWhenRefused
        load={() => api.GET("/api/v2/templates/{template}/acl", { params: { path: { template: name } } })}
        save={(body) => api.PATCH("/api/v2/templates/{template}/acl", { params: { path: { template: name } }, body })} />
      <h2>Workspaces</h2>
      {spaces && (spaces.workspaces.length === 0 ? <p className="hint">No workspace uses this template yet.</p> : (
        <ul>{spaces.workspaces.map((w) => <li key={w.id}><Link to={`/@${w.owner_name}/${w.name}`}>{w.owner_name}/{w.name}</Link> <Badge status={w.status} /></li>)}</ul>
      ))}
    </section>
  );
}
