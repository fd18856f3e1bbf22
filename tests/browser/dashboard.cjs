// Drives the dashboard as its users would (see dashboard.sh): the admin logs in, sees the set,
// runs a backup and sees its snapshot appear, verifies the audit log, then (the live data
// changed meanwhile) restores it in place through the restore dialog, which stays shut until the
// set's name is typed out; a viewer logs in and sees no buttons, no snapshots and no audit log,
// and the API refuses the viewer's backup and restore requests.
// The server's certificate is checked against the fingerprint coffer serve logged.
"use strict";
const { chromium } = require("playwright-core");
const tls = require("tls");
const path = require("path");
const fs = require("fs");

const url = new URL(process.env.COFFER_URL);
const shots = process.env.ARTIFACTS;

function fail(message) {
  console.error("dashboard test: " + message);
  process.exit(1);
}

// Chromium is told to accept the self-signed certificate; this checks it is coffer's.
function peerFingerprint() {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false,
                            minVersion: "TLSv1.2" }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on("error", reject);
  });
}

async function login(browser, user, password) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport:
                                             { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => fail("page error: " + e.message));
  await page.goto(url.href);
  await page.waitForSelector("#login-form", { state: "visible" });
  await page.fill("#login-user", user);
  await page.fill("#login-password", password);
  await page.click("#login-submit");
  await page.waitForSelector("#sets tbody tr[data-set=app]", { timeout: 20000 });
  return { context, page };
}

(async () => {
  const fp = await peerFingerprint();
  if (fp !== process.env.COFFER_FINGERPRINT)
    fail("the server's certificate " + fp + " is not the one coffer serve logged (" +
         process.env.COFFER_FINGERPRINT + ")");
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    // The admin: a backup from the dashboard, and its snapshot in the list.
    const admin = await login(browser, "admin", process.env.ADMIN_PASSWORD);
    const p = admin.page;
    await p.screenshot({ path: path.join(shots, "admin-before-backup.png"), fullPage: true });
    if ((await p.locator("#snapshots tbody tr").count()) !== 0) fail("snapshots before any backup");
    await p.click("#sets tbody tr[data-set=app] button.run-backup");
    await p.waitForFunction(() => /: ok, snapshot [0-9a-f]{8}/.test(
        document.getElementById("action-result").textContent), null, { timeout: 120000 });
    await p.waitForFunction(() =>
        document.querySelectorAll("#snapshots tbody tr").length === 1, null, { timeout: 20000 });
    await p.waitForFunction(() =>
        document.querySelectorAll("#added-chart rect").length === 1, null, { timeout: 20000 });
    const verdict = await p.textContent("#verdict");
    if (verdict !== "Protected") fail("after a backup within the RPO the verdict is " + verdict);
    if (!(await p.isVisible("#audit"))) fail("the admin sees no audit log");
    await p.click("#audit-verify");
    await p.waitForFunction(() => document.getElementById("audit-status").textContent ===
                            "verified", null, { timeout: 60000 });
    const actions = await p.locator("#audit-entries tbody td:nth-child(4)").allTextContents();
    if (!actions.includes("api.login")) fail("the audit view does not show the login");
    await p.screenshot({ path: path.join(shots, "admin-after-backup.png"), fullPage: true });

    // The live data changes; the admin restores the backup in place from the dialog.
    const live = path.join(process.env.DATA_DIR, "app.conf");
    const original = fs.readFileSync(live, "utf8");
    fs.writeFileSync(live, "changed after the backup\n");
    await p.click("#sets tbody tr[data-set=app] button.restore");
    await p.waitForSelector("#restore-dialog[open]");
    await p.waitForFunction(() => document.getElementById("restore-snapshot").options.length === 2);
    const submit = p.locator("#restore-submit");
    if (await p.isVisible("#restore-target")) fail("the directory field shows for in place");
    await p.fill("#restore-key", process.env.RECOVERY_KEY);
    if (!(await submit.isDisabled())) fail("restore is possible without the typed confirmation");
    await p.fill("#restore-confirm", "ap");
    if (!(await submit.isDisabled())) fail("restore is possible with the wrong name typed");
    await p.fill("#restore-confirm", "app");
    if (await submit.isDisabled()) fail("the set's name typed out does not enable Restore");
    await p.screenshot({ path: path.join(shots, "admin-restore-dialog.png"), fullPage: true });
    await submit.click();
    await p.waitForFunction(() => /\(job \d+\): (ok|failed)/.test(
        document.getElementById("restore-result").textContent), null, { timeout: 120000 });
    const result = await p.textContent("#restore-result");
    if (!/: ok$/.test(result)) fail("the restore ended: " + result);
    const checks = await p.locator("#restore-checks li").allTextContents();
    if (!checks.length || !checks.every((c) => c.startsWith("ok: ")))
      fail("the restore's checks: " + JSON.stringify(checks));
    if (fs.readFileSync(live, "utf8") !== original)
      fail("the restore did not put back the backed-up file");
    if ((await p.inputValue("#restore-key")) !== "") fail("the key stayed in the form");
    await p.screenshot({ path: path.join(shots, "admin-after-restore.png"), fullPage: true });
    await p.click("#restore-cancel");

    // Pausing the schedule shows on the set's row, and resuming clears it.
    await p.click("#sets tbody tr[data-set=app] button.pause");
    await p.waitForSelector("#sets tbody tr[data-set=app] button.resume");
    const due = await p.textContent("#sets tbody tr[data-set=app] td:nth-child(7)");
    if (due !== "paused") fail("a paused set's next due time shows " + due);
    await p.click("#sets tbody tr[data-set=app] button.resume");
    await p.waitForSelector("#sets tbody tr[data-set=app] button.pause");
    const where = await p.textContent("#locations tbody");
    if (!/no mirror configured/.test(where)) fail("the locations table shows: " + where);
    await admin.context.close();

    // The viewer: status only, no buttons, and the API says no when asked directly.
    const viewer = await login(browser, "tv", process.env.VIEWER_PASSWORD);
    const v = viewer.page;
    if ((await v.locator("#sets button").count()) !== 0)
      fail("the viewer sees buttons on the sets (backup, drill, restore, pause)");
    if (await v.isVisible("#audit")) fail("the viewer sees the audit log");
    if (await v.isVisible("#snapshots")) fail("the viewer sees the snapshot list");
    for (const job of ["backup", "restore"]) {
      const refused = await v.evaluate(async (job) => {
        const me = await (await fetch("/api/v1/session")).json();
        const r = await fetch("/api/v1/sets/app/" + job, {
          method: "POST", headers: { "Content-Type": "application/json",
                                     "X-CSRF-Token": me.csrf_token },
          body: JSON.stringify({ confirm: "app" }) });
        return r.status;
      }, job);
      if (refused !== 403) fail("the API answered the viewer's " + job + " request with " + refused);
    }
    await v.screenshot({ path: path.join(shots, "viewer.png"), fullPage: true });
    await viewer.context.close();
    console.log("dashboard test: passed; screenshots in " + shots);
  } finally {
    await browser.close();
  }
})().catch((e) => fail(e.stack || String(e)));
