// Linking an external auth account in real Chromium: the signed-in user opens the dashboard's
// External auth page, chooses Link, approves on the provider's consent page (the test's OAuth
// server) and comes back to the page showing the link; the create form of template "git", which
// requires the provider, offers the link before and shows it after. Run by cmd/hearth's
// TestExternalAuthFromLinkToGitInAWorkspace, which checks for "e2e: done".
//
//   node e2e/externalauth.mjs SERVER_URL LOGIN PASSWORD PROVIDER_NAME
import { chromium } from "playwright-core";

const [server, login, password, providerName] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  page.on("pageerror", (e) => console.log(`e2e: page error: ${e.message}`));
  await page.goto(server + "/login");
  await page.getByLabel("Username or email").fill(login);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Workspaces" }).waitFor();
  // The create form of a template that needs the provider says so, with a way to link.
  await page.goto(server + "/workspaces/new?template=git");
  await page.getByRole("link", { name: `Link your ${providerName} account` }).waitFor();
  await page.getByRole("link", { name: "External auth" }).click();
  const row = page.getByRole("row", { name: providerName });
  await row.getByText("Not linked").waitFor();
  await row.getByRole("link", { name: `Link ${providerName}` }).click();
  // The provider's consent page, on its own origin.
  await page.getByRole("heading", { name: /^Authorize/ }).waitFor();
  console.log(`e2e: consent page at ${new URL(page.url()).origin}`);
  await page.getByRole("button", { name: "Authorize" }).click();
  await page.waitForURL((u) => u.pathname.startsWith("/external-auth/"));
  await page.getByRole("row", { name: providerName }).getByText(/^Linked/).waitFor();
  console.log(`e2e: back at ${new URL(page.url()).pathname}, linked`);
  await page.goto(server + "/workspaces/new?template=git");
  await page.getByText(`${providerName}: linked`).waitFor();
  console.log("e2e: done");
} finally {
  await browser.close();
}
