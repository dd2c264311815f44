import { useEffect, useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { api, fieldErrors, problemText } from "../api/client";

function Field(props: { label: string; name: string; type?: string; error?: string; autoComplete?: string }) {
  return (
    <label className="field">
      <span>{props.label}</span>
      <input name={props.name} type={props.type ?? "text"} required autoComplete={props.autoComplete} aria-invalid={!!props.error} />
      {props.error && <small className="error">{props.error}</small>}
    </label>
  );
}

// Setup creates the deployment's first user, the owner, and signs them in.
export function Setup() {
  const navigate = useNavigate();
  const [error, setError] = useState("");
  const [fields, setFields] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const body = { username: String(f.get("username")), email: String(f.get("email")), password: String(f.get("password")) };
    setBusy(true);
    const made = await api.POST("/api/v2/users/first", { body });
    if (made.error) {
      setBusy(false);
      setFields(fieldErrors(made.error));
      return setError(problemText(made.error));
    }
    await api.POST("/api/v2/users/login", { body: { login: body.username, password: body.password } });
    navigate("/workspaces");
  };
  return (
    <div className="card narrow">
      <h1>Set up Hearth</h1>
      <p>Create the first user: the deployment's owner.</p>
      <form onSubmit={submit}>
        <Field label="Username" name="username" error={fields.username} autoComplete="username" />
        <Field label="Email" name="email" type="email" error={fields.email} autoComplete="email" />
        <Field label="Password (at least 8 characters)" name="password" type="password" error={fields.password} autoComplete="new-password" />
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? "Creating…" : "Create the owner"}</button>
      </form>
    </div>
  );
}

// Login signs in with a password, or with OIDC when it is on.
export function Login() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [error, setError] = useState("");
  const [oidc, setOidc] = useState(false);
  const [busy, setBusy] = useState(false);
  const redirect = params.get("redirect") || "/workspaces";
  useEffect(() => {
    api.GET("/api/v2/users/auth-methods").then(({ data }) => {
      if (data?.setup_needed) navigate("/setup", { replace: true });
      setOidc(!!data?.oidc);
    });
  }, [navigate]);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setBusy(true);
    const res = await api.POST("/api/v2/users/login", { body: { login: String(f.get("login")), password: String(f.get("password")) } });
    setBusy(false);
    if (res.error) return setError(problemText(res.error));
    // Only paths on this deployment; app hand-offs (/api/v2/applications/authorize) are paths too.
    window.location.assign(redirect.startsWith("/") && !redirect.startsWith("//") ? redirect : "/workspaces");
  };
  return (
    <div className="card narrow">
      <h1>Sign in to Hearth</h1>
      <form onSubmit={submit}>
        <Field label="Username or email" name="login" autoComplete="username" />
        <Field label="Password" name="password" type="password" autoComplete="current-password" />
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
      {oidc && (
        <a className="button secondary" href={`/api/v2/users/oidc/login?redirect=${encodeURIComponent(redirect)}`}>
          Sign in with OpenID Connect
        </a>
      )}
    </div>
  );
}
