import { useEffect, useRef, useState } from "react";
import { useParams, useSearchParams } from "react-router";
import { Terminal as XTerm } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import { api, problemText } from "../api/client";

// Terminal is a web terminal on an agent (/@OWNER/WORKSPACE[.AGENT]/terminal[?command=...]). The
// session's ID stays in the address, so a reload reattaches to the same shell.
export function Terminal() {
  const params0 = useParams();
  const owner = (params0.owner ?? "").replace(/^@/, "");
  const target = params0.target ?? "";
  const [params, setParams] = useSearchParams();
  const [status, setStatus] = useState("Connecting…");
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let session = params.get("session");
    if (!session) {
      session = crypto.randomUUID();
      setParams((p) => { p.set("session", session!); return p; }, { replace: true });
      return;
    }
    const [name, agentName] = target.split(".");
    const term = new XTerm({ cursorBlink: true, fontSize: 14, convertEol: false });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current!);
    fit.fit();
    term.focus();
    let ws: WebSocket | undefined;
    let closed = false;
    (async () => {
      const w = await api.GET("/api/v2/users/{user}/workspaces/{name}", { params: { path: { user: owner, name } } });
      if (w.error) return setStatus(problemText(w.error));
      const agents = w.data.latest_build.resources.flatMap((r) => r.agents);
      const agent = agentName ? agents.find((a) => a.name === agentName) : agents[0];
      if (!agent) return setStatus(`Workspace ${name} has no agent ${agentName ?? ""}.`);
      const q = new URLSearchParams({ reconnect: session!, width: String(term.cols), height: String(term.rows) });
      if (params.get("command")) q.set("command", params.get("command")!);
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      ws = new WebSocket(`${proto}//${location.host}/api/v2/workspaceagents/${agent.id}/pty?${q}`);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => setStatus("");
      ws.onmessage = (e) => term.write(new Uint8Array(e.data as ArrayBuffer));
      ws.onclose = () => !closed && setStatus("Disconnected: reload to reattach to the same shell.");
    })();
    const input = term.onData((data) => ws?.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ data })));
    const resize = term.onResize(({ cols, rows }) => ws?.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ width: cols, height: rows })));
    const onWindow = () => fit.fit();
    window.addEventListener("resize", onWindow);
    return () => {
      closed = true;
      window.removeEventListener("resize", onWindow);
      input.dispose();
      resize.dispose();
      ws?.close();
      term.dispose();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [owner, target, params.get("session")]);
  return (
    <div className="terminal-page">
      <header className="top">
        <strong className="brand">Hearth</strong>
        <span>Terminal: {owner}/{target}</span>
        {status && <span className="status" role="status">{status}</span>}
      </header>
      <div ref={box} className="terminal" aria-label="Terminal" />
    </div>
  );
}
