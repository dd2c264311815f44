import { describe, expect, it } from "vitest";
import type { Parameter } from "./api/client";
import { formType } from "./ParameterField";

const base: Parameter = { name: "p", type: "string", mutable: true, ephemeral: false, required: false, order: 0, options: [] };
const opts = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `o${i}`, value: `v${i}` }));

describe("formType", () => {
  it("is the template's form_type, as the provider resolved it", () => {
    expect(formType({ ...base, form_type: "textarea" })).toBe("textarea");
    expect(formType({ ...base, type: "number", form_type: "slider" })).toBe("slider");
    expect(formType({ ...base, type: "bool", form_type: "switch" })).toBe("switch");
  });
  it("follows type and options for versions imported without one", () => {
    expect(formType({ ...base, options: opts(3) })).toBe("radio");
    expect(formType({ ...base, options: opts(5) })).toBe("dropdown");
    expect(formType({ ...base, type: "bool" })).toBe("checkbox");
    expect(formType({ ...base, type: "list(string)" })).toBe("tag-select");
    expect(formType(base)).toBe("input");
  });
});
