// The task table in a real browser: columns, sorting, every filter type, search, the URL round
// trip, CSV.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { columnTexts, eventually, launch, screenshot, signedIn, startServer } from "./harness.mjs";
import { seedProject } from "./fixtures.mjs";

let server, browser, tasks, page;
const countText = () => page.getByTestId("task-count").textContent();
async function expectCount(n) {
  const want = `${n} task${n === 1 ? "" : "s"}`;
  try {
    await eventually(async () => (await countText()) === want, 10000, want);
  } catch {
    throw new Error(`expected ${want}, the page shows ${await countText()} (${page.url()})`);
  }
}
const names = () => columnTexts(page, "name");

before(async () => {
  server = await startServer();
  tasks = await seedProject(server);
  // Two tasks pending in the default queue.
  for (const t of tasks.slice(0, 2)) await server.api("POST", `/api/v1/tasks/${t.id}/enqueue`, { queue: "default" });
  browser = await launch();
  page = await signedIn(browser, server, `/projects/${tasks[0].project}/tasks`);
  await expectCount(12);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens a column's filter. */
async function openFilter(column) {
  await page.locator(`.grid-head [data-column="${column}"] .filter-btn`).click();
  return page.locator(`.popup [data-filter="${column}"]`);
}

async function addColumn(tab, path, checkbox) {
  await page.getByRole("button", { name: "Columns" }).click();
  await page.getByRole("button", { name: tab }).click();
  for (const p of path) await page.getByRole("button", { name: p }).click();
  await page.locator(`.columns-menu label[data-column="${checkbox}"] input`).click();
  await page.keyboard.press("Escape");
  await page.locator(`.grid-head [data-column="${checkbox}"]`).waitFor();
}

test("default columns, newest first, hidden ones in the chooser", async () => {
  const headers = await page.$$eval(".grid-head [role=columnheader]", (hs) => hs.map((h) => h.dataset.column));
  assert.deepEqual(headers, ["type", "name", "tags", "status", "project", "started", "updated", "iteration"]);
  assert.deepEqual(await names(), tasks.map((t) => t.name).reverse());
  const statuses = await page.$$eval(".grid-body [data-column=status] .status", (s) => s.map((x) => x.textContent));
  assert.equal(statuses.filter((s) => s === "Pending").length, 2);
  await screenshot(page, "table");
});

test("custom metric and hyperparameter columns; sorting by a metric", async () => {
  await addColumn("+ Metrics", ["▸ loss › train"], "metric:loss/train.last");
  await addColumn("+ Hyperparameters", ["▸ Args"], "param:Args/lr");
  // The last loss grows with the task's number: ascending puts train-00 first.
  await page.locator('.grid-head [data-column="metric:loss/train.last"] .label').click();
  await eventually(async () => (await names())[0] === "train-00", 10000, "ascending sort");
  assert.deepEqual(await names(), tasks.map((t) => t.name));
  await page.locator('.grid-head [data-column="metric:loss/train.last"] .label').click();
  await eventually(async () => (await names())[0] === "train-11", 10000, "descending sort");
  const sorted = await page.getAttribute('.grid-head [data-column="metric:loss/train.last"]', "aria-sort");
  assert.equal(sorted, "descending");
  // Rounded values, precise in the tooltip.
  const cell = page.locator('.grid-body .row[data-id="' + tasks[11].id + '"] [data-column="metric:loss/train.last"] span').first();
  assert.equal(await cell.getAttribute("title"), String(1 / 20 + 11 * 0.01));
  await screenshot(page, "table-custom-columns");
  // Precise values: the column widens so they show whole.
  await cell.hover();
  await page.locator('.grid-body .row[data-id="' + tasks[11].id + '"] [data-column="metric:loss/train.last"] button.expand').click();
  await eventually(async () => (await cell.textContent()) === String(1 / 20 + 11 * 0.01), 5000, "precise");
  await eventually(
    async () => (await cell.evaluate((el) => el.scrollWidth <= el.clientWidth && el.closest("[data-column]").scrollWidth <= el.closest("[data-column]").clientWidth)),
    5000,
    "the precise value fits its column",
  );
});

test("value-set filter on status; clear all", async () => {
  const f = await openFilter("status");
  await f.getByText("Pending").click();
  await expectCount(2);
  await page.keyboard.press("Escape");
  assert.ok(await page.locator('.grid-head [data-column="status"] .filter-btn.on').count());
  await page.getByRole("button", { name: "Clear all filters" }).click();
  await expectCount(12);
});

test("numeric range on a metric; value set on a hyperparameter", async () => {
  let f = await openFilter("metric:loss/train.last");
  await f.locator('input[name="max"]').fill("0.105");
  await f.getByRole("button", { name: "Apply" }).click();
  await expectCount(6);
  await page.keyboard.press("Escape");
  f = await openFilter("param:Args/lr");
  await f.getByText("0.1", { exact: true }).click();
  await expectCount(2); // lr 0.1 is tasks 0, 3, 6, 9; of those 0 and 3 have loss <= 0.105
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "Clear all filters" }).click();
  await expectCount(12);
});

test("date range", async () => {
  const f = await openFilter("updated");
  const inAnHour = new Date(Date.now() + 3600e3);
  const pad = (n) => String(n).padStart(2, "0");
  const local = `${inAnHour.getFullYear()}-${pad(inAnHour.getMonth() + 1)}-${pad(inAnHour.getDate())}T${pad(inAnHour.getHours())}:${pad(inAnHour.getMinutes())}`;
  await f.locator('input[name="min"]').fill(local);
  await f.getByRole("button", { name: "Apply" }).click();
  await expectCount(0);
  await page.getByText("No tasks match.").waitFor();
  await f.getByRole("button", { name: "Clear" }).click();
  await expectCount(12);
  await page.keyboard.press("Escape");
});

test("tags: ANY, ALL, and NOT on a second click", async () => {
  const f = await openFilter("tags");
  const mark = (tag) => f.locator("label", { hasText: tag }).locator('[role="checkbox"]').click();
  await mark("best");
  await expectCount(4); // 0, 3, 6, 9
  await mark("odd");
  await expectCount(8); // best or odd: 0, 1, 3, 5, 6, 7, 9, 11
  await f.getByRole("button", { name: "ALL" }).click();
  await expectCount(2); // 3 and 9
  await mark("odd"); // odd: NOT
  await expectCount(2); // best and not odd: 0, 6
  assert.equal(await f.locator("label", { hasText: "odd" }).locator('[role="checkbox"]').getAttribute("aria-checked"), "mixed");
  await mark("odd"); // cleared
  await mark("best"); // best: NOT
  await expectCount(8);
  // The tag's name toggles as the box does.
  await f.locator("label", { hasText: "best" }).getByText("best", { exact: true }).click(); // best: cleared
  await expectCount(12);
  await f.locator("label", { hasText: "even" }).getByText("even", { exact: true }).click();
  await expectCount(6);
  assert.equal(await f.locator("label", { hasText: "even" }).locator('[role="checkbox"]').getAttribute("aria-checked"), "true");
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "Clear all filters" }).click();
  await expectCount(12);
});

test("search by name", async () => {
  await page.getByLabel("Search tasks").fill("train-0");
  await expectCount(10);
  await page.getByLabel("Search tasks").fill("");
  await expectCount(12);
});

test("the URL reproduces the table (leaderboard)", async () => {
  let f = await openFilter("tags");
  await f.locator("label", { hasText: "even" }).locator('[role="checkbox"]').click();
  await expectCount(6);
  // The count and the rows are separate requests: wait for the rows too.
  await eventually(async () => (await names()).length === 6, 10000, "six rows");
  await page.keyboard.press("Escape");
  const url = page.url();
  assert.match(url, /sort=-metric%3Aloss%2Ftrain\.last/);
  const headers = await page.$$eval(".grid-head [role=columnheader]", (hs) => hs.map((h) => h.dataset.column));
  const rows = await names();
  const other = await signedIn(browser, server, url.replace(server.url, ""));
  await eventually(async () => (await other.getByTestId("task-count").textContent()) === "6 tasks");
  await eventually(async () => (await columnTexts(other, "name")).length === 6, 10000, "six rows in the other page");
  assert.deepEqual(await other.$$eval(".grid-head [role=columnheader]", (hs) => hs.map((h) => h.dataset.column)), headers);
  assert.deepEqual(await columnTexts(other, "name"), rows);
  assert.ok(await other.locator('.grid-head [data-column="tags"] .filter-btn.on').count());
  await other.context().close();
  await page.getByRole("button", { name: "Clear all filters" }).click();
  await expectCount(12);
});

test("CSV: all items matching the filters, onscreen items; displayed columns only", async () => {
  const f = await openFilter("status");
  await f.getByText("Pending").click();
  await expectCount(2);
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "Download CSV" }).click();
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("menuitem", { name: "Download all items" }).click()]);
  const csv = readFileSync(await download.path(), "utf8").trim().split("\n");
  const headers = await page.$$eval(".grid-head [role=columnheader]", (hs) => hs.map((h) => h.dataset.column));
  assert.equal(csv[0], headers.join(","));
  assert.equal(csv.length, 3);
  assert.ok(csv.slice(1).every((line) => line.includes("queued")), csv.join("\n"));
  const day = /\d{4}-\d{2}-\d{2}\.csv$/;
  assert.ok(download.suggestedFilename().startsWith("vision-resnet-") && day.test(download.suggestedFilename()), download.suggestedFilename());
  await page.getByRole("button", { name: "Clear all filters" }).click();
  await expectCount(12);
  // Onscreen: the rows in view, not every loaded one.
  await page.setViewportSize({ width: 1440, height: 420 });
  const shown = await page.$$eval(".grid-body .row[data-id]", (rows) => {
    const grid = document.querySelector(".grid").getBoundingClientRect();
    const head = document.querySelector(".grid-head").getBoundingClientRect();
    return rows.filter((r) => r.getBoundingClientRect().bottom > head.bottom && r.getBoundingClientRect().top < grid.bottom).length;
  });
  assert.ok(shown > 0 && shown < 12, `${shown} rows on screen`);
  await page.getByRole("button", { name: "Download CSV" }).click();
  const [onscreen] = await Promise.all([page.waitForEvent("download"), page.getByRole("menuitem", { name: "Download onscreen items" }).click()]);
  assert.equal(readFileSync(await onscreen.path(), "utf8").trim().split("\n").length, shown + 1);
  assert.ok(onscreen.suggestedFilename().startsWith(`vision-resnet-${shown}-tasks-`), onscreen.suggestedFilename());
  await page.setViewportSize({ width: 1440, height: 900 });
});

test("keyboard: arrows move through the rows, Enter opens the details, Space selects", async () => {
  await page.locator(`.grid-body .row[data-id="${tasks[11].id}"] [data-column="name"]`).click();
  // The keys count from the clicked row: wait until it is the active one.
  await eventually(async () => (await page.locator(".grid-body .row.active").getAttribute("data-id")) === tasks[11].id, 5000, "the clicked row active");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await eventually(async () => (await page.locator(".grid-body .row.active").getAttribute("data-id")) === tasks[9].id, 5000, "two rows down");
  await page.keyboard.press("Space");
  const selected = () => page.locator(`.grid-body .row[data-id="${tasks[9].id}"]`).getAttribute("aria-selected");
  await eventually(async () => (await selected()) === "true", 5000, "selected by Space");
  await page.keyboard.press("Space");
  await eventually(async () => (await selected()) === "false", 5000, "unselected by Space");
  await page.keyboard.press("Enter");
  await page.getByRole("complementary", { name: "Task details" }).getByText(tasks[9].name).first().waitFor();
  await page.getByRole("tab", { name: "Table" }).click();
});

test("saved views: a table state saved on the server and applied by anyone", async () => {
  const f = await openFilter("status");
  await f.getByText("Pending").click();
  await expectCount(2);
  await page.keyboard.press("Escape");
  page.once("dialog", (d) => d.accept("pending only"));
  await page.getByRole("button", { name: "★ Views" }).click();
  await page.getByRole("menuitem", { name: "Save current view…" }).click();
  await page.getByRole("status").filter({ hasText: 'Saved view "pending only"' }).waitFor();
  const views = await server.api("GET", `/api/v1/table/views?project=${tasks[0].project}`);
  assert.equal(views.length, 1);
  assert.match(views[0].state, /filter=status/);
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "Clear all filters" }).click();
  await expectCount(12);
  await page.getByRole("button", { name: "★ Views" }).click();
  await page.getByRole("menuitem", { name: "pending only" }).click();
  await expectCount(2);
  await page.getByRole("button", { name: "Clear all filters" }).click();
  await expectCount(12);
});

test("columns: hide, reorder by drag, resize; kept per project in the browser", async () => {
  await page.getByRole("button", { name: "Columns" }).click();
  await page.locator('.columns-menu label[data-column="project"] input').click();
  await page.keyboard.press("Escape");
  await page.locator('.grid-head [data-column="project"]').waitFor({ state: "detached" });
  await page.locator('.grid-head [data-column="status"]').dragTo(page.locator('.grid-head [data-column="type"]'));
  await eventually(async () => (await page.$$eval(".grid-head [role=columnheader]", (hs) => hs.map((h) => h.dataset.column)))[0] === "status", 5000, "status first");
  const handle = page.locator('.grid-head [data-column="name"] .resizer');
  const box = await handle.boundingBox();
  await page.mouse.move(box.x + 3, box.y + 10);
  await page.mouse.down();
  await page.mouse.move(box.x + 103, box.y + 10, { steps: 5 });
  await page.mouse.up();
  await eventually(async () => /name~360/.test(decodeURIComponent(page.url())), 5000, "width in the URL");
  // A double-click on the edge fits the column to its content.
  await handle.dblclick();
  await eventually(async () => {
    const width = Number(/name~(\d+)/.exec(decodeURIComponent(page.url()))?.[1]);
    return width > 60 && width < 200;
  }, 5000, "fitted width");
  // Back to the project without parameters: the saved layout returns.
  await page.goto(`${server.url}/projects/${tasks[0].project}/tasks`);
  await eventually(async () => (await page.$$eval(".grid-head [role=columnheader]", (hs) => hs.map((h) => h.dataset.column)))[0] === "status", 10000, "saved layout");
  assert.equal(await page.locator('.grid-head [data-column="project"]').count(), 0);
});

test("a Filtered selection is what the filters matched; changing them clears it", async () => {
  const f = await openFilter("status");
  await f.getByText("Pending").click();
  await expectCount(2);
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "Selection options" }).click();
  await page.getByRole("menuitem", { name: "Filtered" }).click();
  const bar = page.getByRole("toolbar", { name: "Batch actions" });
  await bar.getByText("All filtered tasks selected").waitFor();
  await eventually(async () => (await bar.locator('[data-action="archive"]').getAttribute("data-count")) === "2", 10000, "2 of 2");
  await page.getByRole("button", { name: "Clear all filters" }).click();
  await expectCount(12);
  assert.equal(await bar.count(), 0, "the selection went with the filter");
  assert.equal(await page.locator('.grid-body .row[aria-selected="true"]').count(), 0);
});
