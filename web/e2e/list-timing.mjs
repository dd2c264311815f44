// Times the workspaces page in Chromium: from navigation to the first page of rows shown with its
// actions usable, and a page turn. Against a deployment whose user has many workspaces:
//
//   node e2e/list-timing.mjs URL LOGIN PASSWORD [RUNS]
import { chromium } from "playwright-core";

const [url, login, password, runs = "5"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const page = await browser.newPage();
  await page.goto(`${url}/login`);
  await page.getByLabel("Username or email").fill(login);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Workspaces" }).waitFor();
  const loads = [];
  const turns = [];
  for (let i = 0; i < Number(runs); i++) {
    const start = Date.now();
    await page.goto(`${url}/workspaces`);
    await page.locator("tbody tr").nth(49).waitFor();
    await page.getByRole("button", { name: "Next" }).waitFor();
    loads.push(Date.now() - start);
    const first = await page.locator("tbody tr td a").first().innerText();
    const t = Date.now();
    await page.getByRole("button", { name: "Next" }).click();
    await page.waitForFunction((f) => document.querySelector("tbody tr td a")?.textContent !== f, first);
    turns.push(Date.now() - t);
  }
  const count = await page.locator(".pager span").innerText();
  console.log(JSON.stringify({ rows: count, load_ms: loads, load_median_ms: median(loads), page_turn_ms: turns, page_turn_median_ms: median(turns) }));
} finally {
  await browser.close();
}
