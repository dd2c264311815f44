import { describe, expect, it } from "vitest";
import { appGroups, type App } from "./apps";

const app = (slug: string, extra: Partial<App> = {}): App => ({ slug, subdomain: false, ...extra }) as App;

describe("appGroups", () => {
  it("orders apps by order, then name, ungrouped first, hidden ones left out", () => {
    const groups = appGroups([
      app("zeta"), app("alpha"), app("first", { order: -1 }), app("secret", { hidden: true }),
      app("logs", { group: "Tools", order: 2 }), app("db", { group: "Tools", order: 1 }), app("docs", { group: "Help" }),
    ]);
    expect(groups.map((g) => [g.group, g.apps.map((a) => a.slug)])).toEqual([
      ["", ["first", "alpha", "zeta"]],
      ["Help", ["docs"]],
      ["Tools", ["db", "logs"]],
    ]);
  });
});
