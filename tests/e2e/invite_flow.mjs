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
//   STATE_TITLE         what the baby's page must say about the picture (default "The camera is not sending a
//                       picture": the test runs no pipeline, and the page never says "live" without one)
//   PARENT_NAME, PARENT_USERNAME, PARENT_PASSWORD   the account the parent creates
//   ARTIFACTS           where screenshots go (default artifacts/e2e in the repository)
//   CHROMIUM            the browser (default /usr/bin/chromium)
// Exits 0 when every step passed, 1 with the failed step's name and reason otherwise.

import { expectPath, freshTotp, formWith, readSettings, runFlow, screenshot, signIn, step } from "./browser.mjs";

function settings() {
  const v = readSettings(["NURSE_USERNAME", "NURSE_PASSWORD", "NURSE_TOTP_SECRET", "BED_ID"]);
  return {
    baseUrl: v.BASE_URL,
    nurse: { who: "nurse", username: v.NURSE_USERNAME, password: v.NURSE_PASSWORD, totpSecret: v.NURSE_TOTP_SECRET },
    bedId: v.BED_ID,
    stateTitle: v.STATE_TITLE || "The camera is not sending a picture",
    parent: {
      name: v.PARENT_NAME || "Mum",
      username: v.PARENT_USERNAME || "mum_e2e",
      password: v.PARENT_PASSWORD || "a long walk by the river at dawn",
    },
    raw: v,
  };
}

// --- The flow ----------------------------------------------------------------------------------------------------

async function nurseIssuesSlip(page, cfg) {
  const { baseUrl, nurse, bedId } = cfg;
  await signIn(page, baseUrl, nurse, /^\/units\/\d+\/board\/$/, "the unit board after signing in");
  let bedLabel;
  await step("nurse opens the free bed from the board", async () => {
    // A free bed is a compact link in the board's line of free beds, not a tile.
    const link = page.locator(`.free-beds a.free-bed[href="/beds/${bedId}/"]`);
    if ((await link.count()) !== 1) throw new Error(`The board lists no free bed ${bedId}.`);
    bedLabel = (await link.innerText()).trim();
    await screenshot(page, "board.png");
    await link.click();
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
    await screenshot(page, "slip.png");
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
    await screenshot(page, "totp.png");
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
      await screenshot(page, "recovery-codes.png");
    }
  });
  await step("parent opens the baby's page", async () => {
    await page.goto(`${baseUrl}/`);
    await expectPath(page, /^\/babies\/\d+\/$/, "the baby's page (home sends a parent of one baby there)");
    await page.getByRole("heading", { name: `Baby at bed ${bedLabel}` }).waitFor();
    const state = (await page.locator("#state-title").innerText()).trim();
    if (state !== cfg.stateTitle) throw new Error(`The page says "${state}" about the picture, not "${cfg.stateTitle}".`);
    const badge = (await page.locator("#badge").innerText()).trim();
    if (badge === "Live") throw new Error("The badge says Live with no picture.");
    await screenshot(page, "baby.png");
  });
}

const cfg = settings();
runFlow("Invitation flow", cfg.raw, async ({ open }) => {
  const nurse = await open("nurse");
  const { code, bedLabel } = await nurseIssuesSlip(nurse.page, cfg);
  // A separate context: another browser profile, with no cookies shared with the nurse's.
  const parent = await open("parent");
  await parentJoins(parent.page, cfg, code, bedLabel);
});
