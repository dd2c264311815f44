import type { Parameter } from "./api/client";

// checkParameter applies a template parameter's type, options and validation rules to a value, the
// way the server does, so a form can say what is wrong before submitting. "" means valid.
export function checkParameter(p: Parameter, value: string): string {
  if (value === "") {
    return p.required ? "Required." : "";
  }
  if (p.options && p.options.length > 0 && !p.options.some((o) => o.value === value)) {
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
        return Array.isArray(list) && list.every((x) => typeof x === "string") ? "" : 'Enter a JSON list of strings, like ["a","b"].';
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
