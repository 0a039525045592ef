// Cameras in a real browser, against a real RTSP camera: an administrator adds the camera (address, user name and
// password typed apart) and checks it, seeing one redacted picture with what was masked outlined; a parent watches;
// the nurse sees the family's picture on the bed page, opens the zone editor on a touch tablet, drags the shown area
// with a finger and saves, and the parent's picture changes (the time it takes is printed); the ward board fits a
// 390 px phone in English and Chinese and a wall screen. Any console error, uncaught page error or Content Security
// Policy violation fails the run. Screenshots go to ARTIFACTS (artifacts/e2e/cameras).
//
// Settings (environment or --name=value): BASE_URL, UNIT_ID, BED_ID, ADMISSION_ID, RTSP_URL, RTSP_USER,
// RTSP_PASSWORD, ADMIN_USERNAME, NURSE_USERNAME, NURSE_ZH_USERNAME, NURSE_WALL_USERNAME, NURSE_PHONE_USERNAME,
// PARENT_USERNAME, PASSWORD, TOTP_SECRET (every account has that authenticator secret; each signs in once).
// Prints "zone change seen by the family after N.N s".

import { PHONE, expectPath, readSettings, runFlow, screenshot, signIn, step } from "./browser.mjs";

const v = readSettings([
  "UNIT_ID", "BED_ID", "ADMISSION_ID", "RTSP_URL", "RTSP_USER", "RTSP_PASSWORD", "ADMIN_USERNAME", "NURSE_USERNAME",
  "NURSE_ZH_USERNAME", "NURSE_WALL_USERNAME", "NURSE_PHONE_USERNAME", "PARENT_USERNAME", "PASSWORD", "TOTP_SECRET",
]);
const base = v.BASE_URL;
const ZH = { locale: "zh-CN", extraHTTPHeaders: { "Accept-Language": "zh-CN,zh;q=0.9" } };
const TABLET = { viewport: { width: 820, height: 1180 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true };
const WALL = { viewport: { width: 1920, height: 1080 } };
const PLAY_WAIT_MS = 60_000;
const ZONE_WAIT_MS = 30_000;

const person = (who, username) => ({ who, username, password: v.PASSWORD, totpSecret: v.TOTP_SECRET });

async function playing(page, what) {
  const ok = await page
    .waitForFunction(() => {
      const el = document.getElementById("video");
      return el && el.readyState >= 2 && el.currentTime > 1;
    }, null, { timeout: PLAY_WAIT_MS, polling: 250 })
    .then(() => true)
    .catch(() => false);
  if (!ok) throw new Error(`${what}: the picture did not play within ${PLAY_WAIT_MS / 1000} s.`);
}

// Share of the picture's pixels near its four corners that are the redaction's fill (48, 48, 48): what lies outside a
// small shown area in the middle.
function cornersMasked() {
  const video = document.getElementById("video");
  if (!video || video.readyState < 2 || !video.videoWidth) return -1;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.drawImage(video, 0, 0);
  const w = canvas.width, h = canvas.height, s = Math.round(Math.min(w, h) * 0.15);
  let fill = 0, all = 0;
  for (const [x, y] of [[0, 0], [w - s, 0], [0, h - s], [w - s, h - s]]) {
    const d = g.getImageData(x, y, s, s).data;
    for (let i = 0; i < d.length; i += 4) {
      all += 1;
      if (Math.abs(d[i] - 48) < 14 && Math.abs(d[i + 1] - 48) < 14 && Math.abs(d[i + 2] - 48) < 14) fill += 1;
    }
  }
  return fill / all;
}

async function fitsWidth(page, width, what) {
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  if (wide > width) throw new Error(`${what} is ${wide} px wide on a ${width} px screen.`);
}

// A finger drag through Chromium's touch input: pointer events of type "touch", as a tablet sends them.
async function fingerDrag(page, from, to) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x: from.x, y: from.y }] });
  for (let i = 1; i <= 8; i++) {
    const x = from.x + ((to.x - from.x) * i) / 8, y = from.y + ((to.y - from.y) * i) / 8;
    await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x, y }] });
  }
  await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  await cdp.detach();
}

runFlow("Cameras", v, async ({ open }) => {
  const admin = await open("admin");
  await signIn(admin.page, base, person("administrator", v.ADMIN_USERNAME), /^\/.*$/, "a page after signing in");
  let cameraId;
  await step("the administrator adds the RTSP camera, password typed apart", async () => {
    const page = admin.page;
    await page.goto(`${base}/units/${v.UNIT_ID}/cameras/`);
    if (/\/reauthenticate\//.test(page.url())) {
      // Camera set-up holds passwords: it asks the administrator to confirm who they are first.
      await page.locator('main input[name="password"]').fill(v.PASSWORD);
      await page.getByRole("button", { name: "Confirm" }).click();
      await expectPath(page, new RegExp(`^/units/${v.UNIT_ID}/cameras/$`), "the cameras page after confirming");
    }
    await page.locator('select[name="bed"]').selectOption({ label: "nicu / 3" }).catch(async () => {
      await page.locator('select[name="bed"]').selectOption({ index: 1 });
    });
    await page.locator('input[name="source_url"]').fill(v.RTSP_URL);
    await page.locator('input[name="username"]').fill(v.RTSP_USER);
    await page.locator('input[name="password"]').fill(v.RTSP_PASSWORD);
    // The camera sends 640x480 at 15; the unit delivers less, as a busy ward's server would.
    await page.locator('input[name="width"]').fill("320");
    await page.locator('input[name="height"]').fill("240");
    await page.locator('input[name="fps"]').fill("10");
    await page.getByRole("button", { name: "Add camera" }).click();
    [, cameraId] = await expectPath(page, /^\/cameras\/(\d+)\/$/, "the camera's page");
    if ((await page.content()).includes(v.RTSP_PASSWORD)) throw new Error("The camera's page shows its password.");
  });
  await step("the administrator checks it: one redacted picture, masked areas outlined", async () => {
    const page = admin.page;
    await page.getByRole("button", { name: "Check the camera" }).click();
    await expectPath(page, /^\/cameras\/\d+\/check\/$/, "the check's page");
    const result = page.locator("#check-result");
    if ((await result.getAttribute("data-ok")) !== "yes") throw new Error(`The check says: ${await result.innerText()}`);
    await page.locator("#check-picture").waitFor();
    const said = await page.locator("figcaption").innerText();
    if (!/area(s)? masked/.test(said)) throw new Error(`The check's picture says "${said}".`);
    await screenshot(page, "admin-check.png");
    await page.goto(`${base}/cameras/${cameraId}/`);
    await screenshot(page, "admin-camera.png");
  });

  const parent = await open("parent");
  await signIn(parent.page, base, person("parent", v.PARENT_USERNAME), new RegExp(`^/babies/${v.ADMISSION_ID}/$`), "the baby's page");
  await step("the parent watches the RTSP camera's redacted picture", async () => {
    await playing(parent.page, "The parent's page");
    await screenshot(parent.page, "parent-before-zone.png");
  });

  const nurse = await open("nurse", TABLET);
  await signIn(nurse.page, base, person("nurse", v.NURSE_USERNAME), /^\/units\/\d+\/board\/$/, "the board");
  await step("the nurse sees on the bed page what the family sees", async () => {
    const page = nurse.page;
    await page.goto(`${base}/beds/${v.BED_ID}/`);
    // The badge tells what the family is told, as the page opens: the same state as the family's player there (live,
    // or the privacy screen while a busy server could not check the picture in time).
    const badge = await page.locator("main [data-picture]").first().getAttribute("data-picture");
    const player = await page.locator("#player").getAttribute("data-state");
    if (badge !== player) throw new Error(`The badge says "${badge}" while the family's player opens as "${player}".`);
    await playing(page, "The nurse's bed page");
    const familyState = await parent.page.locator("#player").getAttribute("data-state");
    console.log(`  the nurse's badge: ${badge}; the family's player now: ${familyState}`);
    await screenshot(page, "nurse-bed.png");
  });
  let savedAt;
  await step("the nurse drags a shown area with a finger and saves", async () => {
    const page = nurse.page;
    await page.locator("#zones-link").tap();
    await expectPath(page, /^\/cameras\/\d+\/zones\/$/, "the zone editor");
    await page.locator('#zone-editor[data-ready="yes"]').waitFor({ timeout: 40_000 });
    const before = await parent.page.evaluate(cornersMasked);
    if (before > 0.5) throw new Error(`The family's picture is masked at its corners before any zone (${before}).`);
    const box = await page.locator("#zone-svg").boundingBox();
    await fingerDrag(page, { x: box.x + box.width * 0.3, y: box.y + box.height * 0.3 }, { x: box.x + box.width * 0.7, y: box.y + box.height * 0.7 });
    if ((await page.locator("#zone-editor").getAttribute("data-area")) !== "yes") throw new Error("The finger drew no shown area.");
    await screenshot(page, "nurse-zones-drawn.png");
    await page.locator("#zones-save").click();
    savedAt = Date.now();
    await page.locator("#zones-status", { hasText: "Saved" }).waitFor({ timeout: 10_000 });
  });
  await step(`the family's picture changes within ${ZONE_WAIT_MS / 1000} s`, async () => {
    let share = -1;
    while (Date.now() - savedAt < ZONE_WAIT_MS) {
      share = await parent.page.evaluate(cornersMasked);
      if (share > 0.9) break;
      await parent.page.waitForTimeout(100);
    }
    if (share <= 0.9) {
      throw new Error(`The parent's picture was not masked outside the new shown area after ${ZONE_WAIT_MS / 1000} s ` +
        `(${(share * 100).toFixed(0)} % of its corners masked).`);
    }
    console.log(`zone change seen by the family after ${((Date.now() - savedAt) / 1000).toFixed(1)} s`);
    await screenshot(parent.page, "parent-after-zone.png");
    await screenshot(nurse.page, "nurse-zones-saved.png");
  });
  await step("the board on a tablet and on a wall screen", async () => {
    await nurse.page.goto(`${base}/units/${v.UNIT_ID}/board/`);
    await nurse.page.locator("li.bed-tile img").first().waitFor({ timeout: 15_000 });
    await screenshot(nurse.page, "board-tablet-en.png");
    const wall = await open("wall", WALL);
    await signIn(wall.page, base, person("nurse at the wall screen", v.NURSE_WALL_USERNAME), /^\/units\/\d+\/board\/$/, "the board");
    await fitsWidth(wall.page, 1920, "The board on a wall screen");
    await screenshot(wall.page, "board-wall-en.png");
  });
  await step("the board, bed page and zone editor on a 390 px phone in Chinese", async () => {
    const zh = await open("nurse-zh", { ...PHONE, ...ZH });
    await signIn(zh.page, base, person("Chinese-speaking nurse", v.NURSE_ZH_USERNAME), /^\/units\/\d+\/board\/$/, "the board");
    const page = zh.page;
    if (!(await page.locator("h1").innerText()).includes("新生儿重症监护室")) throw new Error("The unit's name is not in Chinese.");
    await fitsWidth(page, 390, "The Chinese board");
    await screenshot(page, "board-phone-zh.png");
    await page.goto(`${base}/beds/${v.BED_ID}/`);
    await playing(page, "The Chinese bed page");
    await fitsWidth(page, 390, "The Chinese bed page");
    await screenshot(page, "bed-phone-zh.png");
    await page.goto(`${base}/cameras/${cameraId}/zones/`);
    await page.locator('#zone-editor[data-ready="yes"]').waitFor({ timeout: 40_000 });
    await fitsWidth(page, 390, "The Chinese zone editor");
    await screenshot(page, "zones-phone-zh.png");
  });
  await step("the English board fits a 390 px phone", async () => {
    const en = await open("nurse-phone", PHONE);
    await signIn(en.page, base, person("nurse on a phone", v.NURSE_PHONE_USERNAME), /^\/units\/\d+\/board\/$/, "the board");
    await fitsWidth(en.page, 390, "The English board");
    await screenshot(en.page, "board-phone-en.png");
  });
});
