import { useEffect, useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { api, fieldErrors, problemText, type Parameter, type Preset, type Template } from "../api/client";
import { checkParameter, fromEvaluation } from "../params";
import { ParameterField } from "../ParameterField";

// CreateWorkspace makes a workspace from a template with a form generated from its parameters. A
// template's presets are offered first (its default chosen); a preset's values fill, and lock, the
// parameters it sets.
export function CreateWorkspace() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [templates, setTemplates] = useState<Template[]>();
  const [template, setTemplate] = useState(params.get("template") ?? "");
  const [parameters, setParameters] = useState<Parameter[]>([]);
  const [imported, setImported] = useState<Parameter[]>([]);
  const [versionID, setVersionID] = useState("");
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [dynamic, setDynamic] = useState(true);
  const [presets, setPresets] = useState<Preset[]>([]);
  const [preset, setPreset] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  // The external auth providers the version uses, with the user's link to each.
  const [auths, setAuths] = useState<{ id: string; optional: boolean; name: string; linked: boolean; known: boolean }[]>([]);
  useEffect(() => {
    api.GET("/api/v2/templates").then(({ data, error }) => {
      if (error) return setError(problemText(error));
      setTemplates(data.templates);
      if (!template && data.templates.length > 0) setTemplate(data.templates[0].name);
    });
  }, [template]);
  useEffect(() => {
    const t = templates?.find((t) => t.name === template);
    if (!t) return;
    api.GET("/api/v2/template-versions/{id}", { params: { path: { id: t.active_version_id } } }).then(({ data }) => {
      const ps = [...(data?.parameters ?? [])].sort((a, b) => a.order - b.order);
      setParameters(ps);
      setImported(ps);
      setVersionID(t.active_version_id);
      setTouched(new Set());
      setDynamic(true);
      const defaults = Object.fromEntries(ps.map((p) => [p.name, p.default ?? ""]));
      const chosen = (data?.presets ?? []).find((x) => x.default);
      setPresets(data?.presets ?? []);
      setPreset(chosen?.name ?? "");
      const uses = data?.external_auth ?? [];
      setAuths([]);
      if (uses.length > 0) {
        api.GET("/api/v2/external-auth").then(({ data: ea }) => {
          const byID = new Map((ea?.providers ?? []).map((p) => [p.id, p]));
          setAuths(uses.map((u) => ({ id: u.id, optional: u.optional, name: byID.get(u.id)?.display_name ?? u.id,
            linked: byID.get(u.id)?.linked ?? false, known: byID.has(u.id) })));
        });
      }
      setValues({ ...defaults, ...(chosen?.parameters ?? {}) });
      setErrors({});
    });
  }, [templates, template]);
  // Parameters that depend on others are evaluated as the user types (once the first answer says the
  // version has any): options, defaults and which parameters exist follow the chosen values. An
  // answer that arrives after the user changed something again is dropped: it was computed from the
  // old values and would undo the change.
  useEffect(() => {
    if (!versionID || !dynamic) return;
    let superseded = false;
    const chosen = Object.fromEntries([...touched].map((k) => [k, values[k] ?? ""]));
    for (const [k, v] of Object.entries(presets.find((x) => x.name === preset)?.parameters ?? {})) chosen[k] = v;
    const timer = setTimeout(async () => {
      const { data } = await api.POST("/api/v2/template-versions/{id}/dynamic-parameters/evaluate", { params: { path: { id: versionID } }, body: { values: chosen } });
      if (!data || superseded) return;
      if (!data.dynamic) return setDynamic(false);
      const next = fromEvaluation(imported, data.parameters, values, new Set([...touched, ...Object.keys(chosen)]));
      setParameters(next.parameters);
      setValues((old) => (JSON.stringify(old) === JSON.stringify(next.values) ? old : next.values));
      setErrors((old) => Object.fromEntries(Object.keys(next.values).map((k) => [k, next.errors[k] || old[k] || ""])));
    }, 150);
    return () => {
      superseded = true;
      clearTimeout(timer);
    };
  }, [versionID, dynamic, touched, values, preset, presets, imported]);
  const fixed = presets.find((x) => x.name === preset)?.parameters ?? {};
  const choosePreset = (name: string) => {
    const before = presets.find((x) => x.name === preset)?.parameters ?? {};
    const next = { ...values };
    for (const k of Object.keys(before)) next[k] = parameters.find((p) => p.name === k)?.default ?? "";
    Object.assign(next, presets.find((x) => x.name === name)?.parameters ?? {});
    setPreset(name);
    setValues(next);
    setErrors({});
  };
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const name = String(new FormData(e.currentTarget).get("name"));
    const found: Record<string, string> = {};
    for (const p of parameters) {
      const msg = checkParameter(p, values[p.name] ?? "");
      if (msg) found[p.name] = msg;
    }
    setErrors(found);
    if (Object.keys(found).length > 0) return setError("Some parameters need another value.");
    setBusy(true);
    const res = await api.POST("/api/v2/workspaces", {
      body: {
        name, template, preset: preset || undefined,
        parameters: parameters.filter((p) => values[p.name] !== "" && !(p.name in fixed)).map((p) => ({ name: p.name, value: values[p.name] })),
      },
    });
    setBusy(false);
    if (res.error) {
      const byField = fieldErrors(res.error);
      setErrors(Object.fromEntries(Object.entries(byField).map(([k, v]) => [k.replace(/^parameters\./, ""), v])));
      return setError(problemText(res.error));
    }
    navigate(`/@${res.data.owner_name}/${res.data.name}`);
  };
  if (!templates) return <p role="status">Loading templates…</p>;
  if (templates.length === 0) return <div className="empty"><p>There are no templates yet. Push one with <code>hearth templates push DIR</code>.</p></div>;
  return (
    <section className="card">
      <h1>New workspace</h1>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="ws-name">Name</label>
          <input id="ws-name" name="name" required pattern="[a-zA-Z0-9][a-zA-Z0-9-]*" autoComplete="off" aria-invalid={!!errors.name} />
          {errors.name && <small className="error">{errors.name}</small>}
        </div>
        <div className="field">
          <label htmlFor="ws-template">Template</label>
          <select id="ws-template" value={template} onChange={(e) => setTemplate(e.target.value)}>
            {templates.map((t) => <option key={t.id} value={t.name}>{t.display_name || t.name}</option>)}
          </select>
        </div>
        {presets.length > 0 && (
          <div className="field">
            <label htmlFor="ws-preset">Preset</label>
            <select id="ws-preset" value={preset} onChange={(e) => choosePreset(e.target.value)}>
              <option value="">None</option>
              {presets.map((x) => <option key={x.name} value={x.name}>{x.name}{x.default ? " (default)" : ""}</option>)}
            </select>
            {presets.find((x) => x.name === preset)?.description && <small>{presets.find((x) => x.name === preset)?.description}</small>}
          </div>
        )}
        {parameters.map((p) => (
          <fieldset key={p.name} className="plain" disabled={p.name in fixed} title={p.name in fixed ? `Set by the preset ${preset}` : undefined}>
            <ParameterField p={p} value={values[p.name] ?? ""} error={errors[p.name] ?? ""}
              onChange={(v) => {
                setValues({ ...values, [p.name]: v });
                setTouched(new Set([...touched, p.name]));
                setErrors({ ...errors, [p.name]: checkParameter(p, v) });
              }} />
          </fieldset>
        ))}
        {auths.length > 0 && (
          <fieldset className="plain">
            <legend>External auth</legend>
            <ul>
              {auths.map((a) => (
                <li key={a.id}>
                  {a.name}{a.optional ? " (optional)" : ""}:{" "}
                  {a.linked ? "linked" : !a.known ? "not offered by this deployment" : (
                    <a href={`/api/v2/external-auth/${encodeURIComponent(a.id)}/login?redirect=${encodeURIComponent(`/workspaces/new?template=${template}`)}`}>Link your {a.name} account</a>
                  )}
                </li>
              ))}
            </ul>
          </fieldset>
        )}
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? "Creating…" : "Create workspace"}</button>
      </form>
    </section>
  );
}
