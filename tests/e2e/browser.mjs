// What the browser flows share: settings from the environment, TOTP codes, browser contexts that report every
// console error, uncaught page error and Content Security Policy violation, screenshots, and named steps, so that a
// failure says which step broke and why.

import { createHmac } from "node:crypto";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * The flow's settings: the environment, overridden by --name=value arguments (--base-url=... sets BASE_URL).
 * Exits with a message when one of `required` is missing. ARTIFACTS and CHROMIUM get their defaults here.
 */
export function readSettings(required) {
  try {
    return parseSettings(required);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}

function parseSettings(required) {
  const values = { ...process.env };
  for (const arg of process.argv.slice(2)) {
    const m = /^--([a-z0-9-]+)=(.*)$/s.exec(arg);
    if (!m) throw new Error(`Unknown argument ${arg}; pass settings as --name=value.`);
    values[m[1].toUpperCase().replaceAll("-", "_")] = m[2];
  }
  const missing = ["BASE_URL", ...required].filter((k) => !values[k]);
  if (missing.length) throw new Error(`Missing settings: ${missing.join(", ")}.`);
  values.BASE_URL = values.BASE_URL.replace(/\/$/, "");
  values.ARTIFACTS ||= path.resolve(HERE, "../../artifacts/e2e");
  values.CHROMIUM ||= "/usr/bin/chromium";
  return values;
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

export function totp(secret, now = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 1000 / 30)));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return code.toString().padStart(6, "0");
}

/** A code for the current step; the server accepts only that step, so none is typed in the last seconds of one. */
export async function freshTotp(secret) {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 4_000) await new Promise((r) => setTimeout(r, left + 200));
  return totp(secret);
}

// --- Steps and problems ------------------------------------------------------------------------------------------

const problems = [];
const expectedErrors = [];
let currentStep = "start";

/** Answers of 400 or more to addresses matching `pattern` are expected (a page that is meant to be a 404). */
export function expectErrorsFor(pattern) {
  expectedErrors.push(pattern);
}
let artifacts = null;
const NO_PROBLEMS = "no console errors, page errors or CSP violations";

/** Runs one named step of the flow; a failure is reported under that name. */
export async function step(name, fn) {
  currentStep = name;
  console.log(`- ${name}`);
  return fn();
}

/** Waits until the browser is at a path matching `pattern`; otherwise says where it is and what the page says. */
export async function expectPath(page, pattern, what) {
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

/** The form in the page's main part that has `field`, so that the header's forms (language, sign out) are not hit. */
export function formWith(page, field) {
  return page.locator("main form").filter({ has: page.locator(field) });
}

/**
 * Signs in with username and password, then the authenticator code when `totpSecret` is given, and waits for the
 * page a successful sign-in leads to (`landing`, a path pattern, described by `what`). Gives the path's match.
 */
export async function signIn(page, baseUrl, { who, username, password, totpSecret, recoveryCodes }, landing, what) {
  const secondStep = Boolean(totpSecret || recoveryCodes);
  let where;
  await step(`${who} signs in with username and password`, async () => {
    await page.goto(`${baseUrl}/accounts/login/`);
    const form = formWith(page, 'input[name="password"]');
    await form.locator('input[name="login"]').fill(username);
    await form.locator('input[name="password"]').fill(password);
    await form.locator('button[type="submit"]').click();
    if (secondStep) await expectPath(page, /^\/accounts\/2fa\/authenticate\/$/, "the second-step page");
    else where = await expectPath(page, landing, what);
  });
  if (!secondStep) return where;
  await step(`${who} passes the second step${recoveryCodes ? " with a recovery code" : ""}`, async () => {
    const form = formWith(page, 'input[name="code"]');
    // A code of the app works once; a second sign-in within its 30 s uses one of the recovery codes.
    await form.locator('input[name="code"]').fill(recoveryCodes ? recoveryCodes.shift() : await freshTotp(totpSecret));
    await form.locator('button[type="submit"]').click();
    where = await expectPath(page, landing, what);
  });
  return where;
}

/**
 * Moves the keyboard focus with Tab (and nothing else) until the focused element matches `selector`; fails when it
 * is not reached within `max` presses, which means a keyboard user cannot reach it either.
 */
export async function tabTo(page, selector, what, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((sel) => Boolean(document.activeElement && document.activeElement.matches(sel)), selector)) {
      return;
    }
  }
  const at = await page.evaluate(() => document.activeElement && document.activeElement.outerHTML.slice(0, 120));
  throw new Error(`${what} (${selector}) was not reached with ${max} presses of Tab; the focus is on ${at}.`);
}

/** Saves a full-page screenshot of `page` as `name` in the artifacts folder. */
export async function screenshot(page, name) {
  if (!artifacts) throw new Error("Screenshots are taken inside runFlow, which names the artifacts folder.");
  const file = path.join(artifacts, name);
  mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
}

// --- The browser -------------------------------------------------------------------------------------------------

/** A phone, as browser context options: a small screen that takes touch. */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true };

async function newWatchedPage(browser, who, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: "en", ...options });
  // Chromium reports a CSP violation as a console error too; this makes it explicit whatever the wording.
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile || e.documentURI}`);
    });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const trace = Boolean(process.env.E2E_TRACE);
  page.on("console", (msg) => {
    if (trace) console.log(`  [${who} console.${msg.type()}] ${msg.text()}`);
    if (msg.type() !== "error") return;
    const where = msg.location().url;
    if (where && /Failed to load resource/.test(msg.text()) && expectedErrors.some((p) => p.test(where))) return;
    problems.push(`${who}: console error on ${page.url()}: ${msg.text()}${where ? ` (${where})` : ""}`);
  });
  page.on("pageerror", (err) => problems.push(`${who}: uncaught error on ${page.url()}: ${err.message}`));
  // The console says only "Failed to load resource"; this names the address. Requests made with
  // context.request are not the page's and are not reported here.
  page.on("response", (res) => {
    if (trace) console.log(`  [${who} ${res.status()}] ${res.request().method()} ${res.url()}`);
    if (res.status() >= 400 && !expectedErrors.some((p) => p.test(res.url()))) {
      problems.push(`${who}: ${res.request().method()} ${res.url()} answered ${res.status()}`);
    }
  });
  return { context, page };
}

/**
 * Runs a flow in headless Chromium and exits the process: 0 when every step passed and no context saw a console
 * error, page error or CSP violation; 1 with the failed step's name and reason otherwise.
 *
 * `body({ open })` drives the flow: `open(who, options)` gives `{ context, page }` in a fresh context with cookies of
 * its own (`options` are Playwright's context options: PHONE, a locale).
 * Screenshots go to cfg.ARTIFACTS; on failure every open page is saved there as failed-<who>.png.
 */
export async function runFlow(title, cfg, body) {
  try {
    artifacts = cfg.ARTIFACTS;
    mkdirSync(artifacts, { recursive: true });
    for (const name of readdirSync(cfg.ARTIFACTS)) {
      if (/^failed-.*\.png$/.test(name)) rmSync(path.join(cfg.ARTIFACTS, name));
    }
    const browser = await chromium.launch({
      executablePath: cfg.CHROMIUM,
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
      const open = async (who, options) => {
        const opened = await newWatchedPage(browser, who, options);
        pages[who] = opened.page;
        return opened;
      };
      await body({ open });
      await step(NO_PROBLEMS, async () => {
        if (problems.length) throw new Error(`${problems.length} found:\n  ${problems.join("\n  ")}`);
      });
    } catch (err) {
      for (const [who, page] of Object.entries(pages)) {
        await page.screenshot({ path: path.join(cfg.ARTIFACTS, `failed-${who}.png`), fullPage: true }).catch(() => {});
      }
      throw err;
    } finally {
      await browser.close();
    }
  } catch (err) {
    console.error(`${title} failed at step "${currentStep}": ${err.message}`);
    if (problems.length && currentStep !== NO_PROBLEMS) {
      console.error(`Console errors and CSP violations seen before that:\n  ${problems.join("\n  ")}`);
    }
    process.exit(1);
  }
  console.log(`${title} passed; screenshots in ${cfg.ARTIFACTS}`);
  process.exit(0);
}
