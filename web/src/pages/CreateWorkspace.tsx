import { useEffect, useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { api, fieldErrors, problemText, type Parameter, type Template } from "../api/client";
import { checkParameter } from "../params";
import { ParameterField } from "../ParameterField";

// CreateWorkspace makes a workspace from a template with a form generated from its parameters.
export function CreateWorkspace() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [templates, setTemplates] = useState<Template[]>();
  const [template, setTemplate] = useState(params.get("template") ?? "");
  const [parameters, setParameters] = useState<Parameter[]>([]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
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
      setValues(Object.fromEntries(ps.map((p) => [p.name, p.default ?? ""])));
      setErrors({});
    });
  }, [templates, template]);
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
      body: { name, template, parameters: parameters.filter((p) => values[p.name] !== "").map((p) => ({ name: p.name, value: values[p.name] })) },
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
        {parameters.map((p) => (
          <ParameterField key={p.name} p={p} value={values[p.name] ?? ""} error={errors[p.name] ?? ""}
            onChange={(v) => {
              setValues({ ...values, [p.name]: v });
              setErrors({ ...errors, [p.name]: checkParameter(p, v) });
            }} />
        ))}
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? "Creating…" : "Create workspace"}</button>
      </form>
    </section>
  );
}
