// Small helpers for the scenario: waiting for a condition, checks that say what they expected,
// steps with timings, screenshots, and signing in on the node's own login page.

import { ACTION_TIMEOUT_MS, NAVIGATION_TIMEOUT_MS } from './config.mjs'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The first truthy value of `check()`, polled until `timeout`; its last error says why not. */
export async function until(what, check, timeout = ACTION_TIMEOUT_MS) {
  const deadline = Date.now() + timeout
  let last = null
  for (;;) {
    try {
      const value = await check()
      if (value) return value
      last = null
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeout} ms waiting for ${what}${last ? ` (${last.message})` : ''}`,
      )
    }
    await sleep(100)
  }
}

/**
 * Reloads `page` until `check()` (run once the page has loaded again) is truthy: for what another
 * node sends, which a page shows only when it loads.
 */
export async function reloadUntil(page, what, check, timeout, every = 1_000) {
  let first = true
  return until(
    what,
    async () => {
      if (!first) {
        await sleep(every)
        await page.reload()
      }
      first = false
      return check()
    },
    timeout,
  )
}

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`)
}

/** Waits until the locator's visible text matches `pattern`, and returns that text. */
export async function expectText(locator, pattern, what = String(locator)) {
  let text = ''
  try {
    return await until(`${what} to read ${pattern}`, async () => {
      text = (await locator.innerText({ timeout: 1_000 })).trim()
      return pattern.test(text) ? text : null
    })
  } catch (e) {
    throw new Error(`${e.message}; it reads: ${JSON.stringify(text)}`)
  }
}

/** Waits until the locator matches exactly `n` elements. */
export async function expectCount(locator, n, what = String(locator)) {
  let count = -1
  try {
    await until(`${n} × ${what}`, async () => (count = await locator.count()) === n)
  } catch (e) {
    throw new Error(`${e.message}; found ${count}`)
  }
}

/** Every image under `scope` has loaded (complete, with pixels); returns how many. */
export async function imagesLoaded(page, selector, what) {
  return until(`${what}: images loaded`, () =>
    page.evaluate((sel) => {
      const images = [...document.querySelectorAll(sel)]
      return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0)
        ? images.length
        : 0
    }, selector),
  )
}

/** The page's width fits its viewport: nothing makes a phone scroll sideways. */
export async function expectNoSidewaysScroll(page, what) {
  const { scroll, viewport } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
  }))
  check(scroll <= viewport, `${what} is ${scroll}px wide in a ${viewport}px viewport`)
}

export function log(line) {
  process.stdout.write(`${line}\n`)
}

const started = performance.now()
export const elapsed = () => Math.round(performance.now() - started)

/** Runs one named step of the scenario, printing how long it took. */
export async function step(name, body) {
  const t0 = performance.now()
  log(`▶ ${name}`)
  await body()
  log(`✓ ${name} (${Math.round(performance.now() - t0)} ms)`)
}

/** Saves `name.png` in `dir`, the whole page; remembers the file for the summary. */
export function screenshotter(dir) {
  const taken = []
  const shoot = async (page, name) => {
    const path = `${dir}/${name}.png`
    // The page from its top (a sticky header would otherwise sit mid-picture), with no focus
    // ring, once layout has settled.
    await page.evaluate(() => {
      document.activeElement?.blur?.()
      window.scrollTo(0, 0)
      return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))
    })
    await page.screenshot({ path, fullPage: true, animations: 'disabled' })
    taken.push(path)
  }
  shoot.taken = taken
  return shoot
}

/** A main-navigation link of the app's header, by its visible name. */
export const navLink = (page, name) =>
  page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true })

/**
 * On the node's own login page (`/oauth/authorize`, which the app sends the browser to): types
 * the login and password and authorizes. Returns the response to the form's submission.
 */
export async function authorizeOnNode(page, login, password) {
  await page.waitForURL(/\/oauth\/authorize\?/, { timeout: NAVIGATION_TIMEOUT_MS })
  await page.getByLabel('Email or username').fill(login)
  await page.getByLabel('Password', { exact: true }).fill(password)
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.url().endsWith('/oauth/authorize') && r.request().method() === 'POST',
      { timeout: NAVIGATION_TIMEOUT_MS },
    ),
    page.getByRole('button', { name: 'Authorize' }).click(),
  ])
  return response
}

/**
 * Signs in through the UI from the page it is on: the header's "Sign in", the app's sign-in
 * page, the node's login page, back to the app on `landing`.
 */
export async function signInThroughUi(page, login, password, landing) {
  await navLink(page, 'Sign in').click()
  await page.getByRole('button', { name: 'Continue to the login page' }).click()
  const response = await authorizeOnNode(page, login, password)
  check(
    response.status() === 303 || response.status() === 302,
    `login answered ${response.status()}`,
  )
  await page.waitForURL(landing, { timeout: NAVIGATION_TIMEOUT_MS })
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
}
