import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import type { Test } from 'tap'
import { ROOT } from '../harness/system.ts'

/** Debian's chromium (apt-get install chromium); CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/** Flags for a quiet, headless, loopback-only run inside a container. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
]

/** Where test runs write screenshots: SCREENSHOT_DIR, or .tap/screenshots (git-ignored). */
export const SCREENSHOT_DIR = join(ROOT, process.env.SCREENSHOT_DIR || '.tap/screenshots')

/**
 * Launches headless Chromium for the test (each context it makes is a fresh profile) and closes it at teardown.
 * Fails with a clear message, never skips, when Chromium is not installed.
 */
export async function launchBrowser(t: Test): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (as root: apt-get update && apt-get install -y chromium) or set CHROMIUM_PATH`)
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 })
  t.teardown(() => browser.close())
  return browser
}

/** The path of screenshot `name`, creating the directory. */
export async function screenshotPath(name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true })
  return join(SCREENSHOT_DIR, name)
}
