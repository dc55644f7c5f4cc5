// The web page in the browsers people have besides Chromium: Firefox and WebKit (Safari's engine,
// as WebKitGTK). The same journey in each, against the page and API served on loopback in front of
// a counting stand-in box (test/helpers/page-server.ts): log in from the keyboard, see the rate the
// pipe allows, a bad profile flagged at its field with Apply off, a preset applied, the ipfw console,
// a phone-width window without sideways scrolling, and no errors. Chromium: test/web/page.test.ts.
import type { ExecutionContext } from 'ava';
import { type PageDriver, withFirefox, withWebKit } from '../helpers/browsers.ts';
import { testNeeding } from '../helpers/env.ts';
import { servePage, TOKEN } from '../helpers/page-server.ts';

const LAPTOP = { width: 1280, height: 900 };
const rateOf = (key: string) => `Number(document.querySelector('.card[data-key="${key}"]')?.dataset.rateBps || NaN)`;
const text = (selector: string) => `document.querySelector('${selector}')?.textContent ?? ''`;

async function journey(t: ExecutionContext, page: PageDriver, url: string): Promise<void> {
  t.log(page.version);
  await page.goto(url);
  t.true(await page.evaluate<boolean>(`!document.getElementById('login').hidden && document.getElementById('app').hidden`), 'the login form comes first');

  // the keyboard alone: Tab reaches the token field, Enter logs in
  await page.tabAndType(TOKEN, true);
  await page.waitFor(`document.getElementById('connection').classList.contains('live')`);
  t.is(await page.evaluate<string>(`document.getElementById('in-force').dataset.profile`), 'wan');
  t.false((await page.evaluate<string>('location.href')).includes(TOKEN), 'no token in the URL');

  // the rate the 1 Mbit/s pipe allows, from the live stream
  await page.waitFor(`${rateOf('b/up#0')} > 0`);
  await new Promise((r) => setTimeout(r, 3500));
  const rate = await page.evaluate<number>(rateOf('b/up#0'));
  t.true(Math.abs(rate - 1e6) < 0.1e6, `page shows ${rate} bit/s, not 1 Mbit/s ± 10 %`);

  // a bad bandwidth is flagged at its line before anything is sent, and Apply is off
  await page.replaceText('#editor', JSON.stringify({ name: 'bad', pipes: { up: { bw: 'fast', delay: '10ms' } }, rules: [{ from: 'a', pipe: 'up' }] }, null, 2));
  const flagged = `#editor-errors li[data-field="profile.pipes.up.bw"]`;
  await page.waitFor(`document.querySelector('${flagged}')`);
  t.is(await page.evaluate<string>(`document.querySelector('${flagged}').dataset.line`), '5');
  t.regex(await page.evaluate<string>(text(flagged)), /not a bandwidth.*Mbit\/s/);
  t.true(await page.evaluate<boolean>(`document.getElementById('apply').disabled`));

  // a preset in one click
  await page.click('button[data-preset="LTE"]');
  await page.waitFor(`document.getElementById('in-force').dataset.profile === 'lte'`);

  // the ipfw console: list prints the profile in force as ipfw commands, pipe show dummynet's listing
  await page.replaceText('#ipfw-command', 'list');
  await page.click('#ipfw-form button[type=submit]');
  await page.waitFor(`document.querySelector('#ipfw-log pre.ok')`);
  t.regex(await page.evaluate<string>(text('#ipfw-log')), /> ipfw list\n[^]*pipe \d+ config bw 12Mbit\/s/);
  await page.replaceText('#ipfw-command', 'pipe show');
  await page.click('#ipfw-form button[type=submit]');
  await page.waitFor(`document.querySelectorAll('#ipfw-log pre.ok').length === 2`);
  t.regex(await page.evaluate<string>(`document.querySelectorAll('#ipfw-log pre.ok')[1].textContent`), /^> pipe show\n\d{5}: +12\.000 Mbit\/s/m);

  // a phone's width: nothing scrolls sideways, the charts stay inside the window (MiniBrowser's
  // toolbar keeps its window 447 px wide at least: narrower than any laptop, wider than a phone)
  await page.resize(390, 844);
  await page.waitFor(`window.innerWidth < 450`);
  await new Promise((r) => setTimeout(r, 500));
  const widths = await page.evaluate<{ doc: number; view: number; canvas: number }>(
    `({ doc: document.documentElement.scrollWidth, view: window.innerWidth, canvas: Math.max(...[...document.querySelectorAll('canvas')].map((c) => c.getBoundingClientRect().right)) })`,
  );
  t.log(`at ${widths.view} px wide`);
  t.true(widths.doc <= widths.view, `page is ${widths.doc} px wide in a ${widths.view} px window`);
  t.true(widths.canvas <= widths.view, `a chart ends at ${widths.canvas} px in a ${widths.view} px window`);
  t.deepEqual(await page.problems(), []);
}

for (const [name, withBrowser] of [['Firefox', withFirefox], ['WebKit (Safari\'s engine)', withWebKit]] as const) {
  testNeeding(['browsers'], `the page works in ${name}: keyboard login, live rate, editor checks, a preset, the ipfw console, a phone's width, no errors`, async (t) => {
    const { url, close } = await servePage();
    try {
      await withBrowser(LAPTOP, (page) => journey(t, page, url));
    } finally {
      await close();
    }
  });
}
