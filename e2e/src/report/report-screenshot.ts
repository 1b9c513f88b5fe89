/**
 * results/report.png: the rendered report as a picture, for people who read results where no browser
 * opens HTML (a CI artifact, an issue). Chromium is the machine's own (Debian's `chromium`, or Chrome on a
 * CI runner) driven by playwright-core; without one the screenshot is skipped with the reason.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

/** Headless flags that keep Chromium off the network (this machine refuses its background connections). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/google-chrome', '/usr/bin/chromium-browser'];

/** `CHROMIUM` from the environment, else the first browser installed where Debian or a CI runner puts it. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return [env.CHROMIUM, ...CANDIDATES].find((candidate) => candidate && existsSync(candidate));
}

export type ScreenshotOutcome = { ok: true; bytes: number } | { ok: false; reason: string };

export interface ScreenshotOptions {
  /** The browser; default findChromium(). `null`: none (the screenshot is skipped). */
  readonly executablePath?: string | null;
  /** How long to wait for every chart to render (default 30 s). */
  readonly timeoutMs?: number;
}

/** Opens `htmlFile`, waits until each of its `charts` has rendered, and writes a full-page PNG. */
export async function screenshotReport(
  htmlFile: string,
  pngFile: string,
  charts: number,
  options: ScreenshotOptions = {},
): Promise<ScreenshotOutcome> {
  const executablePath = options.executablePath === undefined ? findChromium() : options.executablePath;
  if (!executablePath) {
    return { ok: false, reason: `no Chromium at ${CANDIDATES.join(', ')} or $CHROMIUM (scripts/tools.sh browser)` };
  }
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(pathToFileURL(htmlFile).href);
    await page.waitForFunction(
      (n) => (globalThis as unknown as { __chartsRendered?: number }).__chartsRendered === n,
      charts,
      { timeout: options.timeoutMs ?? 30_000 },
    );
    const png = await page.screenshot({ fullPage: true, path: pngFile });
    return { ok: true, bytes: png.length };
  } catch (error) {
    return { ok: false, reason: (error as Error).message.split('\n')[0] ?? String(error) };
  } finally {
    await browser.close();
  }
}
