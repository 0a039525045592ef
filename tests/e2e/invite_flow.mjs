// The invitation flow in a real browser: a nurse admits a baby and prints a parent's slip; the parent joins with the
// code in a separate browser, sets up an authenticator app and sees the baby's page. Any console error, uncaught page
// error or Content Security Policy violation fails the run.
//
// Settings come from the environment or from --name=value arguments (--base-url=... sets BASE_URL):
//   BASE_URL            the server, e.g. http://127.0.0.1:8000
//   NURSE_USERNAME      a nurse of the bed's unit
//   NURSE_PASSWORD
//   NURSE_TOTP_SECRET   the nurse's authenticator secret, base32
//   BED_ID              a free bed of that unit, with a camera
//   CAMERA_STATE        the camera state the baby's page must show (default "Camera live")
//   PARENT_NAME, PARENT_USERNAME, PARENT_PASSWORD   the account the parent creates
//   ARTIFACTS           where screenshots go (default artifacts/e2e in the repository)
//   CHROMIUM            the browser (default /usr/bin/chromium)
// Exits 0 when every step passed, 1 with the failed step's name and reason otherwise.

import { createHmac } from "node:crypto";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));

function settings() {
  const values = { ...process.env };
  for (const arg of process.argv.slice(2)) {
    const m = /^--([a-z0-9-]+)=(.*)$/s.exec(arg);
    if (!m) throw new Error(`Unknown argument ${arg}; pass settings as --name=value.`);
    values[m[1].toUpperCase().replaceAll("-", "_")] = m[2];
  }
  const required = ["BASE_URL", "NURSE_USERNAME", "NURSE_PASSWORD", "NURSE_TOTP_SECRET", "BED_ID"];
  const missing = required.filter((k) => !values[k]);
  if (missing.length) throw new Error(`Missing settings: ${missing.join(", ")}.`);
  return {
    baseUrl: values.BASE_URL.replace(/\/$/, ""),
    nurse: {
      username: values.NURSE_USERNAME,
      password: values.NURSE_PASSWORD,
      totpSecret: values.NURSE_TOTP_SECRET,
    },
    bedId: values.BED_ID,
    cameraState: values.CAMERA_STATE || "Camera live",
    parent: {
      name: values.PARENT_NAME || "Mum",
      username: values.PARENT_USERNAME || "mum_e2e",
      password: values.PARENT_PASSWORD || "a long walk by the river at dawn",
    },
    artifacts: values.ARTIFACTS || path.resolve(HERE, "../../artifacts/e2e"),
    chromium: values.CHROMIUM || "/usr/bin/chromium",
  };
}

// --- TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) -------------------------------------------------------

function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const clean = text.toUpperCase().replace(/[\s=]/g, "");
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const idx = alphabet.indexOf(ch);
    if (idx < 0) throw new Error(`The TOTP secret has a character that is not base32: ${ch}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totp(secret, now = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 1000 / 30)));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return code.toString().padStart(6, "0");
}

// The server accepts only the current step, so a code is never typed in the last seconds of its step.
async function freshTotp(secret) {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 4_000) await new Promise((r) => setTimeout(r, left + 200));
  return totp(secret);
}

// --- Browser plumbing --------------------------------------------------------------------------------------------

const problems = [];

async function newWatchedPage(browser, who) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: "en" });
  // Chromium reports a CSP violation as a console error too; this makes it explicit whatever the wording.
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile || e.documentURI}`);
    });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const where = msg.location().url;
    const line = `${who}: console error on ${page.url()}: ${msg.text()}${where ? ` (${where})` : ""}`;
    problems.push(line);
  });
  page.on("pageerror", (err) => problems.push(`${who}: uncaught error on ${page.url()}: ${err.message}`));
  // The console says only "Failed to load resource"; this names the address.
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`${who}: ${res.request().method()} ${res.url()} answered ${res.status()}`);
  });
  return { context, page };
}

let currentStep = "start";

async function step(name, fn) {
  currentStep = name;
  console.log(`- ${name}`);
  return fn();
}

async function expectPath(page, pattern, what) {
  try {
    await page.waitForURL((url) => pattern.test(url.pathname), { timeout: 15_000 });
  } catch {
    const alert = await page
      .locator('[role="alert"], .errorlist, .messages')
      .allInnerTexts()
      .catch(() => []);
    const shown = alert.length ? ` The page says: ${alert.join(" | ").replace(/\s+/g, " ")}` : "";
    throw new Error(`Expected ${what} (${pattern}), but the browser is at ${page.url()}.${shown}`);
  }
  return pattern.exec(new URL(page.url()).pathname);
}

function formWith(page, field) {
  return page.locator("main form").filter({ has: page.locator(field) });
}

// --- The flow ----------------------------------------------------------------------------------------------------

async function nurseIssuesSlip(page, cfg) {
  const { baseUrl, nurse, bedId } = cfg;
  await step("nurse signs in with username and password", async () => {
    await page.goto(`${baseUrl}/accounts/login/`);
    const form = formWith(page, 'input[name="password"]');
    await form.locator('input[name="login"]').fill(nurse.username);
    await form.locator('input[name="password"]').fill(nurse.password);
    await form.locator('button[type="submit"]').click();
    await expectPath(page, /^\/accounts\/2fa\/authenticate\/$/, "the second-step page");
  });
  await step("nurse passes the authenticator step", async () => {
    const form = formWith(page, 'input[name="code"]');
    await form.locator('input[name="code"]').fill(await freshTotp(nurse.totpSecret));
    await form.locator('button[type="submit"]').click();
    await expectPath(page, /^\/units\/\d+\/board\/$/, "the unit board after signing in");
  });
  let bedLabel;
  await step("nurse opens the free bed from the board", async () => {
    const row = page.locator("table.board tbody tr").filter({ has: page.locator(`a.bed[href="/beds/${bedId}/"]`) });
    if ((await row.count()) !== 1) throw new Error(`The board has no row for bed ${bedId}.`);
    bedLabel = (await row.locator("a.bed").innerText()).trim();
    await page.screenshot({ path: path.join(cfg.artifacts, "board.png"), fullPage: true });
    await row.getByRole("link", { name: "Free: admit" }).click();
    await expectPath(page, new RegExp(`^/beds/${bedId}/$`), "the bed page");
  });
  await step("nurse admits a baby", async () => {
    await page.getByRole("button", { name: "Admit", exact: true }).click();
    await expectPath(page, new RegExp(`^/beds/${bedId}/$`), "the bed page after admitting");
    await page.getByRole("heading", { name: `Baby at bed ${bedLabel}` }).waitFor();
  });
  let code;
  await step("nurse prints a parent's invitation slip", async () => {
    await page.locator('select[name="role"]').selectOption("parent");
    await page.getByRole("button", { name: "Print an invitation slip" }).click();
    await expectPath(page, /^\/invitations\/\d+\/slip\/$/, "the invitation slip");
    code = (await page.locator("#invitation-code").innerText()).trim();
    if (!code) throw new Error("The slip shows no invitation code.");
    await page.screenshot({ path: path.join(cfg.artifacts, "slip.png"), fullPage: true });
  });
  return { code, bedLabel };
}

async function parentJoins(page, cfg, code, bedLabel) {
  const { baseUrl, parent } = cfg;
  await step("parent types the code on the join page", async () => {
    await page.goto(`${baseUrl}/join/`);
    await page.locator("#id_code").fill(code);
    await page.getByRole("button", { name: "Continue" }).click();
    await expectPath(page, /^\/join\/account\/$/, "the create-account page");
  });
  await step("parent creates an account", async () => {
    await page.locator("#id_display_name").fill(parent.name);
    await page.locator("#id_username").fill(parent.username);
    await page.locator("#id_password1").fill(parent.password);
    await page.locator("#id_password2").fill(parent.password);
    await page.getByRole("button", { name: "Create account" }).click();
    await expectPath(page, /^\/welcome\/second-step\/$/, 'the "Protect your account" page');
    await page.getByRole("heading", { name: "Protect your account" }).waitFor();
  });
  await step("parent chooses an authenticator app and activates it", async () => {
    await page.getByRole("link", { name: "Use an authenticator app" }).click();
    await expectPath(page, /^\/accounts\/2fa\/totp\/activate\/$/, "the authenticator activation page");
    const secret = (await page.locator("#authenticator_secret").inputValue()).trim();
    if (!secret) throw new Error("The activation page shows no authenticator secret.");
    await page.screenshot({ path: path.join(cfg.artifacts, "totp.png"), fullPage: true });
    const form = formWith(page, 'input[name="code"]');
    await form.locator('input[name="code"]').fill(await freshTotp(secret));
    await form.locator('button[type="submit"]').click();
    const [where] = await expectPath(
      page,
      /^\/accounts\/2fa\/(recovery-codes\/)?$/,
      "the recovery codes or sign-in security page after activating",
    );
    if (where.includes("recovery-codes")) {
      const codes = (await page.locator("#recovery_codes").inputValue()).trim().split(/\s+/);
      if (codes.length < 1 || !codes[0]) throw new Error("The recovery codes page shows no codes.");
      await page.screenshot({ path: path.join(cfg.artifacts, "recovery-codes.png"), fullPage: true });
    }
  });
  await step("parent opens the baby's page", async () => {
    await page.goto(`${baseUrl}/`);
    await expectPath(page, /^\/babies\/\d+\/$/, "the baby's page (home sends a parent of one baby there)");
    await page.getByRole("heading", { name: `Baby at bed ${bedLabel}` }).waitFor();
    const state = (await page.locator("main .state").innerText()).trim();
    if (state !== cfg.cameraState) throw new Error(`The camera state reads "${state}", not "${cfg.cameraState}".`);
    await page.screenshot({ path: path.join(cfg.artifacts, "baby.png"), fullPage: true });
  });
}

async function main() {
  const cfg = settings();
  mkdirSync(cfg.artifacts, { recursive: true });
  for (const name of readdirSync(cfg.artifacts)) {
    if (/^failed-.*\.png$/.test(name)) rmSync(path.join(cfg.artifacts, name));
  }
  const browser = await chromium.launch({
    executablePath: cfg.chromium,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  const pages = {};
  try {
    const nurse = await newWatchedPage(browser, "nurse");
    pages.nurse = nurse.page;
    const { code, bedLabel } = await nurseIssuesSlip(nurse.page, cfg);
    // A separate context: another browser profile, with no cookies shared with the nurse's.
    const parent = await newWatchedPage(browser, "parent");
    pages.parent = parent.page;
    await parentJoins(parent.page, cfg, code, bedLabel);
    await step("no console errors and no CSP violations", async () => {
      if (problems.length) throw new Error(`${problems.length} found:\n  ${problems.join("\n  ")}`);
    });
  } catch (err) {
    for (const [who, page] of Object.entries(pages)) {
      await page.screenshot({ path: path.join(cfg.artifacts, `failed-${who}.png`), fullPage: true }).catch(() => {});
    }
    throw err;
  } finally {
    await browser.close();
  }
  console.log(`Invitation flow passed; screenshots in ${cfg.artifacts}`);
}

main().catch((err) => {
  console.error(`Invitation flow failed at step "${currentStep}": ${err.message}`);
  if (problems.length && currentStep !== "no console errors and no CSP violations") {
    console.error(`Console errors and CSP violations seen before that:\n  ${problems.join("\n  ")}`);
  }
  process.exit(1);
});
