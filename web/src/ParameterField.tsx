import type { Parameter } from "./api/client";
import { listItems, toggleItem } from "./params";

// ParameterField is one template parameter as a form control: options as radios (a few) or a select,
// a list(string) with options as checkboxes (several may be chosen), booleans as a checkbox, numbers
// as a number input; its rules checked as the user types.
export function ParameterField({ p, value, error, onChange }: { p: Parameter; value: string; error: string; onChange: (v: string) => void }) {
  const label = p.display_name || p.name;
  const id = `param-${p.name}`;
  const note = !p.mutable ? <small className="hint">Cannot be changed after the workspace is created.</small> : null;
  const options = p.options ?? [];
  let control;
  if (options.length > 0 && p.type === "list(string)") {
    const chosen = (item: string) => listItems(value).includes(item);
    control = (
      <fieldset className="radios" aria-describedby={`${id}-desc`}>
        <legend>{label}{p.required && " *"}</legend>
        {options.map((o) => (
          <label key={o.value}>
            <input type="checkbox" name={p.name} value={o.value} checked={chosen(o.value)} onChange={() => onChange(toggleItem(value, o.value))} /> {o.name}
          </label>
        ))}
      </fieldset>
    );
    return <div className="field">{control}{p.description && <small id={`${id}-desc`}>{p.description}</small>}{note}{error && <small className="error">{error}</small>}</div>;
  }
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
