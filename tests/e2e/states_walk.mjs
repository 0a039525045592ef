// Every state a parent can meet, walked on phones in English and in Chinese with the real pipeline behind them: live,
// a keepsake made in the background, the picture being checked (redaction failing closed), paused by a nurse (with the
// keyboard alone), camera unavailable, access ended (relatives removed), signed out from another device (and the
// reload that explains it), live viewing stopped by the parents (after a confirmation; on the twin's page) and
// discharged while watching (clips until a date). Each state is shown in words in the reader's language within seconds, the badge never says "live" over a
// picture that is not moving, and the service worker answers nothing but the app shell. Screenshots of every state,
// phone and desktop, light and dark, go to ARTIFACTS/states/<state>-<en|zh>-<phone|desktop>-<light|dark>.png.
//
// Settings (environment or --name=value):
//   BASE_URL, ADMISSION_ID, BED_ID       the ward; the bed's camera must be sending segments
//   TWIN_ID                             the parents' second baby (its own camera): live viewing is stopped there
//   CONTROL_DIR                         the test harness's switches: a file "checking" makes redaction fail, a file
//                                       "no-worker" stops the pipeline worker, until each is removed
//   NURSE_USERNAME                      a nurse of the unit (authenticator app)
//   PARENT_EN, PARENT_ZH                the baby's two parents (authenticator app and recovery codes)
//   RECOVERY_EN, RECOVERY_ZH            their recovery codes, comma-separated
//   RELATIVE_EN, RELATIVE_ZH            two relatives (authenticator app)
//   PASSWORD, TOTP_SECRET               everyone's password and authenticator secret
// Prints one line per state with how long the page took to say it.

import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PHONE, expectErrorsFor, expectPath, readSettings, runFlow, screenshot, signIn, step, tabTo } from "./browser.mjs";

const v = readSettings([
  "ADMISSION_ID",
  "TWIN_ID",
  "BED_ID",
  "CONTROL_DIR",
  "NURSE_USERNAME",
  "PARENT_EN",
  "PARENT_ZH",
  "RECOVERY_EN",
  "RECOVERY_ZH",
  "RELATIVE_EN",
  "RELATIVE_ZH",
  "PASSWORD",
  "TOTP_SECRET",
]);
const base = v.BASE_URL;
// With twins, home lists both babies, or sends a parent on to the one still in the unit.
const landing = /^\/(babies\/\d+\/)?$/;
const babyUrl = `${base}/babies/${v.ADMISSION_ID}/`;
const twinUrl = `${base}/babies/${v.TWIN_ID}/`;
const STATE_WAIT_MS = 25_000;
const LIVE = { en: "Live", zh: "直播中" };
const ZH = { locale: "zh-CN", extraHTTPHeaders: { "Accept-Language": "zh-CN,zh;q=0.9" } };
const person = (who, username, extra = {}) => ({ who, username, password: v.PASSWORD, totpSecret: v.TOTP_SECRET, ...extra });

function control(name, on) {
  const file = path.join(v.CONTROL_DIR, name);
  if (on) writeFileSync(file, "on");
  else rmSync(file, { force: true });
}

/** Waits until the page's player says `code`; gives the seconds it took. */
async function stateIs(page, code, since = Date.now()) {
  const ok = await page
    .waitForFunction((c) => document.getElementById("player")?.dataset.state === c, code, { timeout: STATE_WAIT_MS, polling: 200 })
    .then(() => true)
    .catch(() => false);
  if (!ok) {
    const now = await page.evaluate(() => document.getElementById("player")?.dataset.state || "no player");
    throw new Error(`The page did not say "${code}" within ${STATE_WAIT_MS / 1000} s (it says "${now}", at ${page.url()}).`);
  }
  return (Date.now() - since) / 1000;
}

/** Waits until the picture moves and the badge says "Live" in the page's language. */
async function moving(page, lang) {
  await stateIs(page, "live");
  const ok = await page
    .waitForFunction((w) => document.getElementById("badge")?.textContent === w, LIVE[lang], { timeout: 45_000, polling: 250 })
    .then(() => true)
    .catch(() => false);
  if (!ok) throw new Error(`The badge says "${await page.locator("#badge").innerText()}", not "${LIVE[lang]}", after 45 s.`);
}

/** Waits until every page says `code` (each timed from `since`), and that none of their badges claims "live". */
async function said(pages, code, since) {
  const took = await Promise.all(pages.map(([, { page }]) => stateIs(page, code, since)));
  pages.forEach(([lang], i) => console.log(`  ${code} (${lang}) said after ${took[i].toFixed(1)} s`));
  for (const [lang, { page }] of pages) await notLive(page, lang);
}

/** The badge must not claim a live picture in any state but live. */
async function notLive(page, lang) {
  const badge = await page.locator("#badge").evaluate((el) => (el.classList.contains("hidden") ? "" : el.textContent)).catch(() => "");
  if (badge === LIVE[lang]) throw new Error(`The badge says "${badge}" in state ${await page.locator("#player").getAttribute("data-state")}.`);
}

/** Screenshots of the page as a phone and as a desktop, light and dark; the page is left as a light phone. */
async function shots(page, name, lang) {
  for (const [size, viewport] of [["phone", PHONE.viewport], ["desktop", { width: 1280, height: 900 }]]) {
    await page.setViewportSize(viewport);
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await screenshot(page, `states/${name}-${lang}-${size}-${scheme}.png`);
    }
  }
  await page.setViewportSize(PHONE.viewport);
  await page.emulateMedia({ colorScheme: "light" });
}

async function overlayClearOfControls(page) {
  const [o, p, c] = await Promise.all(["#overlay", "#picture", "#controls"].map((s) => page.locator(s).boundingBox()));
  if (!o || !p || !c) throw new Error("The player has no overlay, picture or controls.");
  if (o.y < p.y - 1 || o.y + o.height > p.y + p.height + 1) throw new Error(`The overlay ${JSON.stringify(o)} leaves the picture ${JSON.stringify(p)}.`);
  if (o.y + o.height > c.y) throw new Error(`The overlay ${JSON.stringify(o)} covers the controls ${JSON.stringify(c)}.`);
}

runFlow("States walk", v, async ({ open }) => {
  const media = [];
  // Pages pass through the worker to the network (it answers with the offline page only when there is none).
  const watchMedia = (page) =>
    page.on("response", (r) => {
      const personal = /\.m3u8|\/v\/|status\.json|\/keepsakes\/\d+\/(download|status)/.test(r.url());
      if (personal && r.fromServiceWorker()) media.push(r.url());
    });
  const nurse = await open("nurse");
  await signIn(nurse.page, base, person("nurse", v.NURSE_USERNAME), /^\/units\/\d+\/board\/$/, "the unit board");
  const recovery = { en: v.RECOVERY_EN.split(","), zh: v.RECOVERY_ZH.split(",") };
  const parents = {};
  for (const [lang, username, options] of [["en", v.PARENT_EN, PHONE], ["zh", v.PARENT_ZH, { ...PHONE, ...ZH }]]) {
    const opened = await open(`parent (${lang})`, options);
    watchMedia(opened.page);
    await signIn(opened.page, base, person(`parent (${lang})`, username), landing, "home");
    await opened.page.goto(babyUrl);
    parents[lang] = opened;
  }
  const both = Object.entries(parents);

  await step("both parents see the live picture, badge and overlay in their language", async () => {
    for (const [lang, { page }] of both) {
      await moving(page, lang);
      await overlayClearOfControls(page);
      if (!(await page.evaluate(() => document.body.classList.contains("dimmed")))) throw new Error("The page around the picture is not dimmed.");
      await shots(page, "live", lang);
    }
    if ((await parents.zh.page.locator("h1").innerText()).includes("Baby at bed")) throw new Error("The Chinese page is in English.");
  });

  await step("the service worker controls the page and keeps only the app shell", async () => {
    const { page } = parents.en;
    const kept = await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      const out = [];
      for (const name of await caches.keys()) {
        for (const request of await (await caches.open(name)).keys()) out.push(new URL(request.url).pathname);
      }
      return out;
    });
    const shell = /^\/(offline\/|static\/cradle\/[\w./-]+)$/;
    const other = kept.filter((p) => !shell.test(p));
    if (!kept.length || other.length) throw new Error(`The worker keeps ${JSON.stringify(kept)}.`);
    await page.reload();
    await moving(page, "en");
    if (!(await page.evaluate(() => Boolean(navigator.serviceWorker.controller)))) throw new Error("No service worker controls the page.");
  });

  await step("reduced motion: the overlay stands still", async () => {
    const { page } = parents.en;
    await page.emulateMedia({ reducedMotion: "reduce" });
    await page.reload();
    await moving(page, "en");
    const transition = await page.locator("#overlay").evaluate((el) => getComputedStyle(el).transitionDuration);
    const spots = [];
    for (let i = 0; i < 3; i++) {
      spots.push(await page.locator("#overlay").evaluate((el) => `${el.style.left},${el.style.top}`));
      await page.waitForTimeout(1100);
    }
    if (!/^0s(, 0s)*$/.test(transition) || new Set(spots).size > 2) {
      throw new Error(`With reduced motion the overlay moves (transition ${transition}; ${spots.join(" ")}).`);
    }
    await page.emulateMedia({ reducedMotion: "no-preference" });
    await page.reload();
    await moving(page, "en");
  });

  await step("landscape and full screen on the phone, overlay kept", async () => {
    const { page } = parents.en;
    await page.setViewportSize({ width: PHONE.viewport.height, height: PHONE.viewport.width });
    await screenshot(page, "states/live-en-phone-landscape.png");
    await page.locator("#fullscreen").click();
    await page.waitForFunction(() => {
      const box = document.getElementById("player");
      return document.fullscreenElement === box || box.classList.contains("full");
    });
    await overlayClearOfControls(page);
    await screenshot(page, "states/live-en-phone-fullscreen.png");
    await page.locator("#fullscreen").click();
    await page.setViewportSize(PHONE.viewport);
  });

  await step("a nurse keeps a clip; a parent asks for a keepsake and sees it made in the background", async () => {
    await nurse.page.goto(`${base}/beds/${v.BED_ID}/`);
    await nurse.page.getByRole("button", { name: "Last 15 s" }).click();
    // Kept whole, or shorter with the reason (a camera that started a moment ago has not sent 15 s yet).
    await nurse.page.locator(".messages").getByText(/Clip kept|the clip has \d+ s of the 15 s asked/).waitFor();
    const { page } = parents.en;
    await page.goto(babyUrl);
    await page.locator('main ol.timeline a[href^="/clips/"]').first().click();
    await expectPath(page, /^\/clips\/\d+\/$/, "the clip page");
    await page.waitForFunction(() => document.getElementById("video").currentTime > 0.5, null, { timeout: 30_000 });
    await overlayClearOfControls(page);
    await shots(page, "clip", "en");
    const asked = Date.now();
    await page.getByRole("button", { name: "Save as a keepsake" }).click();
    await expectPath(page, /^\/keepsakes\/\d+\/$/, "the keepsake page");
    if (Date.now() - asked > 5_000) throw new Error("Asking for a keepsake took over 5 s: the request waited for encoding.");
    await screenshot(page, "states/keepsake-making-en-phone-light.png");
    await page.locator("#keepsake-download:not(.hidden)").waitFor({ timeout: 90_000 });
    console.log(`  keepsake ready ${((Date.now() - asked) / 1000).toFixed(1)} s after asking`);
    await shots(page, "keepsake-ready", "en");
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#keepsake-download").click()]);
    if (!/^cradle-\d{4}-\d{2}-\d{2}\.mp4$/.test(download.suggestedFilename())) throw new Error(`The keepsake is named ${download.suggestedFilename()}.`);
    const zh = parents.zh.page;
    await zh.goto(babyUrl);
    await zh.locator('main ol.timeline a[href^="/clips/"]').first().click();
    await zh.waitForFunction(() => document.getElementById("video").currentTime > 0.5, null, { timeout: 30_000 });
    await shots(zh, "clip", "zh");
    for (const [lang, { page: p }] of both) {
      await p.goto(babyUrl);
      await moving(p, lang);
    }
  });

  await step("redaction cannot vouch for the picture: both pages say it is being checked", async () => {
    const since = Date.now();
    control("checking", true);
    try {
      await said(both, "checking", since);
      for (const [lang, { page }] of both) await shots(page, "checking", lang);
    } finally {
      control("checking", false);
    }
    for (const [lang, { page }] of both) await moving(page, lang);
  });

  await step("a nurse pauses the camera with the keyboard alone: both pages say why and until when", async () => {
    const { page } = nurse;
    await page.goto(`${base}/beds/${v.BED_ID}/`);
    const select = await page.locator('main select[name="reason"]').getAttribute("id");
    await tabTo(page, `#${select}`, "The reason of the pause");
    await page.keyboard.press("ArrowDown"); // "The family asked"
    await page.locator("main form.pause button", { hasText: "Pause 10 min" }).evaluate((el) => { el.dataset.e2e = "pause"; });
    await tabTo(page, '[data-e2e="pause"]', 'The "Pause 10 min" button');
    const since = Date.now();
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Resume now" }).waitFor();
    await said(both, "paused", since);
    for (const [lang, { page: p }] of both) {
      const text = await p.locator("#state-text").innerText();
      if (!/\d{1,2}:\d{2}/.test(text)) throw new Error(`The paused card does not say until when: "${text}".`);
      await shots(p, "paused", lang);
    }
    await page.getByRole("button", { name: "Resume now" }).click();
    for (const [lang, { page: p }] of both) await moving(p, lang);
  });

  await step("the pipeline stops: both pages say the camera is not sending a picture", async () => {
    const since = Date.now();
    control("no-worker", true);
    try {
      await said(both, "unavailable", since);
      for (const [lang, { page }] of both) await shots(page, "unavailable", lang);
    } finally {
      control("no-worker", false);
    }
    for (const [lang, { page }] of both) await moving(page, lang);
  });

  // From here on sessions end under open players: their next playlist or segment is refused (404) by design, until
  // the state check stops them; a state check that comes between a relative's removal and the end of their sessions
  // is a 404 too (out of scope), which the player takes for "access ended".
  expectErrorsFor(/\/babies\/\d+\/(live\.m3u8|status\.json)$/);
  expectErrorsFor(/\/v\/[\w-]+\.(ts|key)$/);
  await step("a parent removes the relatives: their pages say access has ended", async () => {
    const relatives = [];
    for (const [lang, username, options] of [["en", v.RELATIVE_EN, PHONE], ["zh", v.RELATIVE_ZH, { ...PHONE, ...ZH }]]) {
      const opened = await open(`relative (${lang})`, options);
      await signIn(opened.page, base, person(`relative (${lang})`, username), landing, "the baby's page");
      await moving(opened.page, lang);
      relatives.push([lang, opened]);
    }
    const { page } = parents.en;
    await page.goto(`${base}/babies/${v.ADMISSION_ID}/family/`);
    const since = Date.now();
    for (let i = 0; i < 2; i++) {
      await page.locator("main .list li").filter({ has: page.getByRole("button", { name: "Remove" }) }).first()
        .getByRole("button", { name: "Remove" }).click();
      await page.locator(".messages").waitFor();
    }
    await said(relatives, "ended", since);
    for (const [lang, { page: p, context }] of relatives) {
      await shots(p, "ended", lang);
      await context.close();
    }
    await page.goto(babyUrl);
    await moving(page, "en");
  });

  await step("each parent signs the phone out from a laptop: the phone says so, and so does its reload", async () => {
    for (const [lang, username] of [["en", v.PARENT_EN], ["zh", v.PARENT_ZH]]) {
      const laptop = await open(`laptop (${lang})`, lang === "zh" ? ZH : {});
      await signIn(laptop.page, base, person(`laptop (${lang})`, username, { totpSecret: "", recoveryCodes: recovery[lang] }), landing, "home");
      await laptop.page.goto(`${base}/me/devices/`);
      await screenshot(laptop.page, `states/devices-${lang}-desktop-light.png`);
      const phoneRow = laptop.page.locator("main .list li").filter({ hasNot: laptop.page.locator(".badge") });
      const since = Date.now();
      await phoneRow.getByRole("button").click();
      const { page } = parents[lang];
      console.log(`  signed out elsewhere (${lang}) said after ${(await stateIs(page, "signed_out_elsewhere", since)).toFixed(1)} s`);
      await notLive(page, lang);
      await shots(page, "signed-out-elsewhere", lang);
      await page.reload();
      await expectPath(page, /^\/accounts\/login\/$/, "the sign-in page after the reload");
      await page.locator("#signed-out").waitFor();
      await shots(page, "signed-out-reload", lang);
      await laptop.context.close();
      await signIn(page, base, person(`parent (${lang})`, username, { totpSecret: "", recoveryCodes: recovery[lang] }), landing, "home");
      await page.goto(babyUrl);
      await moving(page, lang);
    }
  });

  await step("a parent stops live viewing of the twin, after confirming: both twin pages say it has stopped", async () => {
    const { page } = parents.en;
    const zh = parents.zh.page;
    await page.goto(`${twinUrl}consent/`);
    await shots(page, "consent", "en");
    await zh.goto(`${twinUrl}consent/`);
    await shots(zh, "consent", "zh");
    await zh.goto(twinUrl);
    await moving(zh, "zh");
    await page.getByRole("button", { name: "Stop live viewing…" }).click();
    await page.getByRole("heading", { name: "Stop live viewing?" }).waitFor();
    await screenshot(page, "states/confirm-stop-live-en-phone-light.png");
    const since = Date.now();
    await page.getByRole("button", { name: "Yes, stop live viewing for good" }).click();
    await expectPath(page, new RegExp(`^/babies/${v.TWIN_ID}/$`), "the twin's page");
    await said(both, "stopped", since);
    for (const [lang, { page: p }] of both) await shots(p, "stopped", lang);
  });

  await step("a nurse discharges the baby while both parents watch: the players say so, and so does the reload", async () => {
    for (const [lang, { page }] of both) {
      await page.goto(babyUrl);
      await moving(page, lang);
    }
    await nurse.page.goto(`${base}/admissions/${v.ADMISSION_ID}/discharge/`);
    const since = Date.now();
    await nurse.page.getByRole("button", { name: "Discharge now" }).click();
    await expectPath(nurse.page, /^\/units\/\d+\/board\/$/, "the board after discharging");
    await said(both, "discharged", since);
    for (const [lang, { page }] of both) {
      await shots(page, "discharged-player", lang);
      await page.reload();
      await expectPath(page, /^\/accounts\/login\/$/, "the sign-in page after the discharge");
      await page.locator("#signed-out").waitFor();
      await shots(page, "discharged-reload", lang);
      const username = lang === "en" ? v.PARENT_EN : v.PARENT_ZH;
      await signIn(page, base, person(`parent (${lang})`, username, { totpSecret: "", recoveryCodes: recovery[lang] }), landing, "home");
      await page.goto(babyUrl);
      await stateIs(page, "discharged");
      const text = await page.locator("#state-text").innerText();
      if (!/\d/.test(text)) throw new Error(`The discharged page does not say until when the clips stay: "${text}".`);
      await shots(page, "discharged", lang);
    }
  });

  await step("no playlist, segment, state check or keepsake came from the service worker", async () => {
    if (media.length) throw new Error(`Answered by the service worker: ${media.slice(0, 5).join(", ")}.`);
  });
});
