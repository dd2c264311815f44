// The dashboard's end-to-end flow in real Chromium (Debian's, through playwright-core), against a
// real server: first-user set-up, sign out and in, a template pushed through the API, a workspace
// created through the form, watched until running, `echo` in its web terminal, stopped, deleted.
// Screenshots of each page go to the directory in argv[4]. Run by cmd/hearth's TestDashboard.
//
//   node e2e/flow.mjs URL TEMPLATE.tar WORKSPACES_DIR SCREENSHOT_DIR BROKEN_TEMPLATE.tar FORMS.tar DYNAMIC.tar PREBUILT.tar
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [url, tarPath, workspacesDir, shots, brokenTarPath, formsTarPath, dynamicTarPath, prebuiltTarPath] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const step = (name) => console.log(`e2e: ${name}`);
const timeout = 60_000;
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
try {
  page.setDefaultTimeout(timeout);
  page.on("pageerror", (e) => console.log(`e2e: page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && console.log(`e2e: console: ${m.text()}`));

  step("first-user set-up");
  await page.goto(url + "/");
  await page.waitForURL(/\/setup$/);
  await page.screenshot({ path: `${shots}/setup.png` });
  await page.getByLabel("Username").fill("ada");
  await page.getByLabel("Email").fill("ada@example.com");
  await page.getByLabel(/^Password/).fill("correct-horse");
  await page.getByRole("button", { name: "Create the owner" }).click();
  await page.getByText("Create your first workspace").waitFor();

  step("sign out and in");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login/);
  await page.getByLabel("Username or email").fill("ada");
  await page.getByLabel("Password").fill("wrong-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  await page.screenshot({ path: `${shots}/login-error.png` });
  await page.getByLabel("Password").fill("correct-horse");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Workspaces" }).waitFor();
  await page.screenshot({ path: `${shots}/workspaces-empty.png` });

  step("push the template through the API");
  const headers = { "Hearth-Csrf": "1" };
  // newTemplate uploads a template archive, imports it as a version named name, waits for the
  // import and makes a template of the same name from it.
  const newTemplate = async (name, tar, variables = []) => {
    const f = await (await page.request.post(`${url}/api/v2/files`, { headers: { ...headers, "Content-Type": "application/x-tar" }, data: readFileSync(tar) })).json();
    const ver = await (await page.request.post(`${url}/api/v2/template-versions`, { headers, data: { file_id: f.id, name, variables } })).json();
    for (let i = 0; ; i++) {
      const v = await (await page.request.get(`${url}/api/v2/template-versions/${ver.id}`)).json();
      if (v.status === "succeeded") break;
      if (v.status === "failed" || i > 600) throw new Error(`the ${name} import: ${v.status} ${v.error}`);
      await page.waitForTimeout(100);
    }
    const made = await page.request.post(`${url}/api/v2/templates`, { headers, data: { name, version_id: ver.id } });
    if (!made.ok()) throw new Error(`create the ${name} template: ${made.status()} ${await made.text()}`);
  };
  const file = await (await page.request.post(`${url}/api/v2/files`, { headers: { ...headers, "Content-Type": "application/x-tar" }, data: readFileSync(tarPath) })).json();
  const version = await (await page.request.post(`${url}/api/v2/template-versions`, {
    headers, data: { file_id: file.id, variables: [{ name: "workspaces_dir", value: workspacesDir }] },
  })).json();
  for (let i = 0; ; i++) {
    const v = await (await page.request.get(`${url}/api/v2/template-versions/${version.id}`)).json();
    if (v.status === "succeeded") break;
    if (v.status === "failed" || i > 600) throw new Error(`import ${v.status}: ${v.error}`);
    await page.waitForTimeout(100);
  }
  const made = await page.request.post(`${url}/api/v2/templates`, { headers, data: { name: "local", version_id: version.id } });
  if (!made.ok()) throw new Error(`create template: ${made.status()} ${await made.text()}`);
  await page.getByRole("link", { name: "Templates" }).click();
  await page.getByRole("cell", { name: "local" }).waitFor();
  await page.screenshot({ path: `${shots}/templates.png` });
  await page.getByRole("link", { name: "local", exact: true }).click();
  await page.getByRole("heading", { name: "Parameters of v1" }).waitFor();
  await page.getByRole("log").getByText("Plan:").waitFor();
  const policy = page.getByRole("form", { name: "Lifecycle policy" });
  await policy.getByLabel(/Dormant when unused for/).fill("30");
  await policy.getByRole("button", { name: "Save policy" }).click();
  await policy.getByText("Policy saved.").waitFor();
  const saved = await (await page.request.get(`${url}/api/v2/templates/local`)).json();
  if (saved.dormancy_threshold_seconds !== 30 * 86400) throw new Error(`policy not saved: ${JSON.stringify(saved)}`);
  await page.screenshot({ path: `${shots}/template.png`, fullPage: true });

  step("a version with a syntax error shows Terraform's diagnostic, field by field");
  const brokenFile = await (await page.request.post(`${url}/api/v2/files`, { headers: { ...headers, "Content-Type": "application/x-tar" }, data: readFileSync(brokenTarPath) })).json();
  const broken = await (await page.request.post(`${url}/api/v2/template-versions`, {
    headers, data: { file_id: brokenFile.id, template_id: "local", name: "broken" },
  })).json();
  for (let i = 0; ; i++) {
    const v = await (await page.request.get(`${url}/api/v2/template-versions/${broken.id}`)).json();
    if (v.status === "failed") break;
    if (v.status === "succeeded" || i > 600) throw new Error(`the broken version's import: ${v.status}`);
    await page.waitForTimeout(100);
  }
  await page.reload();
  await page.getByRole("button", { name: "broken" }).click();
  const diagnostic = page.getByRole("list", { name: "Terraform diagnostics" }).getByRole("listitem").first();
  await diagnostic.waitFor();
  const where = await diagnostic.locator(".where").textContent();
  const severity = await diagnostic.locator(".severity").textContent();
  const summary = await diagnostic.locator(".summary").textContent();
  if (!/^main\.tf:2:\d+$/.test(where) || severity !== "error" || !summary) {
    throw new Error(`the diagnostic's fields: ${JSON.stringify({ where, severity, summary })}`);
  }
  const unhonoured = page.getByRole("list", { name: "Not honoured by Hearth" }).getByRole("listitem").first();
  await unhonoured.waitFor();
  const warned = await unhonoured.textContent();
  if (!warned.startsWith("extra.tf:1") || !warned.includes('resource "coder_devcontainer"')) throw new Error(`the source warning: ${warned}`);
  await page.screenshot({ path: `${shots}/template-diagnostics.png`, fullPage: true });
  await page.getByRole("link", { name: "Templates" }).click();

  step("create a workspace through the form");
  await page.getByRole("link", { name: "Create workspace" }).click();
  await page.getByLabel("Name").fill("dev");
  await page.getByLabel("Preset").selectOption("Minimal"); // a preset fills and locks its parameters
  if (!(await page.getByLabel("POSIX sh").isChecked()) || !(await page.getByLabel("Shell history").isDisabled()) || (await page.getByLabel("Shell history").inputValue()) !== "100") {
    throw new Error("the Minimal preset did not fill its parameters");
  }
  await page.getByLabel("Preset").selectOption("");
  await page.getByLabel("Shell history").fill("-5");
  await page.getByText("At least 0.").waitFor(); // the template's rule, before submitting
  await page.getByLabel("Shell history").fill("500");
  await page.getByLabel("POSIX sh").check();
  await page.screenshot({ path: `${shots}/create.png` });
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.waitForURL(/\/@ada\/dev$/);
  await page.locator(".log .stage").first().waitFor(); // the build's log, live
  await page.locator("h1 + .badge", { hasText: "running" }).waitFor();
  await page.getByRole("link", { name: "Terminal" }).waitFor(); // shown once the agent is connected
  await page.getByText("hearth ssh ada/dev").waitFor(); // display_apps' ssh_helper, on by default
  await page.locator(".metadata dd", { hasText: /\d/ }).first().waitFor(); // a metadata script's value
  await page.locator(".metadata div", { hasText: /^Memory\d+% of [\d.]+ [KMGT]iB/ }).waitFor(); // resources_monitoring's memory
  await page.screenshot({ path: `${shots}/workspace.png`, fullPage: true });

  step("echo in the web terminal");
  const [term] = await Promise.all([context.waitForEvent("page"), page.getByRole("link", { name: "Terminal" }).click()]);
  term.setDefaultTimeout(timeout);
  term.on("pageerror", (e) => console.log(`e2e: terminal error: ${e.message}`));
  term.on("console", (m) => m.type() === "error" && console.log(`e2e: terminal console: ${m.text()}`));
  await term.locator(".xterm-rows").waitFor();
  await term.waitForFunction(() => !document.querySelector(".terminal-page .status"));
  await term.locator(".xterm-helper-textarea").focus();
  await term.keyboard.type("echo hi-$((40+2))\n");
  await term.locator(".xterm-rows", { hasText: "hi-42" }).waitFor();
  await term.screenshot({ path: `${shots}/terminal.png` });
  await term.close();

  step("schedule settings");
  await page.getByLabel(/^Autostart/).fill("CRON_TZ=Mars/Olympus 0 8 * * *");
  await page.getByRole("button", { name: "Save autostart" }).click();
  await page.getByRole("alert").filter({ hasText: "unknown time zone" }).waitFor();
  await page.getByLabel(/^Autostart/).fill("CRON_TZ=Europe/Berlin 30 8 * * 1-5");
  await page.getByRole("button", { name: "Save autostart" }).click();
  await page.getByText("Next start:").waitFor();
  await page.getByLabel(/^Autostop/).fill("8");
  await page.getByRole("button", { name: "Save autostop" }).click();
  await page.getByText("Autostop saved").waitFor();
  await page.screenshot({ path: `${shots}/workspace-schedule.png`, fullPage: true });

  step("share the workspace, then stop sharing it");
  const sharing = page.getByRole("region", { name: "Sharing" });
  await sharing.getByLabel("Share with").selectOption("group");
  await sharing.getByLabel("Name").fill("nobody-group");
  await sharing.getByRole("button", { name: "Grant" }).click();
  await sharing.getByRole("alert").filter({ hasText: "There is no group nobody-group" }).waitFor();
  await sharing.getByLabel("Share with").selectOption("group");
  await sharing.getByLabel("Name").fill("everyone");
  await sharing.getByRole("button", { name: "Grant" }).click();
  await sharing.getByRole("cell", { name: "everyone", exact: true }).waitFor();
  await page.screenshot({ path: `${shots}/workspace-sharing.png`, fullPage: true });
  await sharing.getByRole("button", { name: "Remove group everyone" }).click();
  await sharing.getByText("Nobody besides the owner and admins.").waitFor();

  // waitBuild waits until the workspace's latest build satisfies done and the workspace runs.
  const waitBuild = async (what, done) => {
    for (let i = 0; ; i++) {
      const ws = await (await page.request.get(`${url}/api/v2/users/ada/workspaces/dev`)).json();
      if (ws.status === "running" && done(ws.latest_build)) return ws.latest_build;
      if (ws.status === "failed" || i > 1200) throw new Error(`${what}: ${ws.status} ${JSON.stringify(ws.latest_build)}`);
      await page.waitForTimeout(100);
    }
  };

  step("change a mutable parameter");
  const params = page.getByRole("form", { name: "Parameters" });
  await params.getByLabel("Bash").check();
  await params.getByRole("button", { name: "Apply and rebuild" }).click();
  await waitBuild("the rebuild with shell=bash", (b) => b.number > 1 && b.parameters.some((p) => p.name === "shell" && p.value === "bash"));

  step("update to the template's active version");
  const v2 = await (await page.request.post(`${url}/api/v2/template-versions`, {
    headers, data: { file_id: file.id, template_id: "local", message: "Second version: the same files, promoted.", variables: [{ name: "workspaces_dir", value: workspacesDir }] },
  })).json();
  for (let i = 0; ; i++) {
    const v = await (await page.request.get(`${url}/api/v2/template-versions/${v2.id}`)).json();
    if (v.status === "succeeded") break;
    if (v.status === "failed" || i > 600) throw new Error(`import of v2 ${v.status}: ${v.error}`);
    await page.waitForTimeout(100);
  }
  const promoted = await page.request.put(`${url}/api/v2/templates/local/active-version`, { headers, data: { version_id: v2.id } });
  if (!promoted.ok()) throw new Error(`promote v2: ${promoted.status()} ${await promoted.text()}`);
  await page.reload();
  const update = page.getByRole("form", { name: "Update" });
  await update.getByText("Second version: the same files, promoted.").waitFor();
  await page.screenshot({ path: `${shots}/workspace-update.png`, fullPage: true });
  await update.getByRole("button", { name: "Update" }).click();
  await waitBuild("the update", (b) => b.template_version_id === v2.id);
  await update.waitFor({ state: "detached" }); // up to date: no more Update

  step("build history with stage timings");
  const history = page.getByRole("table").filter({ hasText: "Stages" });
  const last = history.locator("tbody tr").first();
  await last.locator("td.stages", { hasText: /queued \d+\.\d s/ }).waitFor();
  for (const stage of ["init", "plan", "apply"]) await last.locator("td.stages span", { hasText: new RegExp(`^${stage} \\d+\\.\\d s$`) }).waitFor();
  await page.screenshot({ path: `${shots}/workspace-history.png`, fullPage: true });

  step("stop");
  await page.getByRole("button", { name: "Stop", exact: true }).click();
  await page.locator("h1 + .badge", { hasText: "stopped" }).waitFor();

  step("delete");
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete workspace" }).click();
  await page.waitForURL(/\/workspaces$/);
  for (let i = 0; ; i++) {
    const list = await (await page.request.get(`${url}/api/v2/workspaces?q=owner:me`)).json();
    if (list.workspaces.length === 0) break;
    if (i > 600) throw new Error("the workspace was not deleted");
    await page.waitForTimeout(100);
  }
  await page.getByText("Create your first workspace").waitFor();
  await page.screenshot({ path: `${shots}/workspaces-after.png` });

  step("every form type");
  await newTemplate("forms", formsTarPath);
  await page.goto(`${url}/workspaces/new?template=forms`);
  await page.getByPlaceholder("Anything to remember").waitFor();
  if ((await page.getByLabel("notes").evaluate((e) => e.tagName)) !== "TEXTAREA") throw new Error("notes is not a text area");
  if ((await page.getByLabel("cpus").getAttribute("type")) !== "range") throw new Error("cpus is not a slider");
  await page.getByRole("switch").waitFor();
  await page.getByText("Attach a GPU").waitFor();
  const editors = page.getByRole("group", { name: "editors" });
  if (!(await editors.getByLabel("Vim").isChecked()) || (await editors.getByLabel("Emacs").getAttribute("type")) !== "checkbox") throw new Error("editors is not a multi-select");
  await page.getByLabel("labels").fill("team-a, gpu");
  if ((await page.getByLabel("region").evaluate((e) => e.tagName)) !== "SELECT") throw new Error("region is not a dropdown");
  if ((await page.getByLabel("secret").getAttribute("type")) !== "password") throw new Error("secret is not masked");
  await page.screenshot({ path: `${shots}/create-forms.png`, fullPage: true });

  step("dynamic parameters, evaluated as the user chooses");
  await newTemplate("dynamic", dynamicTarPath);
  await page.goto(`${url}/workspaces/new?template=dynamic`);
  const regions = page.getByRole("group", { name: "region" });
  await regions.getByLabel("Ireland").waitFor();
  await page.getByRole("group", { name: "cloud" }).getByLabel("Google Cloud").check();
  await regions.getByLabel("Netherlands").waitFor(); // the region's options follow the cloud
  if (!(await regions.getByLabel("Netherlands").isChecked())) throw new Error("the region did not follow its evaluated default");
  if ((await regions.getByLabel("Ireland").count()) !== 0) throw new Error("an AWS region is still offered on Google Cloud");
  await page.screenshot({ path: `${shots}/create-dynamic.png`, fullPage: true });

  step("admin pages");
  await page.getByRole("link", { name: "Users" }).click();
  await page.getByRole("heading", { name: "Users" }).waitFor();
  await page.getByLabel("Username").fill("Bob Smith");
  await page.getByLabel("Email").fill("bob@example.com");
  await page.getByRole("button", { name: "Add user" }).click();
  await page.getByText("lowercase letters, digits or dashes").first().waitFor(); // the field at fault, from the API
  await page.getByLabel("Username").fill("bob");
  await page.getByRole("button", { name: "Add user" }).click();
  await page.getByRole("cell", { name: "bob", exact: true }).waitFor();
  await page.screenshot({ path: `${shots}/users.png` });
  await page.getByRole("link", { name: "Groups" }).click();
  await page.getByRole("heading", { name: "Groups" }).waitFor();
  await page.getByLabel("Group name").fill("platform");
  await page.getByLabel("Members (usernames, comma-separated)").fill("bob");
  await page.getByRole("button", { name: "Add group" }).click();
  await page.getByRole("button", { name: "platform", exact: true }).click();
  await page.getByRole("region", { name: "Members of platform" }).getByText("bob").waitFor();
  await page.screenshot({ path: `${shots}/groups.png` });
  await page.getByRole("link", { name: "Tokens" }).click();
  await page.getByRole("heading", { name: "API tokens" }).waitFor();
  await page.getByLabel("Name", { exact: true }).fill("ci");
  await page.getByRole("button", { name: "Create token" }).click();
  await page.getByText("shown only now").waitFor();
  await page.getByRole("cell", { name: "ci", exact: true }).waitFor();
  await page.screenshot({ path: `${shots}/tokens.png` });
  await page.getByRole("link", { name: "Provisioners" }).click();
  await page.getByRole("heading", { name: "Provisioners" }).waitFor();
  await page.getByText("(built-in)").first().waitFor();
  await page.screenshot({ path: `${shots}/provisioners.png` });
  await page.getByRole("link", { name: "Prebuilds" }).click();
  await page.getByRole("heading", { name: "Prebuilt workspaces" }).waitFor();
  await page.getByText("No preset asks for prebuilt workspaces.").waitFor();

  step("a preset's prebuilt workspace, claimed through the create form");
  await newTemplate("prebuilt", prebuiltTarPath, [{ name: "workspaces_dir", value: workspacesDir }]);
  const pool = page.getByRole("row").filter({ hasText: "prebuilt" });
  await pool.getByRole("cell").nth(4).filter({ hasText: /^1$/ }).waitFor({ timeout: 120_000 }); // ready to claim
  await page.screenshot({ path: `${shots}/prebuilds.png` });
  const waiting = await (await page.request.get(`${url}/api/v2/workspaces?q=owner:prebuilds`)).json();
  if (waiting.count !== 1) throw new Error(`prebuilds: ${JSON.stringify(waiting)}`);
  await page.goto(`${url}/workspaces/new?template=prebuilt`);
  await page.getByLabel("Name").fill("claimed");
  await page.getByLabel("Preset").selectOption("team");
  await page.screenshot({ path: `${shots}/create-claimed.png` });
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.waitForURL(/\/@ada\/claimed$/);
  await page.locator("h1 + .badge", { hasText: "running" }).waitFor();
  const claimed = await (await page.request.get(`${url}/api/v2/users/ada/workspaces/claimed`)).json();
  if (claimed.id !== waiting.workspaces[0].id || claimed.latest_build.number !== 1) {
    throw new Error(`the form built a workspace instead of claiming the prebuild ${waiting.workspaces[0].id}: ${JSON.stringify(claimed)}`);
  }
  for (let i = 0; ; i++) { // the pool counts the claim
    const { pools } = await (await page.request.get(`${url}/api/v2/prebuilds`)).json();
    if (pools.some((p) => p.template_name === "prebuilt" && p.claimed === 1)) break;
    if (i > 600) throw new Error(`the claim is not counted: ${JSON.stringify(pools)}`);
    await page.waitForTimeout(100);
  }
  await page.getByRole("link", { name: "Audit" }).click();
  await page.getByRole("cell", { name: "create-workspace" }).first().waitFor();
  await page.screenshot({ path: `${shots}/audit.png` });
  step("done");
} catch (e) {
  // What the page showed when it went wrong.
  for (const [i, p] of context.pages().entries()) {
    await p.screenshot({ path: `${shots}/failure-${i}.png`, fullPage: true }).catch(() => {});
  }
  console.log(`e2e: failed at ${page.url()}: ${(await page.locator("main").innerText().catch(() => "")).slice(0, 2000)}`);
  throw e;
} finally {
  await browser.close();
}
