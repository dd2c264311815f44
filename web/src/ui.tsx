import { useEffect, useRef, useState } from "react";
import type { Diagnostic, SourceWarning } from "./api/client";

// Badge shows a status with a colour that also reads without colour (the word itself).
// Diagnostics lists Terraform's diagnostics of a failed import or build: where (file:line:column),
// the severity, the summary and the detail, each in a field of its own.
export function Diagnostics({ items }: { items: Diagnostic[] }) {
  if (items.length === 0) return null;
  return (
    <ul className="diagnostics" aria-label="Terraform diagnostics">
      {items.map((d, i) => (
        <li key={i} className={d.severity}>
          {d.file && <code className="where">{d.file}{d.line ? `:${d.line}` : ""}{d.line && d.column ? `:${d.column}` : ""}</code>}{" "}
          <strong className="severity">{d.severity}</strong>{" "}
          <span className="summary">{d.summary}</span>
          {d.detail && <p className="detail">{d.detail}</p>}
        </li>
      ))}
    </ul>
  );
}

// SourceWarnings lists what a template's source uses of the coder provider that Hearth does not
// honour, each with its file and line.
export function SourceWarnings({ items }: { items: SourceWarning[] }) {
  if (items.length === 0) return null;
  return (
    <ul className="diagnostics" aria-label="Not honoured by Hearth">
      {items.map((w, i) => (
        <li key={i} className="warning">
          <code className="where">{w.file}:{w.line}</code>{" "}
          <strong className="severity">warning</strong>{" "}
          <span className="summary"><code>{w.construct}{w.attribute ? ` ${w.attribute}` : ""}</code>: {w.message}</span>
        </li>
      ))}
    </ul>
  );
}

export function Badge({ status }: { status: string }) {
  const tone =
    ["running", "succeeded", "connected", "ready", "active"].includes(status) ? "good"
    : ["failed", "canceled", "disconnected", "timeout", "start_error", "suspended"].includes(status) ? "bad"
    : ["pending", "starting", "stopping", "deleting", "canceling", "connecting"].includes(status) ? "busy"
    : "idle";
  return <span className={`badge ${tone}`}>{status.replace("_", " ")}</span>;
}

export function ago(iso?: string | null): string {
  if (!iso) return "never";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

// usePoll calls load now and every ms while the page is open; load's answer is kept.
export function usePoll<T>(load: () => Promise<T | undefined>, ms: number, deps: unknown[]): [T | undefined, () => void] {
  const [value, setValue] = useState<T>();
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let live = true;
    const run = () => loadRef.current().then((v) => live && v !== undefined && setValue(v));
    run();
    const t = setInterval(run, ms);
    return () => {
      live = false;
      clearInterval(t);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ms, tick, ...deps]);
  return [value, () => setTick((t) => t + 1)];
}

// Confirm is a dialog for destructive actions: it names what will happen and needs an explicit yes.
export function Confirm(props: { title: string; body: string; action: string; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} onCancel={props.onCancel} aria-labelledby="confirm-title">
      <h2 id="confirm-title">{props.title}</h2>
      <p>{props.body}</p>
      <div className="row end">
        <button className="secondary" onClick={props.onCancel} autoFocus>Cancel</button>
        <button className="danger" onClick={props.onConfirm}>{props.action}</button>
      </div>
    </dialog>
  );
}
