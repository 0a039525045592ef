// Care-team updates in a real browser: a nurse sends an update with a photo from the live picture; the parent is
// told by e-mail, follows its link and sees the update and the photo; a relative the parents limited sees neither;
// the privacy officer finds the update's audit trail. Screenshots of the timeline and the audit search in English
// and Chinese. Any console error, uncaught page error or CSP violation fails the run.
//
// Settings (environment or --name=value): BASE_URL, BED_ID, ADMISSION_ID, MAIL_DIR (where the test's SMTP server
// leaves each message as <address>.txt), UPDATE_TEXT, BABY_NAME (as the staff know it, e.g. "Bed 7 · Pip"),
// NURSE_*, PARENT_*, RELATIVE_*, OFFICER_* (USERNAME, PASSWORD, TOTP_SECRET), PARENT_EMAIL, ARTIFACTS, CHROMIUM.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { expectPath, runFlow, screenshot, signIn, step } from "./browser.mjs";
import { readSettings } from "./browser.mjs";

const v = readSettings(["BED_ID", "ADMISSION_ID", "MAIL_DIR", "UPDATE_TEXT", "BABY_NAME", "PARENT_EMAIL"]);
const who = (name) => ({
  who: name.toLowerCase(),
  username: v[`${name}_USERNAME`],
  password: v[`${name}_PASSWORD`],
  totpSecret: v[`${name}_TOTP_SECRET`],
});

async function switchLanguage(page, label) {
  await page.locator("form.lang").getByRole("button", { name: label }).click();
  await page.waitForLoadState("load");
}

async function nurseSendsUpdate(page) {
  await signIn(page, v.BASE_URL, who("NURSE"), /^\/units\/\d+\/board\/$/, "the unit board");
  await step("nurse opens the bed page and the update form", async () => {
    await page.goto(`${v.BASE_URL}/beds/${v.BED_ID}/`);
    await page.getByRole("link", { name: "Send the family an update" }).click();
    await expectPath(page, /^\/admissions\/\d+\/updates\/new\/$/, "the update form");
  });
  await step("nurse writes the update and takes a photo from the live picture", async () => {
    await page.locator("#id_text").fill(v.UPDATE_TEXT);
    await page.locator('input[name="photo"][value="live"]').check();
    await screenshot(page, "compose-en.png");
    await page.getByRole("button", { name: "Send the update" }).click();
  });
  await step("nurse sees the redacted photo, marked with her own code, before sending", async () => {
    const img = page.locator("#photo-preview img");
    await img.waitFor();
    await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
    if (!(await page.locator('input[name="photo"][value="taken"]').isChecked())) {
      throw new Error("The form does not offer the photo just taken.");
    }
    await screenshot(page, "compose-preview-en.png");
    await page.getByRole("button", { name: "Send the update" }).click();
    await expectPath(page, new RegExp(`^/beds/${v.BED_ID}/$`), "the bed page after sending");
    await page.getByText("The update was sent to the family.").waitFor();
  });
}

async function waitForMail(address) {
  const file = path.join(v.MAIL_DIR, `${address}.txt`);
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (existsSync(file)) return readFileSync(file, "utf8");
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`No e-mail reached ${address} within 90 s.`);
}

async function parentReadsMailAndSeesUpdate(page) {
  let link;
  await step("parent receives the e-mail, which names nothing", async () => {
    const mail = await waitForMail(v.PARENT_EMAIL);
    if (!mail.includes("The care team sent you an update in Cradle.")) throw new Error(`Unexpected e-mail:\n${mail}`);
    for (const secret of [v.UPDATE_TEXT, "Pip", v.BABY_NAME]) {
      if (mail.includes(secret)) throw new Error(`The e-mail gives away "${secret}".`);
    }
    link = /https?:\/\/\S+/.exec(mail)?.[0];
    if (!link) throw new Error("The e-mail has no link.");
  });
  await step("parent follows the link and signs in", async () => {
    await page.goto(link);
  });
  await signIn(page, v.BASE_URL, who("PARENT"), /^\/babies\/\d+\/$/, "the baby's page");
  await step("parent sees the update and its photo on the timeline", async () => {
    const update = page.locator("ol.timeline li.update").first();
    await update.getByText(v.UPDATE_TEXT).waitFor();
    const img = update.locator("img");
    await img.waitFor();
    await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
    await update.scrollIntoViewIfNeeded();
    await screenshot(page, "timeline-en.png");
    await update.screenshot({ path: path.join(v.ARTIFACTS, "timeline-update-en.png") });
  });
  await step("parent reads the timeline in Chinese", async () => {
    await switchLanguage(page, "中文");
    await page.getByRole("heading", { name: "动态和片段" }).waitFor();
    const update = page.locator("ol.timeline li.update").first();
    await update.getByText(v.UPDATE_TEXT).waitFor();
    await update.scrollIntoViewIfNeeded();
    await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await update.locator("img").elementHandle());
    await screenshot(page, "timeline-zh.png");
    await page.locator("ol.timeline li.update").first().screenshot({ path: path.join(v.ARTIFACTS, "timeline-update-zh.png") });
  });
}

async function limitedRelativeSeesNothing(page) {
  await signIn(page, v.BASE_URL, who("RELATIVE"), /^\/babies\/\d+\/$/, "the baby's page");
  await step("the relative the parents limited does not see the update", async () => {
    await page.getByRole("heading", { name: "Updates and clips" }).waitFor();
    if ((await page.getByText(v.UPDATE_TEXT).count()) !== 0) throw new Error("The limited relative sees the update.");
    if ((await page.locator("ol.timeline li.update").count()) !== 0) throw new Error("The timeline shows an update.");
  });
}

async function officerFindsTheTrail(page) {
  await signIn(page, v.BASE_URL, who("OFFICER"), /^\/$/, "the privacy officer's landing page");
  await step("the landing page says what needs attention", async () => {
    await page.getByRole("heading", { name: "Needs your attention" }).waitFor();
    await page.getByRole("link", { name: "Search the audit log" }).click();
    await expectPath(page, /^\/audit\/$/, "the audit search");
  });
  await step("the officer picks the update actions and the baby, and searches", async () => {
    await page.locator('select[name="action"]').selectOption("update.");
    await page.locator('select[name="admission"]').selectOption(v.ADMISSION_ID);
    await page.getByRole("button", { name: "Search" }).click();
    await expectPath(page, /^\/audit\/$/, "the audit results");
    const table = page.locator("table.audit tbody");
    for (const text of ["Sent a care-team update", "Saw a care-team update"]) {
      await table.getByText(text).first().waitFor();
    }
    const sent = table.locator("tr").filter({ hasText: "Sent a care-team update" }).first();
    for (const text of ["Nurse Chen", v.BABY_NAME]) await sent.getByText(text).waitFor();
    await screenshot(page, "audit-search-en.png");
  });
  await step("the photo fetches are folded into the viewing until the officer asks for every row", async () => {
    if ((await page.locator("table.audit tbody").getByText("Received an update's photo").count()) !== 0) {
      throw new Error("The photo fetches are not folded.");
    }
    await page.locator("#folded").getByRole("link", { name: "Show every row" }).click();
    await page.locator("table.audit tbody").getByText("Received an update's photo").first().waitFor();
    await screenshot(page, "audit-search-every-row-en.png");
  });
  await step("the officer reads the same trail in Chinese", async () => {
    await switchLanguage(page, "中文");
    await page.locator("table.audit tbody").getByText("发送了医护动态").first().waitFor();
    await screenshot(page, "audit-search-zh.png");
  });
}

runFlow("Care-team updates flow", v, async ({ open }) => {
  const nurse = await open("nurse");
  await nurseSendsUpdate(nurse.page);
  const parent = await open("parent");
  await parentReadsMailAndSeesUpdate(parent.page);
  const relative = await open("relative");
  await limitedRelativeSeesNothing(relative.page);
  const officer = await open("officer");
  await officerFindsTheTrail(officer.page);
  await step("the audit search on a phone keeps the essential columns", async () => {
    await officer.page.setViewportSize({ width: 390, height: 844 });
    await switchLanguage(officer.page, "English");
    await officer.page.locator("table.audit tbody").getByText("Sent a care-team update").first().waitFor();
    const hidden = await officer.page.locator("table.audit thead").isHidden();
    if (!hidden) throw new Error("The phone layout still shows the table's header row.");
    await screenshot(officer.page, "audit-search-phone-en.png");
  });
});
