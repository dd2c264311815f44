import { useEffect, useState, type FormEvent } from "react";
import { api, problemText, type Parameter, type Workspace } from "../api/client";
import { checkParameter } from "../params";
import { ParameterField } from "../ParameterField";

type Version = { id: string; name: string; message: string; parameters: Parameter[] };

async function version(id: string): Promise<Version | undefined> {
  return (await api.GET("/api/v2/template-versions/{id}", { params: { path: { id } } })).data;
}

// WorkspaceParameters lets a workspace's owner move it to its template's active version ("Update",
// with the version's message and the parameters it adds), and change the parameters that may change
// after creation; either starts a build with the new values.
export function WorkspaceParameters({ ws, onBuilt }: { ws: Workspace; onBuilt: () => void }) {
  const b = ws.latest_build;
  const [current, setCurrent] = useState<Version>();
  const [active, setActive] = useState<Version>();
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    (async () => {
      const cur = await version(b.template_version_id);
      let act: Version | undefined;
      if (ws.outdated) {
        const t = (await api.GET("/api/v2/templates/{template}", { params: { path: { template: ws.template_id } } })).data;
        if (t) act = await version(t.active_version_id);
      }
      if (!live) return;
      setCurrent(cur);
      setActive(act);
      const given = new Map(b.parameters.map((p) => [p.name, p.value]));
      const start: Record<string, string> = {};
      for (const p of [...(cur?.parameters ?? []), ...(act?.parameters ?? [])]) start[p.name] = given.get(p.name) ?? p.default ?? "";
      setValues(start);
    })();
    return () => { live = false; };
  }, [b.template_version_id, b.id, ws.outdated, ws.template_id]);

  const given = new Map(b.parameters.map((p) => [p.name, p.value]));
  const added = (active?.parameters ?? []).filter((p) => !given.has(p.name) && !(current?.parameters ?? []).some((c) => c.name === p.name));
  const mutable = (current?.parameters ?? []).filter((p) => p.mutable);
  const errorOf = (p: Parameter) => checkParameter(p, values[p.name] ?? "");
  const set = (name: string) => (v: string) => setValues((old) => ({ ...old, [name]: v }));

  const build = async (e: FormEvent, shown: Parameter[], versionID?: string) => {
    e.preventDefault();
    if (shown.some((p) => errorOf(p))) return setError("Fix the parameters marked above first.");
    const parameters = shown.filter((p) => values[p.name] !== given.get(p.name)).map((p) => ({ name: p.name, value: values[p.name] ?? "" }));
    setBusy(true);
    setError("");
    const res = await api.POST("/api/v2/workspaces/{workspace}/builds", {
      params: { path: { workspace: ws.id } },
      body: { transition: "start", template_version_id: versionID, parameters },
    });
    setBusy(false);
    if (res.error) return setError(problemText(res.error));
    onBuilt();
  };
  const buildable = !["pending", "starting", "stopping", "deleting", "canceling"].includes(ws.status);

  return (
    <>
      {ws.outdated && active && (
        <form className="card" aria-label="Update" onSubmit={(e) => build(e, added, active.id)}>
          <h2>Update to {active.name}</h2>
          {active.message ? <p>{active.message}</p> : <p className="hint">The template's active version has no message.</p>}
          {added.length > 0 && <p className="hint">It adds these parameters:</p>}
          {added.map((p) => <ParameterField key={p.name} p={p} value={values[p.name] ?? ""} error={errorOf(p)} onChange={set(p.name)} />)}
          <button type="submit" disabled={busy || !buildable}>Update</button>
        </form>
      )}
      {mutable.length > 0 && (
        <form className="card" aria-label="Parameters" onSubmit={(e) => build(e, mutable)}>
          <h2>Parameters</h2>
          {mutable.map((p) => <ParameterField key={p.name} p={p} value={values[p.name] ?? ""} error={errorOf(p)} onChange={set(p.name)} />)}
          <button type="submit" className="secondary" disabled={busy || !buildable || mutable.every((p) => values[p.name] === given.get(p.name))}>
            Apply and rebuild
          </button>
        </form>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </>
  );
}
