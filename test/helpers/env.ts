// Tests that need root, QEMU or a built image: they run for real where they can, say why they skip
// where they cannot, and fail instead of skipping in CI, where everything they need is installed.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { missingTools } from '../../src/builder/hosttools.ts';

export const REPO = resolve(import.meta.dirname, '../..');
/** the built images the VM tests boot: images/, or PICOWIRE_IMAGES (a build's outDir) */
export const IMAGES = process.env.PICOWIRE_IMAGES ?? join(REPO, 'images');
const inCI = process.env.CI === 'true' || process.env.CI === '1';

type Need = 'root' | 'qemu' | 'image' | 'browser' | 'browsers';

/** Why these needs cannot be met here, or undefined when they can. */
export function unmet(needs: Need[]): string | undefined {
  const why: string[] = [];
  if (needs.includes('root') && process.getuid?.() !== 0) why.push('needs root (tap devices and network namespaces)');
  if (needs.includes('qemu')) {
    const missing = missingTools(['test']);
    if (missing.length) why.push(`needs ${missing.map((t) => t.pkg).join(', ')} (run \`make host-tools\`)`);
  }
  if (needs.includes('image') && !existsSync(join(IMAGES, 'default.iso'))) why.push('needs images/default.iso (run `make`)');
  // the web page's tests drive Debian's chromium (a test host tool) with playwright-core
  if (needs.includes('browser') && missingTools(['test']).some((t) => t.pkg === 'chromium')) why.push('needs chromium (run `make host-tools`)');
  // the cross-browser test: Firefox ESR, WebKitGTK's driver and browser, and Xvfb for WebKitGTK's window
  const others = ['firefox-esr', 'webkit2gtk-driver', 'libwebkit2gtk-4.1-0', 'xvfb'];
  const lacking = needs.includes('browsers') ? [...new Set(missingTools(['test']).filter((t) => others.includes(t.pkg)).map((t) => t.pkg))] : [];
  if (lacking.length) why.push(`needs ${lacking.join(', ')} (run \`make host-tools\`)`);
  return why.length ? why.join('; ') : undefined;
}

type Impl = (t: ExecutionContext) => void | Promise<void>;

/** A serial test that runs when its needs are met; otherwise it is skipped saying why (and fails in CI). */
export function testNeeding(needs: Need[], title: string, impl: Impl): void {
  const why = unmet(needs);
  if (!why) test.serial(title, impl);
  else if (inCI) test.serial(title, (t) => t.fail(`cannot run in CI: ${why}`));
  else {
    console.log(`skipping "${title}": ${why}`);
    test.serial.skip(title, impl);
  }
}
