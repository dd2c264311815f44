// Workspace apps in real Chromium: alice opens bob's shared app, at its path on one server and on
// its own host on another, and the app's script (app.js, written by the test) tries to act as her.
// Then a ticket from alice's browser is tried in ada's. Run by cmd/hearth's
// TestAppsCannotActAsTheirVisitors, which asserts on the "e2e: RESULT JSON" lines printed here.
//
//   node e2e/apps.mjs PATH_SERVER_URL HOST_SERVER_URL PATH_APP_URL HOST_APP_URL
import { chromium } from "playwright-core";

const [pathServer, hostServer, pathApp, hostApp] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // hearth.test and its subdomains (the second server's dashboard and app hosts) reach this machine.
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--host-resolver-rules=MAP hearth.test 127.0.0.1, MAP *.hearth.test 127.0.0.1"],
});
const timeout = 60_000;
const report = (name, value) => console.log(`e2e: ${name} ${JSON.stringify(value)}`);

// signedIn is a browser context with a session on server, the cookie the dashboard's sign-in
// leaves (asked for at 127.0.0.1: only the browser knows where hearth.test is).
async function signedIn(server, login, password) {
  const context = await browser.newContext();
  const direct = new URL(server);
  const name = direct.hostname;
  direct.hostname = "127.0.0.1";
  const res = await context.request.post(direct.origin + "/api/v2/users/login", { data: { login, password } });
  if (!res.ok()) throw new Error(`signing ${login} in to ${server}: ${res.status()} ${await res.text()}`);
  const token = (await res.json()).session_token;
  await context.clearCookies();
  await context.addCookies([{ name: "hearth_session", value: token, domain: name, path: "/", httpOnly: true, sameSite: "Lax" }]);
  return context;
}

// visit opens an app and waits for its script to report what it could do; then follows the app's
// own link, to show the app still works as an app.
async function visit(context, url) {
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const tickets = [];
  const writes = []; // the statuses of the script's token requests that reached the server
  page.on("response", (r) => r.request().method() === "POST" && r.url().includes("/tokens") && writes.push(r.status()));
  page.on("request", (r) => r.url().includes("hearth_app_ticket=") && tickets.push(r.url()));
  page.on("pageerror", (e) => console.log(`e2e: page error: ${e.message}`));
  page.on("console", (m) => console.log(`e2e: console: ${m.text()}`));
  page.on("requestfailed", (r) => console.log(`e2e: failed ${r.url().slice(0, 120)} ${r.failure()?.errorText}`));
  const res = await page.goto(url);
  await page.waitForFunction(() => document.getElementById("out")?.dataset.done === "yes");
  const out = JSON.parse(await page.locator("#out").textContent());
  out.rendered = await page.locator("h1").textContent();
  out.headers = res.headers();
  out.writes = writes;
  await page.getByRole("link", { name: "Next page" }).click();
  out.next = await page.locator("h1").textContent();
  await page.close();
  return { out, tickets };
}

try {
  // The path app, on the server without a wildcard host (and with shared path apps allowed).
  const alice = await signedIn(pathServer, "alice", "alices-password");
  const path = await visit(alice, pathApp);
  report("path", path.out);

  // The same app on its own host, on the server with a wildcard host.
  const aliceOnHost = await signedIn(hostServer, "alice", "alices-password");
  const host = await visit(aliceOnHost, hostApp);
  report("host", host.out);

  // alice's path-app ticket copied into ada's browser.
  const [ticket] = (await alice.cookies(pathApp)).filter((c) => c.name === "hearth_app_ticket");
  if (!ticket) throw new Error("alice's browser holds no ticket for the path app");
  const ada = await signedIn(pathServer, "ada", "correct-horse");
  await ada.addCookies([{ ...ticket }]);
  const page = await ada.newPage();
  page.setDefaultTimeout(timeout);
  let res = await page.goto(pathApp);
  report("copied-cookie", { status: res.status(), text: await page.locator("body").textContent() });

  // The link that brought alice's ticket to the app's host, opened again in ada's browser.
  if (host.tickets.length === 0) throw new Error("no ticket link was seen on the way to the app's host");
  const adaOnHost = await signedIn(hostServer, "ada", "correct-horse");
  const again = await adaOnHost.newPage();
  res = await again.goto(host.tickets[0]);
  report("copied-link", { status: res.status(), text: await again.locator("body").textContent() });
  console.log("e2e: done");
} finally {
  await browser.close();
}
