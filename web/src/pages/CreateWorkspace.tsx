import { useEffect, useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { api, fieldErrors, problemText, type Parameter, type Template } from "../api/client";
import { checkParameter } from "../params";

// ParameterField is one template parameter as a form control: options as radios (a few) or a select,
// booleans as a checkbox, numbers as a number input; its rules checked as the user types.
function ParameterField({ p, value, error, onChange }: { p: Parameter; value: string; error: string; onChange: (v: string) => void }) {
  const label = p.display_name || p.name;
  const id = `param-${p.name}`;
  const note = !p.mutable ? <small className="hint">Cannot be changed after the workspace is created.</small> : null;
  const options = p.options ?? [];
  let control;
  if (options.length > 0 && options.length <= 4) {
    control = (
      <fieldset className="radios" aria-describedby={`${id}-desc`}>
        <legend>{label}{p.required && " *"}</legend>
        {options.map((o) => (
          <label key={o.value}>
            <input type="radio" name={p.name} value={o.value} checked={value === o.value} onChange={() => onChange(o.value)} /> {o.name}
          </label>
        ))}
      </fieldset>
    );
    return <div className="field">{control}{p.description && <small id={`${id}-desc`}>{p.description}</small>}{note}{error && <small className="error">{error}</small>}</div>;
  }
  if (options.length > 4) {
    control = (
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={!!error}>
        {!p.required || value ? null : <option value="">Choose…</option>}
        {options.map((o) => <option key={o.value} value={o.value}>{o.name}</option>)}
      </select>
    );
  } else if (p.type === "bool") {
    control = <input id={id} type="checkbox" checked={value === "true"} onChange={(e) => onChange(String(e.target.checked))} />;
  } else {
    control = <input id={id} type={p.type === "number" ? "number" : "text"} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={!!error} />;
  }
  return (
    <div className="field">
      <label htmlFor={id}>{label}{p.required && " *"}</label>
      {control}
      {p.description && <small>{p.description}</small>}
      {note}
      {error && <small className="error" role="alert">{error}</small>}
    </div>
  );
}

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
