// Sign-in with a key pair; the session is an HttpOnly cookie scripts cannot read; sign-out.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launch, screenshot, signedIn, startServer } from "./harness.mjs";
import { seedProject } from "./fixtures.mjs";

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a wrong secret is refused with a readable message", async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}/projects`);
  await page.getByLabel("Access key").fill(server.accessKey);
  await page.getByLabel("Secret key").fill("wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  const alert = await page.getByRole("alert").textContent();
  assert.match(alert, /invalid access key or secret/);
  await screenshot(page, "sign-in");
  await page.context().close();
});

test("signed in: the user's name, a cookie scripts cannot read, sign-out", async () => {
  const page = await signedIn(browser, server, "/projects");
  assert.equal(await page.getByTestId("user-name").textContent(), "admin");
  assert.equal(await page.evaluate(() => document.cookie), "");
  assert.equal(await page.evaluate(() => JSON.stringify(localStorage).includes("eyJ")), false);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "runyard_session");
  assert.ok(session.httpOnly);
  assert.equal(session.sameSite, "Strict");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await page.goto(`${server.url}/queues`);
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await page.context().close();
});

test("dark theme", async () => {
  await seedProject(server);
  const page = await signedIn(browser, server, "/projects");
  await page.getByRole("button", { name: "Switch theme" }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await page.reload();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await page.getByRole("link", { name: "resnet" }).click();
  await page.locator(".grid-body .row").first().dblclick();
  await page.getByRole("complementary", { name: "Task details" }).getByRole("tab", { name: "Scalars" }).click();
  await page.locator('[data-chart="loss"] canvas').waitFor();
  await screenshot(page, "dark");
  await page.context().close();
});
