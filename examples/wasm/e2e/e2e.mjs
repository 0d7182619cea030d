// End-to-end check of examples/wasm in a real browser (Debian's Chromium, headless, driven by
// playwright-core): load the page, insert notes, search, reload, and check that the notes and
// the search result are still there; then run the benchmark workload. Writes a screenshot and the
// benchmark report under target/. Run examples/wasm/build.sh first.
import { chromium } from "playwright-core";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "../serve.mjs";

const target = fileURLToPath(new URL("../../../target/", import.meta.url));
const port = Number(process.env.PORT ?? 8391);

function check(condition, message) {
  if (!condition) throw new Error(`e2e check failed: ${message}`);
  console.log(`ok: ${message}`);
}

const server = await serve(port);
// A fresh profile (so OPFS starts empty) and no background network: the machine is offline.
const profile = await mkdtemp(join(tmpdir(), "quiver-e2e-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => console.log(`page: ${message.text()}`));
  page.on("pageerror", (error) => console.log(`page error: ${error.message}`));
  const url = `http://localhost:${port}/`;
  // The page disables its buttons while the worker is busy; once they are enabled again the
  // status shows the store's count (or an error).
  const settledCount = async () => {
    await page.waitForSelector("#insert:not([disabled])", { timeout: 60_000 });
    return Number(await page.getAttribute("#status", "data-count"));
  };

  await page.goto(url);
  check((await settledCount()) === 0, "the page opened an empty store");

  await page.click("#insert");
  check((await settledCount()) === 300, "300 notes inserted");

  await page.click("#search");
  await page.waitForSelector("#results li");
  let first = await page.locator("#results li").first();
  check((await first.getAttribute("data-id")) === "42", "note 42 is nearest to its own vector");

  // A reload kills the worker without closing the store: the next open replays the log.
  await page.reload();
  check((await settledCount()) === 300, "the 300 notes are still there after a reload");
  await page.click("#search");
  await page.waitForSelector("#results li");
  first = await page.locator("#results li").first();
  check((await first.getAttribute("data-id")) === "42", "the search gives the same answer after the reload");
  check((await first.textContent()).startsWith("note 42 (tag home)"), "with its record");
  check((await page.locator("#results li").count()) === 5, "5 results");

  // A second tab on the same store: the browser's exclusive file handles make its open fail, and
  // the page shows our AlreadyOpen error (after the worker's retries for a reload run out).
  const second = await context.newPage();
  await second.goto(url);
  await second.waitForFunction(
    () => document.getElementById("status").textContent.startsWith("error"), null,
    { timeout: 60_000 });
  const refused = await second.locator("#status").textContent();
  check(refused.includes("AlreadyOpen") && refused.includes("already open"),
    `a second tab is refused: "${refused}"`);
  await second.close();

  await mkdir(target, { recursive: true });
  await page.screenshot({ path: join(target, "wasm-e2e.png"), fullPage: true });
  console.log(`screenshot: ${join(target, "wasm-e2e.png")}`);

  if (process.env.SKIP_BENCH !== "1") {
    await page.click("#bench");
    await page.waitForFunction(() => document.getElementById("benchmark").dataset.done === "1",
      null, { timeout: 600_000 });
    const report = JSON.parse(await page.locator("#benchmark").textContent());
    check(report.items === 10000 && report.first_result.length === 10, "the benchmark workload ran");
    await writeFile(join(target, "wasm-bench.json"), JSON.stringify(report) + "\n");
    console.log(`browser workload: ${JSON.stringify(report)}`);
    // The native run of the same workload (cargo run -p quiver-wasm --example native_workload),
    // if it was written first: the comparison the README reports.
    try {
      const native = JSON.parse(await readFile(join(target, "native-workload.json"), "utf8"));
      check(native.first_result.join() === report.first_result.join(),
        "the browser and native runs found the same first result");
      const ratio = (key) => (report[key] / native[key]).toFixed(2);
      console.log(`browser/native: inserts/s ${report.inserts_per_second.toFixed(0)} / ` +
        `${native.inserts_per_second.toFixed(0)} = ${ratio("inserts_per_second")}, queries/s ` +
        `${report.queries_per_second.toFixed(0)} / ${native.queries_per_second.toFixed(0)} = ` +
        `${ratio("queries_per_second")}`);
    } catch (error) {
      if (error.code !== "ENOENT") throw error;
    }
  }
} finally {
  await context.close();
  server.close();
  await rm(profile, { recursive: true, force: true });
}
