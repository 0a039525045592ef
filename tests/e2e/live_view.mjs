// Live viewing in a real browser: a parent signs in with an authenticator code and watches the baby live, with the
// viewer-code overlay over the picture and clear of the controls, and the badge saying "Live" only once the picture
// moves; the parent goes full screen and back with the keyboard alone; a nurse pauses the camera from its tile on the
// unit board with one press of the keyboard and the parent's page says so, with the reason, within 5 s; a parent of
// another family cannot fetch the first family's playlist or segments. Any console error, uncaught page error or
// Content Security Policy violation, in any of the three browsers, fails the run.
//
// Settings come from the environment or from --name=value arguments (--base-url=... sets BASE_URL):
//   BASE_URL                                   the server, e.g. http://127.0.0.1:8000
//   ADMISSION_ID                               the first family's admission; its camera must be sending segments
//   BED_ID                                     that admission's bed
//   PARENT_USERNAME, PARENT_PASSWORD, PARENT_TOTP_SECRET   a parent of that admission, with an authenticator
//   NURSE_USERNAME, NURSE_PASSWORD, NURSE_TOTP_SECRET      a nurse of the bed's unit
//   OTHER_USERNAME, OTHER_PASSWORD             a parent of another admission (password only)
//   ARTIFACTS                                  where screenshots go (default artifacts/e2e in the repository)
//   CHROMIUM                                   the browser (default /usr/bin/chromium)
// Prints "viewer code: XXX-XXX" (what the overlay showed) and exits 0 when every step passed, 1 with the failed
// step's name and reason otherwise.

import { expectPath, readSettings, runFlow, screenshot, signIn, step, tabTo } from "./browser.mjs";

const ADVANCE_S = 3;
const PLAYBACK_WAIT_MS = 40_000;
const CARE_WAIT_MS = 5_000;

const v = readSettings([
  "ADMISSION_ID",
  "BED_ID",
  "PARENT_USERNAME",
  "PARENT_PASSWORD",
  "PARENT_TOTP_SECRET",
  "NURSE_USERNAME",
  "NURSE_PASSWORD",
  "NURSE_TOTP_SECRET",
  "OTHER_USERNAME",
  "OTHER_PASSWORD",
]);
const baseUrl = v.BASE_URL;
const admissionId = v.ADMISSION_ID;
const babyPath = new RegExp(`^/babies/${admissionId}/$`);
const playlistUrl = `${baseUrl}/babies/${admissionId}/live.m3u8`;

// Keeps hls.js's error events in window.hlsErrors, so that a player that keeps restarting can say why.
function recordPlayerErrors() {
  let Hls;
  window.hlsErrors = [];
  Object.defineProperty(window, "Hls", {
    configurable: true,
    get: () => Hls,
    set(value) {
      Hls = class extends value {
        constructor(...args) {
          super(...args);
          this.on(value.Events.ERROR, (_event, data) => {
            // The first line only: a playlist error goes on to quote both playlists in full.
            const why = (data.reason || data.error?.message || "").split("\n")[0];
            window.hlsErrors.push(`${data.fatal ? "fatal" : "non-fatal"} ${data.type}/${data.details}` +
              `${why ? ` (${why})` : ""}${data.response ? ` [HTTP ${data.response.code}]` : ""}`);
          });
        }
      };
    },
  });
}

async function parentWatches(page) {
  await page.context().addInitScript(recordPlayerErrors);
  const parent = { who: "parent", username: v.PARENT_USERNAME, password: v.PARENT_PASSWORD, totpSecret: v.PARENT_TOTP_SECRET };
  await signIn(page, baseUrl, parent, babyPath, "the baby's page (home sends a parent of one baby there)");
  let code;
  await step(`the video plays on and advances at least ${ADVANCE_S} s`, async () => {
    const video = page.locator("#video");
    await video.waitFor();
    // The first frame can take a moment: the player waits for two segments in the playlist before it starts.
    const deadline = Date.now() + PLAYBACK_WAIT_MS;
    const started = await page
      .waitForFunction(() => {
        const el = document.getElementById("video");
        return el.readyState >= 2 && el.currentTime > 0 && el.currentTime;
      }, null, { timeout: PLAYBACK_WAIT_MS, polling: 250 })
      .then((h) => h.jsonValue())
      .catch(() => null);
    if (started === null) throw new Error(`The video did not start within ${PLAYBACK_WAIT_MS / 1000} s: ${await videoState(page)}.`);
    const ok = await page
      .waitForFunction((target) => document.getElementById("video").currentTime >= target, started + ADVANCE_S, {
        timeout: Math.max(1, deadline - Date.now()),
        polling: 250,
      })
      .then(() => true)
      .catch(() => false);
    if (!ok) {
      const state = await videoState(page);
      // hls.js compares the addresses of segments it already has with those in each reloaded live playlist.
      const hint = state.includes("media sequence mismatch")
        ? " The reloaded playlist gave segments it had listed before new addresses, which hls.js takes for a" +
          " broken stream; it stops, and the player starts over."
        : "";
      throw new Error(
        `The video started at ${started.toFixed(2)} s but had not reached ${(started + ADVANCE_S).toFixed(2)} s ` +
          `${PLAYBACK_WAIT_MS / 1000} s after the page opened: ${state}.${hint}`,
      );
    }
  });
  await step("the overlay with the viewer code is over the picture", async () => {
    const overlay = page.locator("#overlay");
    if (!(await overlay.isVisible())) throw new Error("The overlay #overlay is not visible.");
    code = (await overlay.locator("span").innerText()).trim();
    if (!/^[A-Z2-7]{3}-[A-Z2-7]{3}$/.test(code)) throw new Error(`The overlay shows "${code}", not a viewer code.`);
    const said = await page.locator("main p.quiet").first().innerText();
    if (!said.includes(code)) throw new Error(`The overlay shows ${code} but the page says "${said}".`);
    const [o, p, c] = [await overlay.boundingBox(), await page.locator("#video").boundingBox(), await page.locator("#controls").boundingBox()];
    const inside = o && p && o.x >= p.x && o.y >= p.y && o.x + o.width <= p.x + p.width + 1 && o.y + o.height <= p.y + p.height + 1;
    if (!inside) throw new Error(`The overlay (${JSON.stringify(o)}) is not over the picture (${JSON.stringify(p)}).`);
    if (c && o.y + o.height > c.y) throw new Error(`The overlay (${JSON.stringify(o)}) covers the controls (${JSON.stringify(c)}).`);
    if (!(await page.locator("#state-card").evaluate((el) => el.classList.contains("hidden")))) {
      throw new Error("A state card covers the picture while the camera is live.");
    }
    await page.waitForFunction(() => document.getElementById("badge").textContent === "Live", null, { timeout: 5_000 })
      .catch(async () => { throw new Error(`The badge says "${await page.locator("#badge").innerText()}" over a moving picture.`); });
    await screenshot(page, "live.png");
  });
  await step("the parent goes full screen and back with the keyboard alone", async () => {
    await tabTo(page, "#fullscreen", "The full-screen button");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => {
      const box = document.getElementById("player");
      return document.fullscreenElement === box || box.classList.contains("full");
    }, null, { timeout: 5_000 });
    // The overlay stays over the picture in full screen: it is the picture's container that fills the screen.
    if (!(await page.locator("#overlay").isVisible())) throw new Error("The overlay is gone in full screen.");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => !document.fullscreenElement && !document.getElementById("player").classList.contains("full"), null, { timeout: 5_000 });
  });
  return code;
}

async function videoState(page) {
  return page.evaluate(() => {
    const el = document.getElementById("video");
    const errors = window.hlsErrors || [];
    const ranges = [];
    for (let i = 0; i < el.buffered.length; i++) ranges.push(`${el.buffered.start(i).toFixed(2)}-${el.buffered.end(i).toFixed(2)}`);
    return (
      `currentTime ${el.currentTime.toFixed(2)}, readyState ${el.readyState}, paused ${el.paused}, ` +
      `buffered [${ranges.join(", ")}], error ${el.error ? el.error.message || el.error.code : "none"}; ` +
      `hls.js errors: ${errors.length ? `${errors.length}, the last ones: ${errors.slice(-3).join("; ")}` : "none"}`
    );
  });
}

async function nursePauses(page, parentPage) {
  const nurse = { who: "nurse", username: v.NURSE_USERNAME, password: v.NURSE_PASSWORD, totpSecret: v.NURSE_TOTP_SECRET };
  await signIn(page, baseUrl, nurse, /^\/units\/\d+\/board\/$/, "the unit board after signing in");
  let pausedAt;
  await step("nurse pauses the bed's camera from its tile on the board with one press, with the keyboard alone", async () => {
    const tile = () => page.locator("li.bed-tile").filter({ has: page.locator(`a.bed[href="/beds/${v.BED_ID}/"]`) });
    if ((await tile().count()) !== 1) throw new Error(`The board has no tile for bed ${v.BED_ID}.`);
    const button = await tile().getByRole("button", { name: "Pause 20 min" }).evaluate((el) => {
      el.dataset.e2e = "pause20";
      return el.dataset.e2e;
    });
    await tabTo(page, `[data-e2e="${button}"]`, 'The "Pause 20 min" button');
    pausedAt = Date.now();
    await page.keyboard.press("Enter");
    await expectPath(page, /^\/units\/\d+\/board\/$/, "the unit board after pausing");
    await tile().getByRole("button", { name: "Resume now" }).waitFor({ timeout: 5_000 });
  });
  await step(`the parent's page says the nurse paused the camera, and why, within ${CARE_WAIT_MS / 1000} s`, async () => {
    const left = Math.max(0, pausedAt + CARE_WAIT_MS - Date.now());
    const card = parentPage.locator('#player[data-state="paused"] #state-card:not(.hidden)');
    const shown = await card
      .waitFor({ state: "visible", timeout: left })
      .then(() => true)
      .catch(() => false);
    if (!shown) throw new Error(`The paused state was not shown within ${CARE_WAIT_MS / 1000} s of the pause.`);
    const text = (await card.innerText()).trim();
    if (!/Paused by the nurse/.test(text) || !/cared for/.test(text)) throw new Error(`The paused card says "${text}".`);
    const badge = (await parentPage.locator("#badge").innerText()).trim();
    if (badge === "Live") throw new Error("The badge still says Live while the camera is paused.");
    console.log(`  paused state after ${((Date.now() - pausedAt) / 1000).toFixed(1)} s`);
    await screenshot(parentPage, "paused.png");
  });
}

async function otherFamilyIsRefused(other, parent) {
  const who = { who: "other family's parent", username: v.OTHER_USERNAME, password: v.OTHER_PASSWORD };
  await signIn(other.page, baseUrl, who, /^\/babies\/\d+\/$/, "their own baby's page");
  await step("the other family's parent gets 404 for the first family's playlist", async () => {
    const ownPath = new URL(other.page.url()).pathname;
    if (babyPath.test(ownPath)) throw new Error(`The other family's parent was sent to the first family's baby page.`);
    const res = await other.context.request.get(playlistUrl, { maxRedirects: 0 });
    if (res.status() !== 404) throw new Error(`GET ${playlistUrl} answered ${res.status()} for another family, not 404.`);
  });
  await step("the other family's parent gets 404 for a segment of the first family's playlist", async () => {
    const res = await parent.context.request.get(playlistUrl);
    if (res.status() !== 200) throw new Error(`The first family's own parent got ${res.status()} for ${playlistUrl}.`);
    const line = (await res.text()).split("\n").map((l) => l.trim()).find((l) => l && !l.startsWith("#"));
    if (!line) throw new Error("The first family's playlist lists no segment.");
    const segmentUrl = new URL(line, playlistUrl).href;
    const theirs = await other.context.request.get(segmentUrl, { maxRedirects: 0 });
    if (theirs.status() !== 404) throw new Error(`GET ${segmentUrl} answered ${theirs.status()} for another family, not 404.`);
    // The same address works for the session it was made for, so the 404 above is the refusal, not a dead link.
    const own = await parent.context.request.get(segmentUrl);
    if (own.status() !== 200) throw new Error(`The segment ${segmentUrl} answered ${own.status()} for its own session.`);
  });
}

runFlow("Live viewing", v, async ({ open }) => {
  const parent = await open("parent");
  const code = await parentWatches(parent.page);
  console.log(`viewer code: ${code}`);
  // Separate contexts: other browser profiles, with no cookies shared with the parent's.
  const nurse = await open("nurse");
  await nursePauses(nurse.page, parent.page);
  const other = await open("other");
  await otherFamilyIsRefused(other, parent);
});
