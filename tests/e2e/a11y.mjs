// Accessibility of every page, for every role, in English and Chinese: axe-core (from npm) runs in one shared
// Chromium over each page a parent, relative, nurse, privacy officer, administrator or signed-out visitor can open,
// on a phone, in light colours, and the family's pages again in dark colours. A serious or critical violation fails
// the run; every page's counts are printed ("axe: ..."). Text must follow the browser's size: with the browser's text
// at 24 px the pages' text grows with it and the phone's page does not scroll sideways.
//
// Settings (environment or --name=value):
//   BASE_URL                   the server
//   ADMISSION_ID, CLIP_ID      a baby and a clip of it; KEEPSAKE_ID a finished keepsake of its parent
//   FREE_BED_ID, BED_ID, UNIT_ID, OTHER_UNIT_ID   the nurse's free and occupied beds, the unit, another unit
//   PARENT, RELATIVE, NURSE, PRIVACY, ADMIN       usernames; PASSWORD and TOTP_SECRET are everyone's
//   AXE                        axe.min.js (default node_modules/axe-core/axe.min.js)

import path from "node:path";
import { fileURLToPath } from "node:url";
import { PHONE, expectErrorsFor, readSettings, runFlow, signIn, step } from "./browser.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const v = readSettings([
  "ADMISSION_ID",
  "CLIP_ID",
  "KEEPSAKE_ID",
  "FREE_BED_ID",
  "BED_ID",
  "UNIT_ID",
  "OTHER_UNIT_ID",
  "PARENT",
  "RELATIVE",
  "NURSE",
  "PRIVACY",
  "ADMIN",
  "PASSWORD",
  "TOTP_SECRET",
]);
const AXE = v.AXE || path.resolve(HERE, "../../node_modules/axe-core/axe.min.js");
const base = v.BASE_URL;
const baby = `/babies/${v.ADMISSION_ID}/`;
const FAILING = new Set(["serious", "critical"]);
expectErrorsFor(/\/no-such-page\/$/);

// Each page is a path, or a function that gets the page there (a form's answer), with a name for the report.
const PAGES = {
  anonymous: [
    ["sign in", "/accounts/login/"],
    ["join", "/join/"],
    ["offline", "/offline/"],
    ["consent withdrawn", "/consent-withdrawn/"],
    ["not found", "/no-such-page/"],
  ],
  parent: [
    ["baby", baby],
    ["clip", `/clips/${v.CLIP_ID}/`],
    ["keepsake", `/keepsakes/${v.KEEPSAKE_ID}/`],
    ["who watched", `${baby}who-watched/`],
    ["what relatives see", `${baby}updates/relatives/`],
    ["family", `${baby}family/`],
    ["invitation slip", async (page) => {
      await page.goto(`${base}${baby}family/`);
      await page.getByRole("button", { name: /Create an invitation|创建邀请/ }).click();
      await page.waitForURL(/\/invitations\/\d+\/slip\//);
    }],
    ["consent", `${baby}consent/`],
    ["confirm stopping live", async (page) => {
      await page.goto(`${base}${baby}consent/`);
      await page.locator('button[name="withdraw"][value="live"]').click();
      await page.locator('button[name="confirm"][value="yes"]').waitFor();
    }],
    ["devices", "/me/devices/"],
    ["your details", "/me/"],
    ["sign-in security", "/accounts/2fa/"],
    ["recovery codes", "/accounts/2fa/recovery-codes/"],
    ["second step", "/welcome/second-step/"],
    ["change password", "/accounts/password/change/"],
    ["sign out", "/accounts/logout/"],
  ],
  relative: [
    ["baby", baby],
    ["clip", `/clips/${v.CLIP_ID}/`],
    ["devices", "/me/devices/"],
  ],
  nurse: [
    ["board", `/units/${v.UNIT_ID}/board/`],
    ["bed", `/beds/${v.BED_ID}/`],
    ["free bed", `/beds/${v.FREE_BED_ID}/`],
    ["invitation slip", async (page) => {
      await page.goto(`${base}/beds/${v.BED_ID}/`);
      await page.locator('select[name="role"]').selectOption("relative");
      await page.locator('form[action$="/invite/"] button[type="submit"]').click();
      await page.waitForURL(/\/invitations\/\d+\/slip\//);
    }],
    ["care-team update", `/admissions/${v.ADMISSION_ID}/updates/new/`],
    ["care-team update warning", async (page) => {
      await page.goto(`${base}/admissions/${v.ADMISSION_ID}/updates/new/`);
      await page.locator("#id_text").fill("Born on 2026-11-30, all well.");
      await page.locator('form[action=""] button[type="submit"], main form button[type="submit"]').first().click();
      await page.locator("#phi-warning").waitFor();
    }],
    ["discharge", `/admissions/${v.ADMISSION_ID}/discharge/`],
    ["transfer", `/admissions/${v.ADMISSION_ID}/transfer/`],
    ["units", "/units/"],
    ["break-glass", `/units/${v.OTHER_UNIT_ID}/break-glass/`],
  ],
  privacy: [
    ["landing page", "/"],
    ["audit", "/audit/"],
    ["alerts", "/audit/alerts/"],
    ["traces", "/traces/"],
  ],
  admin: [
    ["unit settings", `/units/${v.UNIT_ID}/settings/`],
    ["admission feed beds", `/units/${v.UNIT_ID}/feed/`],
  ],
};
const FAMILY = new Set(["parent", "relative"]);

async function audit(page) {
  return page.evaluate(async () => {
    // Media the page plays is not part of the check; it only makes axe wait.
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((x) => ({
      id: x.id,
      impact: x.impact,
      nodes: x.nodes.length,
      where: x.nodes.slice(0, 2).map((n) => n.target.join(" ")),
    }));
  });
}

runFlow("Accessibility", v, async ({ open }) => {
  const failures = [];
  const table = [];
  for (const [role, pages] of Object.entries(PAGES)) {
    const { context, page } = await open(role, PHONE);
    // axe-core goes in through the browser, not the page: Cradle's Content Security Policy stays as it is.
    await context.addInitScript({ path: AXE });
    if (role !== "anonymous") {
      const username = v[role.toUpperCase()];
      await signIn(page, base, { who: role, username, password: v.PASSWORD, totpSecret: v.TOTP_SECRET }, /.*/, "any page");
    }
    for (const lang of ["en", "zh-hans"]) {
      await context.addCookies([{ name: "django_language", value: lang, url: base }]);
      const schemes = lang === "en" && FAMILY.has(role) ? ["light", "dark"] : ["light"];
      for (const scheme of schemes) {
        await page.emulateMedia({ colorScheme: scheme });
        await step(`axe over the ${role}'s pages (${lang}, ${scheme})`, async () => {
          for (const [name, where] of pages) {
            if (typeof where === "function") await where(page);
            else await page.goto(`${base}${where}`);
            await page.waitForLoadState("load");
            const found = await audit(page);
            const count = (impact) => found.filter((x) => x.impact === impact).reduce((n, x) => n + x.nodes, 0);
            const line = `axe: ${role} ${lang} ${scheme} ${name} (${new URL(page.url()).pathname}): ` +
              `critical ${count("critical")}, serious ${count("serious")}, moderate ${count("moderate")}, minor ${count("minor")}`;
            console.log(line);
            table.push(line);
            for (const x of found.filter((f) => FAILING.has(f.impact))) {
              failures.push(`${role} ${lang} ${scheme} ${name}: ${x.impact} ${x.id} at ${x.where.join(" | ")}`);
            }
          }
        });
      }
    }
    if (FAMILY.has(role) || role === "anonymous") {
      await step(`text follows the browser's size for the ${role}`, async () => {
        await context.addCookies([{ name: "django_language", value: "en", url: base }]);
        const cdp = await context.newCDPSession(page);
        const target = role === "anonymous" ? "/accounts/login/" : baby;
        await page.goto(`${base}${target}`);
        const before = await page.evaluate(() => parseFloat(getComputedStyle(document.querySelector("main p, main label, main h1")).fontSize));
        await cdp.send("Page.setFontSizes", { fontSizes: { standard: 24, fixed: 20 } });
        await page.reload();
        const after = await page.evaluate(() => ({
          size: parseFloat(getComputedStyle(document.querySelector("main p, main label, main h1")).fontSize),
          overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        }));
        if (after.size < before * 1.4) throw new Error(`The text stayed at ${after.size}px (was ${before}px) with the browser's text at 24 px.`);
        if (after.overflow > 2) throw new Error(`With large text the page scrolls sideways by ${after.overflow}px on a phone.`);
        await cdp.send("Page.setFontSizes", { fontSizes: { standard: 16, fixed: 13 } });
        await cdp.detach();
      });
    }
    await context.close();
  }
  await step("no serious or critical accessibility violation on any page", async () => {
    if (failures.length) throw new Error(`${failures.length} found:\n  ${failures.join("\n  ")}`);
  });
  console.log(`axe pages checked: ${table.length}`);
});
