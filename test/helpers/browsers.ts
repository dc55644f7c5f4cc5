// The browsers people have besides Chromium, for the web page's cross-browser test: Debian's Firefox
// ESR driven by puppeteer-core over WebDriver BiDi, and WebKitGTK (Safari's engine: its MiniBrowser
// under WebKitWebDriver, in an Xvfb display of its own) driven by selenium-webdriver. Both headless
// in effect, in fresh profiles, and off the network: the page only talks to the loopback server.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import puppeteer from 'puppeteer-core';
import { Builder, Key, type WebDriver } from 'selenium-webdriver';

export const FIREFOX = '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER = '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

/** What the test does to a page, the same in every browser. Predicates are JavaScript expressions run in the page. */
export interface PageDriver {
  /** the browser and its version, for the test's log */
  version: string;
  goto(url: string): Promise<void>;
  /** presses Tab, then types `text` into whatever has the focus, then Enter when `enter` */
  tabAndType(text: string, enter: boolean): Promise<void>;
  /** clicks an element and types into it (a textarea's old text is selected and replaced first) */
  replaceText(selector: string, text: string): Promise<void>;
  click(selector: string): Promise<void>;
  evaluate<T>(expression: string): Promise<T>;
  waitFor(predicate: string, timeoutMs?: number): Promise<void>;
  resize(width: number, height: number): Promise<void>;
  /** errors the page logged or threw so far */
  problems(): Promise<string[]>;
}

// errors the page throws or logs, kept in the page for browsers whose driver cannot listen to them
const CATCH_ERRORS = `window.__problems = window.__problems || [];
  addEventListener('error', (e) => __problems.push('page error: ' + e.message));
  addEventListener('unhandledrejection', (e) => __problems.push('unhandled: ' + e.reason));
  const logError = console.error.bind(console);
  console.error = (...a) => (__problems.push('console: ' + a.join(' ')), logError(...a));`;

/** Firefox ESR, over BiDi; console errors and thrown errors are heard from the first byte. */
export async function withFirefox<T>(size: { width: number; height: number }, fn: (page: PageDriver) => Promise<T>): Promise<T> {
  const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true, defaultViewport: size });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
    page.on('response', (r) => r.status() === 404 && problems.push(`not found: ${r.url()}`));
    return await fn({
      version: await browser.version(),
      goto: async (url) => void (await page.goto(url)),
      async tabAndType(text, enter) {
        await page.keyboard.press('Tab');
        await page.keyboard.type(text);
        if (enter) await page.keyboard.press('Enter');
      },
      async replaceText(selector, text) {
        await page.click(selector);
        await page.keyboard.down('Control');
        await page.keyboard.press('a');
        await page.keyboard.up('Control');
        await page.keyboard.type(text);
      },
      click: (selector) => page.click(selector),
      evaluate: async <T>(expression: string) => (await page.evaluate(expression)) as T,
      waitFor: async (predicate, timeoutMs = 30_000) => void (await page.waitForFunction(predicate, { timeout: timeoutMs, polling: 100 })),
      resize: (width, height) => page.setViewport({ width, height }),
      problems: async () => [...problems],
    });
  } finally {
    await browser.close();
  }
}

/** A free TCP port on loopback. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** Starts a process and kills it when `fn` is done. */
async function running<T>(child: ChildProcess, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    child.kill();
  }
}

/** An Xvfb display of its own (Xvfb picks the number and writes it to fd 3). */
async function withDisplay<T>(size: { width: number; height: number }, fn: (display: string) => Promise<T>): Promise<T> {
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', `${Math.max(size.width, 1280)}x${Math.max(size.height, 1024)}x24`], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const [chunk] = (await once(xvfb.stdio[3]!, 'data')) as [Buffer];
  return running(xvfb, () => fn(`:${chunk.toString().trim()}`));
}

/** WebKitGTK's MiniBrowser through WebKitWebDriver. WebDriver classic cannot listen to the console, so
 *  the page's errors are caught by handlers installed after each load: an error before the page's
 *  own script finishes loading shows as the test's next step failing, not in `problems`. */
export async function withWebKit<T>(size: { width: number; height: number }, fn: (page: PageDriver) => Promise<T>): Promise<T> {
  return withDisplay(size, async (display) => {
    const port = await freePort();
    // a desktop's locale: under LANG=C, WebKitGTK gives the page navigator.language "C", which
    // Intl (and so uPlot, at load) refuses as a language tag; no browser a user runs says "C"
    const env = { ...process.env, DISPLAY: display, LANG: 'en_US.UTF-8', LANGUAGE: 'en_US' };
    const server = spawn(WEBKIT_DRIVER, [`--port=${port}`, '--host=127.0.0.1'], { stdio: 'ignore', env });
    return running(server, async () => {
      const driver: WebDriver = await untilUp(() =>
        new Builder()
          .usingServer(`http://127.0.0.1:${port}`)
          .withCapabilities({ browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } })
          .build(),
      );
      try {
        await driver.manage().window().setRect(size);
        const caps = await driver.getCapabilities();
        const $ = (selector: string) => driver.findElement({ css: selector });
        return await fn({
          version: `${String(caps.get('browserName'))}/${String(caps.get('browserVersion'))} (WebKitGTK)`,
          async goto(url) {
            await driver.get(url);
            await driver.executeScript(CATCH_ERRORS);
          },
          async tabAndType(text, enter) {
            await driver.actions().sendKeys(Key.TAB).perform();
            await driver.actions().sendKeys(text, ...(enter ? [Key.ENTER] : [])).perform();
          },
          async replaceText(selector, text) {
            const el = await $(selector);
            await el.clear();
            await el.sendKeys(text.replaceAll('\n', Key.ENTER)); // WebKitWebDriver types no "\n": a user presses Enter
          },
          click: async (selector) => (await $(selector)).click(),
          evaluate: (expression) => driver.executeScript(`return (${expression})`),
          waitFor: async (predicate, timeoutMs = 30_000) => void (await driver.wait(() => driver.executeScript(`return Boolean(${predicate})`), timeoutMs, `waiting for ${predicate}`)),
          resize: async (width, height) => void (await driver.manage().window().setRect({ width, height })),
          problems: () => driver.executeScript('return window.__problems || []'),
        });
      } finally {
        await driver.quit();
      }
    });
  });
}

/** Retries a connection to a WebDriver server that is still starting (about 5 s at most). */
async function untilUp<T>(connect: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await connect();
    } catch (e) {
      if (attempt >= 50 || !/ECONNREFUSED/.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
