import type { WorkspaceAgent } from "./api/client";

export type App = WorkspaceAgent["apps"][number];

// appGroups sorts an agent's visible apps by order, then name, into their groups: the ungrouped first,
// then each group in the order of its first app.
export function appGroups(apps: App[]): { group: string; apps: App[] }[] {
  const visible = apps.filter((a) => !a.hidden);
  visible.sort((a, b) => (a.order ?? 0) - (b.order ?? 0) || (a.display_name || a.slug).localeCompare(b.display_name || b.slug));
  const groups: { group: string; apps: App[] }[] = [];
  const ungrouped = visible.filter((a) => !a.group);
  if (ungrouped.length > 0) groups.push({ group: "", apps: ungrouped });
  for (const a of visible) {
    if (!a.group) continue;
    const g = groups.find((x) => x.group === a.group);
    if (g) g.apps.push(a);
    else groups.push({ group: a.group, apps: [a] });
  }
  return groups;
}
