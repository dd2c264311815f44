import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, problemText, type Workspace, type WorkspaceAgent, type WorkspaceBuild } from "../api/client";
import { appGroups } from "../apps";
import { seconds, stageTimes, took } from "../timings";
import { ago, Badge, Confirm, Diagnostics, usePoll } from "../ui";
import { WorkspaceParameters } from "./WorkspaceParameters";
import { useUser } from "../Layout";
import { AccessEditor } from "./Teams";

type Line = { id: number; stage: string; output: string; time: string };

// BuildLog follows a build's log over Server-Sent Events while it runs: a header per stage with the
// time since the build started.
function BuildLog({ build }: { build: WorkspaceBuild }) {
  const [lines, setLines] = useState<Line[]>([]);
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    setLines([]);
    const es = new EventSource(`/api/v2/workspacebuilds/${build.id}/logs?follow=true`);
    es.addEventListener("log", (e) => setLines((l) => [...l, JSON.parse((e as MessageEvent).data)]));
    es.addEventListener("end", () => es.close());
    es.onerror = () => es.close();
    return () => es.close();
  }, [build.id]);
  useEffect(() => {
    end.current?.scrollIntoView({ block: "nearest" });
  }, [lines.length]);
  const start = new Date(build.started_at ?? build.created_at).getTime();
  let stage = "";
  return (
    <div className="log" role="log" aria-label={`Build ${build.number} log`}>
      {lines.map((l) => {
        const header = l.stage !== stage ? <div className="stage">{(stage = l.stage)}</div> : null;
        return (
          <div key={l.id}>
            {header}
            <span className="t">{((new Date(l.time).getTime() - start) / 1000).toFixed(1)}s</span> {l.output}
          </div>
        );
      })}
      <div ref={end} />
    </div>
  );
}

// useAppsHost is the deployment's wildcard apps host ("*.apps.example.com"), or "" when apps are
// served at paths only.
function useAppsHost(): string {
  const [host, setHost] = useState("");
  useEffect(() => {
    api.GET("/api/v2/applications/host").then(({ data }) => setHost(data?.host ?? ""), () => setHost(""));
  }, []);
  return host;
}

// appHref is where an app opens: on its own host when the deployment has a wildcard host (where its
// code cannot reach the dashboard), else at its path; a command app in the terminal.
function appHref(wildcard: string, ws: Workspace, agent: WorkspaceAgent, app: WorkspaceAgent["apps"][number]): string {
  const base = `/@${ws.owner_name}/${ws.name}.${agent.name}`;
  if (!app.url) return `${base}/terminal?command=${encodeURIComponent(app.command ?? "")}`;
  if (app.external) return app.url; // a link out, never through the app proxy
  if (!wildcard) return `${base}/apps/${app.slug}/`;
  const host = `${app.slug}--${agent.name}--${ws.name}--${ws.owner_name}`.toLowerCase() + wildcard.replace(/^\*/, "");
  return `${window.location.protocol}//${host}${window.location.port ? ":" + window.location.port : ""}/`;
}

// bytes says a size in binary units.
function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

// AgentMetadata shows an agent's metadata values as its scripts report them, and the memory and
// volumes its template monitors (an alert at their thresholds), refreshed every 5 s.
function AgentMetadata({ agent }: { agent: WorkspaceAgent }) {
  const [detail] = usePoll(async () => (await api.GET("/api/v2/workspaceagents/{agent}", { params: { path: { agent: agent.id } } })).data, 5000, [agent.id]);
  const values = new Map((detail?.metadata_values ?? []).map((v) => [v.key, v]));
  const r = detail?.resources;
  const watched = [...(r?.memory ? [{ label: "Memory", ...r.memory }] : []), ...(r?.volumes ?? []).map((v) => ({ label: `Disk ${v.path}`, ...v }))];
  const peers = detail?.stats?.peers ?? [];
  if (!agent.metadata?.length && watched.length === 0 && peers.length === 0) return null;
  return (
    <dl className="metadata" aria-label="Metadata">
      {peers.length > 0 && (
        <div>
          <dt>Connections</dt>
          <dd title="Clients connected over WireGuard and the path their packets take (a server replica's node carries the web terminal and apps; connections through the relay are not listed)">
            {peers
              .map((p) => (p.kind === "replica" ? "server " : "") + (p.path === "direct" ? `direct ${p.endpoint}` : p.path === "DERP" ? `DERP (${p.derp_region})` : "connecting…"))
              .join(", ")}
          </dd>
        </div>
      )}
      {watched.map((w) => (
        <div key={w.label} className={w.alert ? "alert" : undefined} role={w.alert ? "alert" : undefined}>
          <dt>{w.label}</dt>
          <dd title={`alert at ${w.threshold}%`}>{w.error ? <span className="error">{w.error}</span> : `${w.percent.toFixed(0)}% of ${bytes(w.total_bytes)}`}{w.alert && ` — over ${w.threshold}%`}</dd>
        </div>
      ))}
      {(agent.metadata ?? []).map((m) => {
        const v = values.get(m.key);
        return (
          <div key={m.key}>
            <dt>{m.display_name || m.key}</dt>
            <dd title={v ? `collected ${ago(v.collected_at)}` : undefined}>{v ? (v.error ? <span className="error">{v.error}</span> : v.value) : "…"}</dd>
          </div>
        );
      })}
    </dl>
  );
}

// Schedule shows and changes when the workspace starts and stops by itself.
function Schedule({ ws, onChange }: { ws: Workspace; onChange: () => void }) {
  const [error, setError] = useState("");
  const [saved, setSaved] = useState("");
  const ttl = ws.ttl_seconds ?? ws.template_default_ttl_seconds;
  const done = (res: { error?: unknown }, what: string) => {
    setError(res.error ? problemText(res.error) : "");
    setSaved(res.error ? "" : what);
    onChange();
  };
  const saveAutostart = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const schedule = String(new FormData(e.currentTarget).get("autostart") ?? "");
    done(await api.PUT("/api/v2/workspaces/{workspace}/autostart", { params: { path: { workspace: ws.id } }, body: { schedule } }), "Autostart saved.");
  };
  const saveTTL = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const hours = String(new FormData(e.currentTarget).get("ttl") ?? "");
    const ttl_seconds = hours === "" ? null : Math.round(Number(hours) * 3600);
    done(await api.PUT("/api/v2/workspaces/{workspace}/ttl", { params: { path: { workspace: ws.id } }, body: { ttl_seconds } }), "Autostop saved; it applies from the next start.");
  };
  const extend = async () =>
    done(await api.POST("/api/v2/workspaces/{workspace}/extend", { params: { path: { workspace: ws.id } }, body: { duration_seconds: 3600 } }), "Extended.");
  const wake = async () =>
    done(await api.PUT("/api/v2/workspaces/{workspace}/dormant", { params: { path: { workspace: ws.id } }, body: { dormant: false } }), "Active again: you can start it.");
  const minutes = ws.deadline ? Math.max(0, Math.round((new Date(ws.deadline).getTime() - Date.now()) / 60000)) : null;
  return (
    <div className="card">
      <h2>Schedule</h2>
      {ws.dormant_at && (
        <p className="row" role="status">
          <span>
            Dormant since {new Date(ws.dormant_at).toLocaleString()}: unused for longer than its template allows, it cannot start
            {ws.deleting_at ? ` and will be deleted ${new Date(ws.deleting_at).toLocaleString()}` : ""}.
          </span>
          <button className="small" onClick={wake}>Make it active</button>
        </p>
      )}
      {ws.status === "running" && (
        <p className="row">
          {minutes === null ? "Runs until stopped." : <span role="status">Stops in {minutes < 60 ? `${minutes} min` : `${(minutes / 60).toFixed(1)} h`}.</span>}
          {minutes !== null && <button className="small secondary" onClick={extend}>Keep it up 1 more hour</button>}
        </p>
      )}
      <form className="row" onSubmit={saveAutostart}>
        <label className="field grow">Autostart (cron, e.g. CRON_TZ=Europe/Berlin 30 8 * * 1-5; empty: off)
          <input name="autostart" defaultValue={ws.autostart_schedule} placeholder="off" />
          {ws.next_autostart_at && <small>Next start: {new Date(ws.next_autostart_at).toLocaleString()}</small>}
        </label>
        <button type="submit" className="secondary">Save autostart</button>
      </form>
      <form className="row" onSubmit={saveTTL}>
        <label className="field grow">Autostop: hours after each start (empty: the template's default{ws.template_default_ttl_seconds ? `, ${ws.template_default_ttl_seconds / 3600} h` : ", none"})
          <input name="ttl" type="number" min="0" step="0.25" defaultValue={ws.ttl_seconds == null ? "" : String(ws.ttl_seconds / 3600)} />
          <small>{ttl ? `Stops ${ttl / 3600} h after a start; activity keeps it up.` : "Does not stop by itself."}</small>
        </label>
        <button type="submit" className="secondary">Save autostop</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {saved && <p className="hint" role="status">{saved}</p>}
    </div>
  );
}

// WorkspacePage shows one workspace: status, actions, its latest build's log, agents, apps and the
// build history; it refreshes every two seconds.
export function WorkspacePage() {
  const { owner = "me", name = "" } = useParams();
  const navigate = useNavigate();
  const me = useUser();
  const [error, setError] = useState("");
  const [confirmDelete, setConfirmDelete] = useState(false);
  const appsHost = useAppsHost();
  const [ws, refresh] = usePoll(
    async () => {
      const { data, error } = await api.GET("/api/v2/users/{user}/workspaces/{name}", { params: { path: { user: owner.replace(/^@/, ""), name } } });
      if (error) setError(problemText(error));
      return data;
    },
    2000,
    [owner, name],
  );
  const [builds] = usePoll(
    async () => ws && (await api.GET("/api/v2/workspaces/{workspace}/builds", { params: { path: { workspace: ws.id }, query: { limit: 10 } } })).data,
    5000,
    [ws?.id, ws?.latest_build.id, ws?.latest_build.status],
  );
  if (!ws) return error ? <p className="error" role="alert">{error}</p> : <p role="status">Loading…</p>;
  const b = ws.latest_build;
  const act = async (transition: "start" | "stop") => {
    setError("");
    const res = await api.POST("/api/v2/workspaces/{workspace}/builds", { params: { path: { workspace: ws.id } }, body: { transition } });
    if (res.error) setError(problemText(res.error));
    refresh();
  };
  const remove = async () => {
    setConfirmDelete(false);
    const res = await api.DELETE("/api/v2/workspaces/{workspace}", { params: { path: { workspace: ws.id } } });
    if (res.error) return setError(problemText(res.error));
    navigate("/workspaces");
  };
  const busy = ["pending", "starting", "stopping", "deleting", "canceling"].includes(ws.status);
  const agents = b.resources.flatMap((r) => r.agents);
  return (
    <section>
      <div className="row">
        <h1>{ws.owner_name}/{ws.name}</h1>
        <Badge status={ws.status} />
        <span className="grow" />
        {(ws.status === "stopped" || ws.status === "failed" || ws.status === "canceled") && <button onClick={() => act("start")}>Start</button>}
        {ws.status === "running" && <button className="secondary" onClick={() => act("stop")}>Stop</button>}
        <button className="danger" disabled={busy} onClick={() => setConfirmDelete(true)}>Delete</button>
      </div>
      <p className="hint">Template {ws.template_display_name || ws.template_name}{ws.outdated && " (a newer version is active)"} · last used {ago(ws.last_used_at)}</p>
      {error && <p className="error" role="alert">{error}</p>}
      {b.error && <p className="error">Build #{b.number} failed: {b.error}</p>}
      <Diagnostics items={b.diagnostics ?? []} />
      {agents.map((a) => (
        <div key={a.id} className="card">
          <div className="row">
            <h2>Agent {a.name}</h2>
            <Badge status={a.status} />
            <Badge status={a.lifecycle_state} />
            <span className="grow" />
            {a.status === "connected" && a.display_apps.web_terminal && (
              <a className="button" href={`/@${ws.owner_name}/${ws.name}.${a.name}/terminal`} target="_blank" rel="noreferrer">Terminal</a>
            )}
          </div>
          {(a.status === "timeout" || a.status === "disconnected") && a.troubleshooting_url && (
            <p className="hint"><a href={a.troubleshooting_url} target="_blank" rel="noreferrer">Troubleshooting</a> for this agent</p>
          )}
          <AgentMetadata agent={a} />
          {appGroups(a.apps).map((g) => (
            <ul key={g.group} className="apps" aria-label={g.group ? `Apps: ${g.group}` : "Apps"}>
              {g.group && <li className="group">{g.group}</li>}
              {g.apps.map((app) => {
                const href = appHref(appsHost, ws, a, app);
                const slim = app.open_in === "slim-window";
                return (
                  <li key={app.slug}>
                    <a href={href} title={app.tooltip || undefined} target="_blank" rel="noreferrer"
                      onClick={slim ? (e) => { e.preventDefault(); window.open(href, "_blank", "width=1000,height=700,noopener"); } : undefined}>
                      {app.display_name || app.slug}
                    </a>
                  </li>
                );
              })}
            </ul>
          ))}
          {(a.display_apps.ssh_helper || a.display_apps.port_forwarding_helper) && (
            <p className="hint">
              {a.display_apps.ssh_helper && <>SSH: <code>hearth ssh {ws.owner_name}/{ws.name}</code> </>}
              {a.display_apps.port_forwarding_helper && <>Ports: <code>hearth port-forward {ws.owner_name}/{ws.name} --tcp 8080:8080</code></>}
            </p>
          )}
        </div>
      ))}
      <WorkspaceParameters ws={ws} onBuilt={refresh} />
      <Schedule ws={ws} onChange={refresh} />
      <AccessEditor title="Sharing" canChange={!!me && (me.id === ws.owner_id || me.roles.includes("owner"))}
        load={() => api.GET("/api/v2/workspaces/{workspace}/acl", { params: { path: { workspace: ws.id } } })}
        save={(body) => api.PATCH("/api/v2/workspaces/{workspace}/acl", { params: { path: { workspace: ws.id } }, body })} />
      {b.resources.filter((r) => !r.hide).length > 0 && (
        <>
          <h2>Resources</h2>
          <ul className="resources">
            {b.resources.filter((r) => !r.hide).map((r) => (
              <li key={r.id}><code>{r.type}.{r.name}</code>{r.metadata.filter((m) => !m.sensitive).map((m) => <span key={m.key} className="hint"> · {m.key}: {m.value}</span>)}</li>
            ))}
          </ul>
        </>
      )}
      <h2>Build #{b.number} ({b.transition}) <Badge status={b.status} /></h2>
      <BuildLog build={b} />
      <h2>History</h2>
      <table>
        <thead><tr><th>#</th><th>Transition</th><th>Status</th><th>Started</th><th>Took</th><th>Stages</th></tr></thead>
        <tbody>
          {(builds?.builds ?? []).map((x) => (
            <tr key={x.id}>
              <td>{x.number}</td><td>{x.transition}</td><td><Badge status={x.status} /></td><td>{ago(x.created_at)}</td>
              <td>{took(x.created_at, x.completed_at)}</td>
              <td className="stages">{stageTimes(x).map((st) => <span key={st.stage} title={`${st.stage}: ${st.seconds.toFixed(2)} s`}>{st.stage} {seconds(st.seconds)}</span>)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p><Link to="/workspaces">All workspaces</Link></p>
      {confirmDelete && <Confirm title={`Delete ${ws.name}?`} body="Its resources are destroyed and it cannot be brought back." action="Delete workspace"
        onCancel={() => setConfirmDelete(false)} onConfirm={remove} />}
    </section>
  );
}

export type { Workspace };
