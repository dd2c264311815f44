import type { Parameter } from "./api/client";

// checkParameter applies a template parameter's type, options and validation rules to a value, the
// way the server does, so a form can say what is wrong before submitting. "" means valid.
export function checkParameter(p: Parameter, value: string): string {
  if (value === "") {
    return p.required ? "Required." : "";
  }
  const multi = p.type === "list(string)" && p.form_type === "multi-select";
  if (!multi && p.options && p.options.length > 0 && !p.options.some((o) => o.value === value)) {
    return `Choose one of ${p.options.map((o) => o.value).join(", ")}.`;
  }
  const v = p.validation;
  const custom = (msg: string) => (v?.error ? v.error : msg);
  switch (p.type) {
    case "number": {
      const n = Number(value);
      if (value.trim() === "" || Number.isNaN(n)) return "Enter a number.";
      if (v?.min != null && n < v.min) return custom(`At least ${v.min}.`);
      if (v?.max != null && n > v.max) return custom(`At most ${v.max}.`);
      return "";
    }
    case "bool":
      return value === "true" || value === "false" ? "" : "Choose true or false.";
    case "list(string)":
      try {
        const list = JSON.parse(value);
        if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) return 'Enter a JSON list of strings, like ["a","b"].';
        const other = multi ? list.find((x) => !p.options.some((o) => o.value === x)) : undefined;
        return other === undefined ? "" : `"${other}" is not one of ${p.options.map((o) => o.value).join(", ")}.`;
      } catch {
        return 'Enter a JSON list of strings, like ["a","b"].';
      }
    default:
      if (v?.regex) {
        try {
          if (!new RegExp(v.regex).test(value)) return custom(`Must match ${v.regex}.`);
        } catch {
          return "";
        }
      }
      return "";
  }
}

// listItems reads a list(string) value (JSON); anything else is an empty list.
export function listItems(value: string): string[] {
  try {
    const parsed = JSON.parse(value || "[]");
    return Array.isArray(parsed) ? parsed.filter((x) => typeof x === "string") : [];
  } catch {
    return [];
  }
}

// toggleItem adds an item to a list(string) value, or takes it out.
export function toggleItem(value: string, item: string): string {
  const list = listItems(value);
  return JSON.stringify(list.includes(item) ? list.filter((x) => x !== item) : [...list, item]);
}

type EvalParameter = {
  name: string; display_name?: string; description?: string; type: string; form_type?: string; default?: string; value: string;
  required: boolean; mutable: boolean; order: number; options: { name: string; value: string }[];
  min?: number; max?: number; regex?: string; error?: string; diagnostics: string[];
};

// fromEvaluation turns a dynamic evaluation into the form's parameters (what the import knew beyond
// it, such as icons and ephemeral, kept) and the values of those the user has not touched.
export function fromEvaluation(imported: Parameter[], evaluated: EvalParameter[], values: Record<string, string>, touched: Set<string>):
  { parameters: Parameter[]; values: Record<string, string>; errors: Record<string, string> } {
  const out: Parameter[] = [];
  const next: Record<string, string> = {};
  const errors: Record<string, string> = {};
  for (const e of evaluated) {
    const base = imported.find((p) => p.name === e.name);
    if (!base) continue;
    out.push({
      ...base, display_name: e.display_name ?? base.display_name, description: e.description ?? base.description,
      form_type: (e.form_type as Parameter["form_type"]) ?? base.form_type, default: e.default, required: e.required,
      options: e.options.map((o) => ({ name: o.name, value: o.value })),
      validation: e.min != null || e.max != null || e.regex ? { ...base.validation, min: e.min, max: e.max, regex: e.regex || undefined, error: e.error || base.validation?.error } : base.validation,
    });
    next[e.name] = touched.has(e.name) ? (values[e.name] ?? "") : e.value;
    if (e.diagnostics.length > 0) errors[e.name] = e.diagnostics.join(" ");
  }
  return { parameters: out, values: next, errors };
}
