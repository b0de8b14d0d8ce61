import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/*
 * The real Chromium of the machine (Debian's `chromium` package, installed by scripts/test.sh
 * when missing), driven by playwright-core. Nothing downloads a browser.
 */

export const chromiumPath = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's package (apt-get install -y chromium; scripts/test.sh does) or set VIGIL_CHROMIUM`);
  }
  // --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}
