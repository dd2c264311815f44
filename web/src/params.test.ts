import { describe, expect, it } from "vitest";
import type { Parameter } from "./api/client";
import { checkParameter, fromEvaluation, toggleItem } from "./params";

const base: Parameter = { name: "p", type: "string", mutable: true, ephemeral: false, required: false, order: 0, options: [] };

describe("checkParameter", () => {
  it("requires a value only for required parameters", () => {
    expect(checkParameter({ ...base, required: true }, "")).toBe("Required.");
    expect(checkParameter(base, "")).toBe("");
  });
  it("checks numbers and their bounds, with the template's own message", () => {
    const n: Parameter = { ...base, type: "number", validation: { min: 0, max: 10 } };
    expect(checkParameter(n, "abc")).toBe("Enter a number.");
    expect(checkParameter(n, "11")).toBe("At most 10.");
    expect(checkParameter(n, "-1")).toBe("At least 0.");
    expect(checkParameter(n, "5")).toBe("");
    expect(checkParameter({ ...n, validation: { max: 10, error: "Too many." } }, "11")).toBe("Too many.");
  });
  it("checks options, booleans, lists and patterns", () => {
    expect(checkParameter({ ...base, options: [{ name: "A", value: "a" }] }, "b")).toBe("Choose one of a.");
    expect(checkParameter({ ...base, type: "bool" }, "yes")).toBe("Choose true or false.");
    expect(checkParameter({ ...base, type: "list(string)" }, '["a"]')).toBe("");
    expect(checkParameter({ ...base, type: "list(string)" }, "[1]")).not.toBe("");
    expect(checkParameter({ ...base, validation: { regex: "^[a-z]+$" } }, "A1")).toBe("Must match ^[a-z]+$.");
  });
});

describe("list(string) with options", () => {
  const tools: Parameter = { ...base, type: "list(string)", form_type: "multi-select", options: [{ name: "Git", value: "git" }, { name: "Vim", value: "vim" }] };
  it("takes any of the options, and nothing else", () => {
    expect(checkParameter(tools, '["git","vim"]')).toBe("");
    expect(checkParameter(tools, "[]")).toBe("");
    expect(checkParameter(tools, '["git","nano"]')).toBe('"nano" is not one of git, vim.');
  });
  it("without multi-select, takes one option, a whole list", () => {
    const stacks: Parameter = { ...tools, form_type: "radio", options: [{ name: "Go", value: '["go","git"]' }] };
    expect(checkParameter(stacks, '["go","git"]')).toBe("");
    expect(checkParameter(stacks, '["go"]')).toBe('Choose one of ["go","git"].');
  });
  it("toggles one item at a time", () => {
    expect(toggleItem("", "git")).toBe('["git"]');
    expect(toggleItem('["git"]', "vim")).toBe('["git","vim"]');
    expect(toggleItem('["git","vim"]', "git")).toBe('["vim"]');
  });
});

describe("fromEvaluation", () => {
  const imported: Parameter[] = [
    { ...base, name: "cloud", options: [{ name: "AWS", value: "aws" }] },
    { ...base, name: "region", options: [{ name: "Ireland", value: "eu-west-1" }], icon: "/globe.svg" },
    { ...base, name: "gpu_kind" },
  ];
  const ev = (name: string, value: string, extra = {}) => ({ name, type: "string", value, required: false, mutable: true, order: 0, options: [], diagnostics: [], ...extra });
  it("takes the evaluation's options and values, keeps the import's icons, drops what is gone", () => {
    const got = fromEvaluation(imported, [
      ev("cloud", "gcp", { options: [{ name: "AWS", value: "aws" }, { name: "GCP", value: "gcp" }] }),
      ev("region", "europe-west4", { options: [{ name: "Netherlands", value: "europe-west4" }], diagnostics: [] }),
    ], { cloud: "gcp", region: "eu-west-1", gpu_kind: "a100" }, new Set(["cloud"]));
    expect(got.parameters.map((p) => p.name)).toEqual(["cloud", "region"]);
    expect(got.parameters[1].options).toEqual([{ name: "Netherlands", value: "europe-west4" }]);
    expect(got.parameters[1].icon).toBe("/globe.svg");
    expect(got.values).toEqual({ cloud: "gcp", region: "europe-west4" }); // an untouched parameter follows its evaluated default
  });
  it("says what the evaluation found wrong", () => {
    const got = fromEvaluation(imported, [ev("region", "us-east-1", { diagnostics: ["not one of the options"] })], { region: "us-east-1" }, new Set(["region"]));
    expect(got.values.region).toBe("us-east-1");
    expect(got.errors.region).toBe("not one of the options");
  });
});
