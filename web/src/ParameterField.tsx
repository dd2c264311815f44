import { useState } from "react";
import type { Parameter } from "./api/client";
import { listItems, toggleItem } from "./params";

// formType is how to ask for a parameter: its form_type as the provider resolved it, or, for
// versions imported before Hearth kept it, what the type and options suggest.
export function formType(p: Parameter): string {
  if (p.form_type) return p.form_type;
  const options = p.options ?? [];
  if (options.length > 0) return options.length <= 4 ? "radio" : "dropdown";
  if (p.type === "bool") return "checkbox";
  if (p.type === "list(string)") return "tag-select";
  return "input";
}

// ParameterField is one template parameter as the control its form_type names (radios, a select,
// checkboxes for a multi-select, a tag list, a text area, a slider, a checkbox or switch, or an
// input), with its styling (placeholder, disabled, label, masked input); its rules checked as the
// user types.
export function ParameterField({ p, value, error, onChange }: { p: Parameter; value: string; error: string; onChange: (v: string) => void }) {
  const label = p.display_name || p.name;
  const id = `param-${p.name}`;
  const style = p.styling ?? {};
  const disabled = !!style.disabled;
  const note = !p.mutable ? <small className="hint">Cannot be changed after the workspace is created.</small> : null;
  const options = p.options ?? [];
  const kind = formType(p);
  const footer = (
    <>
      {p.description && kind !== "error" && <small id={`${id}-desc`}>{p.description}</small>}
      {note}
      {error && <small className="error" role="alert">{error}</small>}
    </>
  );
  if (kind === "error") {
    return <div className="field"><span>{label}</span><small className="error" role="alert">{p.description || "The template reports an error for this parameter."}</small></div>;
  }
  if (kind === "radio" || kind === "multi-select") {
    const multi = kind === "multi-select";
    return (
      <div className="field">
        <fieldset className="radios" aria-describedby={`${id}-desc`} disabled={disabled}>
          <legend>{label}{p.required && " *"}</legend>
          {options.map((o) => (
            <label key={o.value}>
              <input type={multi ? "checkbox" : "radio"} name={p.name} value={o.value}
                checked={multi ? listItems(value).includes(o.value) : value === o.value}
                onChange={() => onChange(multi ? toggleItem(value, o.value) : o.value)} /> {o.name}
            </label>
          ))}
        </fieldset>
        {footer}
      </div>
    );
  }
  let control;
  switch (kind) {
    case "dropdown":
      control = (
        <select id={id} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)} aria-invalid={!!error}>
          {!p.required || value ? null : <option value="">Choose…</option>}
          {options.map((o) => <option key={o.value} value={o.value}>{o.name}</option>)}
        </select>
      );
      break;
    case "checkbox":
    case "switch":
      control = (
        <span>
          <input id={id} type="checkbox" role={kind === "switch" ? "switch" : undefined} disabled={disabled} checked={value === "true"}
            onChange={(e) => onChange(String(e.target.checked))} /> {style.label}
        </span>
      );
      break;
    case "textarea":
      control = <textarea id={id} value={value} rows={4} placeholder={style.placeholder} disabled={disabled} onChange={(e) => onChange(e.target.value)} aria-invalid={!!error} />;
      break;
    case "slider":
      control = (
        <span className="row">
          <input id={id} type="range" min={p.validation?.min ?? 0} max={p.validation?.max ?? 100} value={value || String(p.validation?.min ?? 0)}
            disabled={disabled} onChange={(e) => onChange(e.target.value)} />
          <output htmlFor={id}>{value}</output>
        </span>
      );
      break;
    case "tag-select":
      control = <TagInput id={id} value={value} placeholder={style.placeholder} disabled={disabled} invalid={!!error} onChange={onChange} />;
      break;
    default:
      control = (
        <input id={id} type={style.mask_input ? "password" : p.type === "number" ? "number" : "text"} value={value} placeholder={style.placeholder}
          disabled={disabled} onChange={(e) => onChange(e.target.value)} aria-invalid={!!error} />
      );
  }
  return (
    <div className="field">
      <label htmlFor={id}>{label}{p.required && " *"}</label>
      {control}
      {footer}
    </div>
  );
}

// TagInput edits a list(string) as words separated by commas, keeping what is typed as typed.
function TagInput({ id, value, placeholder, disabled, invalid, onChange }: {
  id: string; value: string; placeholder?: string; disabled: boolean; invalid: boolean; onChange: (v: string) => void;
}) {
  const [text, setText] = useState(listItems(value).join(", "));
  return (
    <input id={id} type="text" value={text} placeholder={placeholder ?? "comma-separated"} disabled={disabled} aria-invalid={invalid}
      onChange={(e) => {
        setText(e.target.value);
        onChange(JSON.stringify(e.target.value.split(",").map((x) => x.trim()).filter((x) => x !== "")));
      }} />
  );
}
