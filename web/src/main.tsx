import { lazy, StrictMode, Suspense } from "react";
import { createRoot } from "react-dom/client";
import { createBrowserRouter, RouterProvider } from "react-router";
import "./style.css";
import { Layout } from "./Layout";
import { Audit, Provisioners, Tokens, Users } from "./pages/Admin";
import { Groups } from "./pages/Teams";
import { Prebuilds } from "./pages/Prebuilds";
import { ExternalAuth } from "./pages/ExternalAuth";
import { Login, Setup } from "./pages/Auth";
import { CreateWorkspace } from "./pages/CreateWorkspace";
import { TemplatePage } from "./pages/Template";
import { Templates } from "./pages/Templates";
// The terminal (xterm.js) loads only when opened, keeping it out of the first page's script.
const Terminal = lazy(() => import("./pages/Terminal").then((m) => ({ default: m.Terminal })));
import { WorkspacePage } from "./pages/Workspace";
import { Workspaces } from "./pages/Workspaces";

function NotFound() {
  return (
    <main>
      <h1>Not found</h1>
      <p>There is nothing at this address. <a href="/workspaces">Go to your workspaces</a>.</p>
    </main>
  );
}

const router = createBrowserRouter([
  { path: "/setup", element: <Setup /> },
  { path: "/login", element: <Login /> },
  // The terminal takes the whole window (also where command apps open): /@OWNER/WORKSPACE[.AGENT]/terminal.
  // Route segments cannot start with a literal @ and a parameter, so the pages strip it.
  { path: "/:owner/:target/terminal", element: <Suspense fallback={<p role="status">Loading the terminal…</p>}><Terminal /></Suspense>, errorElement: <NotFound /> },
  {
    element: <Layout />,
    errorElement: <NotFound />,
    children: [
      { path: "/", element: <Workspaces /> },
      { path: "/workspaces", element: <Workspaces /> },
      { path: "/workspaces/new", element: <CreateWorkspace /> },
      { path: "/templates", element: <Templates /> },
      { path: "/templates/:name", element: <TemplatePage /> },
      { path: "/users", element: <Users /> },
      { path: "/groups", element: <Groups /> },
      { path: "/prebuilds", element: <Prebuilds /> },
      { path: "/tokens", element: <Tokens /> },
      { path: "/external-auth", element: <ExternalAuth /> },
      { path: "/external-auth/:provider", element: <ExternalAuth /> },
      { path: "/provisioners", element: <Provisioners /> },
      { path: "/audit", element: <Audit /> },
      { path: "/:owner/:name", element: <WorkspacePage /> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <RouterProvider router={router} />
  </StrictMode>,
);
