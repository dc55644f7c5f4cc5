// The web page in headless chromium against the API on the host, with a stand-in box whose
// counters grow at the bw of the profile in force: login, the charts' numbers, the editor's checks,
// a refusal shown in place, a preset, a profile applied by another client, and no console errors,
// at laptop and phone sizes. The same page against the real image under traffic: test/vm/web.test.ts.
import { wan } from '../helpers/fake-box.ts';
import { servePage, TOKEN } from '../helpers/page-server.ts';
import { logIn, pageRate, withBrowser } from '../helpers/browser.ts';
import { testNeeding } from '../helpers/env.ts';

testNeeding(['browser'], 'the page logs in, shows the rate the pipe allows, flags a bad profile at its field, shows a refusal in place, and applies a preset', async (t) => {
  const { url, close } = await servePage();
  try {
    await withBrowser({ width: 1280, height: 900 }, async (page, problems) => {
      await page.goto(url);
      t.true(await page.isVisible('#login-form'), 'the login form comes first');
      t.false(await page.isVisible('#app'));
      // a wrong token is refused by the box and the form says so
      await page.fill('#token', 'not-the-token-at-all');
      await page.click('#login-form button[type=submit]');
      await page.waitForFunction(() => (document.getElementById('login-error')?.textContent ?? '') !== '');
      t.regex((await page.textContent('#login-error'))!, /token/);
      t.true(await page.isVisible('#login-form'));

      await logIn(page, url, TOKEN);
      t.is(await page.getAttribute('#in-force', 'data-profile'), 'wan');
      t.false(page.url().includes(TOKEN), 'no token in the URL');
      await page.waitForTimeout(3500);
      const rate = await pageRate(page, 'b/up#0');
      t.log(`page shows ${rate} bit/s for a 1 Mbit/s pipe`);
      t.true(Math.abs(rate - 1e6) < 0.1e6, `page shows ${rate} bit/s, not 1 Mbit/s ± 10 %`);

      // a bad bandwidth is flagged at its line before anything is sent
      const text = JSON.stringify({ name: 'bad', pipes: { up: { bw: 'fast', delay: '10ms' } }, rules: [{ from: 'a', pipe: 'up' }] }, null, 2);
      await page.fill('#editor', text);
      const flagged = page.locator('#editor-errors li[data-field="profile.pipes.up.bw"]');
      await flagged.waitFor();
      t.is(await flagged.getAttribute('data-line'), '5');
      t.regex((await flagged.textContent())!, /not a bandwidth.*Mbit\/s/);
      t.true(await page.isDisabled('#apply'), 'Apply is off while the profile is wrong');

      // one the box refuses: its errors in place, the old profile still in force
      await page.fill('#editor', JSON.stringify({ name: 'kernel-refuses', pipes: { up: { bw: '2Mbit/s' } }, rules: [{ from: 'a', pipe: 'up' }] }, null, 2));
      await page.click('#apply');
      await page.waitForSelector('#outcome.refused');
      t.regex((await page.textContent('#outcome'))!, /refused \(500\): wan stays in force/);
      t.regex((await page.textContent('#box-errors'))!, /No buffer space/);
      t.is(await page.getAttribute('#in-force', 'data-profile'), 'wan');

      // a preset in one click: the rate follows (LTE: 12 Mbit/s up)
      await page.click('button[data-preset="LTE"]');
      await page.waitForSelector('#in-force[data-profile="lte"]');
      await page.waitForTimeout(11_000); // the figure is a 10 s mean: past the 1 Mbit/s seconds before the preset
      const lte = await pageRate(page, 'b/up#0');
      t.log(`page shows ${lte} bit/s for the LTE preset's 12 Mbit/s`);
      t.true(Math.abs(lte - 12e6) < 1.2e6, `page shows ${lte} bit/s, not 12 Mbit/s ± 10 %`);

      // a profile applied elsewhere (here: the API from another client) reaches the page by the event stream
      const put = await fetch(`${url}api/v1/profile`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(wan) });
      t.is(put.status, 200);
      await page.waitForSelector('#in-force[data-profile="wan"]', { timeout: 10_000 });
      t.deepEqual(problems, []);
    });
  } finally {
    await close();
  }
});

testNeeding(['browser'], 'the page fits a phone-sized window (no sideways scrolling, charts inside their cards) and works from the keyboard', async (t) => {
  const { url, close } = await servePage();
  try {
    await withBrowser({ width: 390, height: 844 }, async (page, problems) => {
      // the keyboard alone: Tab to the token, Enter logs in
      await page.goto(url);
      await page.keyboard.press('Tab');
      t.is(await page.evaluate(() => document.activeElement?.id), 'token');
      await page.keyboard.type(TOKEN);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#connection.live');
      await pageRate(page, 'b/up#0');
      // the ipfw console from the keyboard: list prints the profile in force as ipfw commands, show the rules' counters as FreeBSD does
      await page.focus('#ipfw-command');
      await page.keyboard.type('list');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#ipfw-log pre.ok');
      t.regex((await page.textContent('#ipfw-log'))!, /> ipfw list\n[^]*pipe \d+ config bw 1Mbit\/s/);
      await page.keyboard.type('show');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#ipfw-log pre.ok:nth-of-type(2)');
      t.regex((await page.textContent('#ipfw-log pre.ok:nth-of-type(2)'))!, /^> show\n00100 +12 +1200 pipe \d+ /m);
      const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, view: window.innerWidth, canvas: Math.max(...[...document.querySelectorAll('canvas')].map((c) => c.getBoundingClientRect().right)) }));
      t.true(widths.doc <= widths.view, `page is ${widths.doc} px wide in a ${widths.view} px window`);
      t.true(widths.canvas <= widths.view, `a chart ends at ${widths.canvas} px in a ${widths.view} px window`);
      t.deepEqual(problems, []);
    });
  } finally {
    await close();
  }
});

testNeeding(['browser'], "the box's notes (what it wants the user to know now) show over the charts", async (t) => {
  const note = 'profile_url http://198.19.0.100/p.json: cannot fetch it (ECONNREFUSED); the profile in force stays';
  const { url, close } = await servePage([note]);
  try {
    await withBrowser({ width: 1280, height: 900 }, async (page, problems) => {
      await logIn(page, url, TOKEN);
      await page.waitForSelector('#notes li');
      t.is(await page.textContent('#notes li'), note);
      t.true(await page.isVisible('#notes'));
      t.deepEqual(problems, []);
    });
  } finally {
    await close();
  }
  const quiet = await servePage();
  try {
    await withBrowser({ width: 1280, height: 900 }, async (page) => {
      await logIn(page, quiet.url, TOKEN);
      await pageRate(page, 'b/up#0');
      t.false(await page.isVisible('#notes'), 'no notes, no box');
    });
  } finally {
    await quiet.close();
  }
});
