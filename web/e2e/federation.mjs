// Federation as a person sees it in the web UI, across two nodes, in a real headless Chromium:
//
//   node web/e2e/federation.mjs <node A url> <node B url> <screenshot dir>
//
// with, in the environment (tests/it/web_e2e.rs sets them up and runs this):
//   PEERPX_E2E_ANA_TOKEN       a token of `ana` on A (read write)
//   PEERPX_E2E_ANA_MEDIA       a photo ana uploaded on A but has not posted yet
//   PEERPX_E2E_ANA_MEDIA_ALT   its description
//   PEERPX_E2E_HASHTAG         the hashtag of ana's posts (without `#`)
//   PEERPX_E2E_BEN_LOGIN / PEERPX_E2E_BEN_PASSWORD   `ben`'s login on B
//
// A visitor on ana's profile on A types their address on B in the remote-follow form, goes to
// B's remote-interaction page, signs in there as ben and follows ana. Ana then posts a photo
// (through A's API); it shows in ben's Home on B with its image loaded from A, ben opens and likes
// it and A counts the like. Searching on B finds ana by her address, and her hashtag.
// Screenshots go to the directory as `federation-*.png`; each step prints its time.

import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { chromium } from 'playwright-core'
import {
  ACTION_TIMEOUT_MS,
  CHROMIUM,
  DELIVERY_TIMEOUT_MS,
  DESKTOP,
  FEDERATION_LIMIT_MS,
  NAVIGATION_TIMEOUT_MS,
} from './config.mjs'
import {
  authorizeOnNode,
  check,
  elapsed,
  expectText,
  imagesLoaded,
  log,
  navLink,
  reloadUntil,
  screenshotter,
  step,
  until,
} from './helpers.mjs'

const [baseA, baseB, shotDir = resolve(import.meta.dirname, '../../target/e2e-screenshots')] =
  process.argv.slice(2)
const env = (name) => {
  const value = process.env[name]
  if (!value) {
    console.error(`${name} is not set (see the top of web/e2e/federation.mjs)`)
    process.exit(2)
  }
  return value
}
if (!baseA || !baseB) {
  console.error('usage: node web/e2e/federation.mjs <node A url> <node B url> [<screenshot dir>]')
  process.exit(2)
}
const ANA = {
  token: env('PEERPX_E2E_ANA_TOKEN'),
  media: env('PEERPX_E2E_ANA_MEDIA'),
  alt: env('PEERPX_E2E_ANA_MEDIA_ALT'),
  hashtag: env('PEERPX_E2E_HASHTAG'),
}
const BEN = { login: env('PEERPX_E2E_BEN_LOGIN'), password: env('PEERPX_E2E_BEN_PASSWORD') }
/** `127.0.0.1:<port>`: each node's domain, as handles carry it. */
const hostA = new URL(baseA).host
const hostB = new URL(baseB).host
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

mkdirSync(shotDir, { recursive: true })
for (const f of readdirSync(shotDir)) {
  if (/^federation-failure-.*\.png$/.test(f)) rmSync(`${shotDir}/${f}`)
}

const watchdog = setTimeout(() => {
  console.error(`the federation scenario ran over ${FEDERATION_LIMIT_MS} ms: stopped`)
  process.exit(3)
}, FEDERATION_LIMIT_MS)
watchdog.unref()

const shoot = screenshotter(shotDir)
const pageErrors = []
const pages = new Map()
const timings = {}

/** Node A's API, as ana (the scenario's stand-in for ana's own app). */
async function anaApi(method, path, body) {
  const response = await fetch(`${baseA}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${ANA.token}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await response.text()
  check(response.ok, `${method} ${path} on A answered ${response.status}: ${text}`)
  return JSON.parse(text)
}

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true })

/** A browser profile of its own: this one goes from node A to node B, as a person would. */
async function person(name) {
  const context = await browser.newContext({
    ...DESKTOP,
    locale: 'en-US',
    colorScheme: 'light',
    reducedMotion: 'reduce',
  })
  context.setDefaultTimeout(ACTION_TIMEOUT_MS)
  context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS)
  const page = await context.newPage()
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') log(`  [${name} console] ${m.text()}`)
  })
  pages.set(name, page)
  return page
}

/** The search page's entry for ana, once the search has answered. */
const anaResult = (page) => page.getByTestId('search-account').filter({ hasText: `@ana@${hostA}` })

/** Ana's follow button state on B's search page: 'Unfollow' once ben follows her. */
async function followLabel(page) {
  await anaResult(page).getByRole('button').waitFor({ timeout: 5_000 })
  return (await anaResult(page).getByRole('button').innerText()).trim()
}

let ben
let failed = null
const ids = {}

try {
  await step('1. a visitor on ana’s profile on A follows her from B (remote follow)', async () => {
    const ana = await (await fetch(`${baseA}/api/v1/accounts/lookup?acct=ana`)).json()
    check(ana.uri, `ana's account on A has an ActivityPub id: ${JSON.stringify(ana)}`)
    ben = await person('ben')
    await ben.goto(`${baseA}/@ana`)
    const form = ben.getByRole('region', { name: 'Follow from your own node' })
    await form.getByLabel('Your address').fill(`@${BEN.login}@${hostB}`)
    await form.getByRole('button', { name: 'Continue', exact: true }).click()
    const next = form.getByTestId('remote-follow-next')
    await expectText(next, new RegExp(`You will go to ${escape(hostB)}`), 'remote follow')
    const target = `${baseB}/authorize_interaction?uri=${encodeURIComponent(ana.uri)}`
    await expectText(next, new RegExp(escape(target)), 'remote follow target')
    await shoot(ben, 'federation-a-remote-follow')
    await form.getByRole('button', { name: `Go to ${hostB}`, exact: true }).click()
    // B's remote-interaction page sends the visitor on to its search for ana's actor.
    await ben.waitForURL((url) => url.origin === baseB && url.pathname === '/search')
    check(
      new URL(ben.url()).searchParams.get('q') === ana.uri,
      `B searches ana's actor ${ana.uri}, at ${ben.url()}`,
    )
    ids.searchPath = new URL(ben.url()).pathname + new URL(ben.url()).search

    // Not signed in on B: the page offers to sign in to look her up.
    const signIn = ben.getByTestId('search-sign-in').getByRole('link')
    await expectText(signIn, /Sign in to look up accounts/, 'search sign-in link')
    await signIn.click()
    await ben.getByRole('button', { name: 'Continue to the login page' }).click()
    await ben.waitForURL((url) => url.origin === baseB && url.pathname === '/oauth/authorize')
    await ben.getByLabel('Email or username').waitFor()
    await shoot(ben, 'federation-b-login')
    const response = await authorizeOnNode(ben, BEN.login, BEN.password)
    check([302, 303].includes(response.status()), `B's login answered ${response.status()}`)
    // Back where the remote follow led, now signed in: B has looked ana up on A.
    await ben.waitForURL(
      (url) => url.origin === baseB && url.pathname + url.search === ids.searchPath,
      { timeout: NAVIGATION_TIMEOUT_MS },
    )
    await ben.getByRole('button', { name: 'Sign out' }).waitFor()
    check((await followLabel(ben)) === 'Follow', 'ben does not follow ana yet')
    await expectText(anaResult(ben), new RegExp(`@ana@${escape(hostA)}`), 'search result')
    await shoot(ben, 'federation-b-remote-follow')

    const t0 = performance.now()
    await anaResult(ben).getByRole('button', { name: 'Follow', exact: true }).click()
    const after = await until('the follow button to change', async () => {
      const label = await followLabel(ben)
      return label !== 'Follow' ? label : null
    })
    check(
      ['Unfollow', 'Cancel request'].includes(after),
      `after Follow the button reads Unfollow or Cancel request, got ${after}`,
    )
    // A request until A's Accept arrives; the page shows it when it loads again.
    await reloadUntil(
      ben,
      'A to accept the follow (the button reads Unfollow)',
      async () => (await followLabel(ben)) === 'Unfollow',
      DELIVERY_TIMEOUT_MS,
    )
    timings.followAccepted = Math.round(performance.now() - t0)
    check(
      (await anaResult(ben).getByText('Request sent').count()) === 0,
      'no pending request once accepted',
    )
    log(`  follow accepted after ${timings.followAccepted} ms (button first read “${after}”)`)
    await shoot(ben, 'federation-b-following')
  })

  await step('2. ana posts a new photo on A (through A’s API)', async () => {
    const posted = await anaApi('POST', '/api/v1/statuses', {
      status: `Liftoff, seen from the beach #${ANA.hashtag}`,
      media_ids: [ANA.media],
      visibility: 'public',
      title: 'Night launch',
    })
    ids.post = posted.id
    ids.postedAt = performance.now()
    check(posted.media_attachments?.[0]?.id === ANA.media, 'the post carries the uploaded photo')
    log(`  post ${ids.post} on A`)
  })

  await step('3. ben’s Home on B shows it, loaded from A; ben opens it and likes it', async () => {
    await navLink(ben, 'Home').click()
    await ben.waitForURL(`${baseB}/home`)
    const card = ben.locator('article').filter({ has: ben.getByRole('img', { name: ANA.alt }) })
    await reloadUntil(
      ben,
      'ana’s new photo in ben’s Home on B',
      async () => {
        await ben.getByRole('heading', { level: 1, name: 'Home' }).waitFor()
        // The feed has answered: a post, or the empty-feed notice.
        await ben.locator('article, .notice').first().waitFor({ timeout: 5_000 })
        return (await card.count()) === 1
      },
      DELIVERY_TIMEOUT_MS,
    )
    timings.inHome = Math.round(performance.now() - ids.postedAt)
    // Posts made before the follow are not brought in: only the new one is there.
    check((await ben.locator('article').count()) === 1, 'one post in ben’s Home')
    await expectText(card, new RegExp(`@ana@${escape(hostA)}`), 'the post’s author')
    await expectText(card, /Night launch/, 'the post’s title')
    await expectText(card, new RegExp(`#${ANA.hashtag}`), 'the post’s hashtag')
    const img = card.getByRole('img', { name: ANA.alt })
    await imagesLoaded(ben, 'article .photo img', 'ben’s Home')
    const src = await img.evaluate((i) => ({ src: i.currentSrc, width: i.naturalWidth }))
    check(src.width > 0, `the photo has pixels (${src.width} wide)`)
    check(
      src.src.startsWith(`${baseA}/ipfs/`),
      `the photo is served from node A's /ipfs/, got ${src.src}`,
    )
    log(`  in ben’s Home ${timings.inHome} ms after posting; photo ${src.src} (${src.width} px)`)
    await shoot(ben, 'federation-b-home')

    await card.locator('a.photo').click()
    await ben.waitForURL(
      (url) => url.origin === baseB && /^\/@ana@[^/]+\/\d+$/.test(decodeURIComponent(url.pathname)),
    )
    const path = decodeURIComponent(new URL(ben.url()).pathname)
    check(
      path.startsWith(`/@ana@${hostA}/`),
      `the photo page's address names ana@${hostA}: ${ben.url()}`,
    )
    ids.postOnB = path.split('/').pop()
    await ben.getByRole('heading', { level: 1, name: 'Night launch' }).waitFor()
    await imagesLoaded(ben, '[data-testid="photo-stage"] img', 'photo page')
    check(
      (await ben.getByTestId('photo-stage').getByRole('img', { name: ANA.alt }).count()) >= 1,
      'the photo on its page has its alt text',
    )
    const author = ben
      .getByRole('link')
      .filter({ hasText: `@ana@${hostA}` })
      .first()
    await expectText(author, new RegExp(`@ana@${escape(hostA)}`), 'the photo’s author')
    await expectText(ben.getByTestId('like-count'), /^0 likes$/, 'like count')
    await ben.getByRole('button', { name: 'Like', exact: true }).click()
    await ben.getByRole('button', { name: 'Liked', exact: true }).waitFor()
    await expectText(ben.getByTestId('like-count'), /^1 like$/, 'like count')
    await shoot(ben, 'federation-b-photo')

    // The like reaches ana's post on A.
    const t0 = performance.now()
    await until(
      'the like to arrive on A (favourites_count 1)',
      async () => (await anaApi('GET', `/api/v1/statuses/${ids.post}`)).favourites_count === 1,
      DELIVERY_TIMEOUT_MS,
    )
    timings.likeOnA = Math.round(performance.now() - t0)
    log(`  the like counted on A after ${timings.likeOnA} ms`)
  })

  await step('4. search on B: ana by her address, and her hashtag', async () => {
    const box = ben.getByRole('searchbox', { name: 'Search' })
    await box.fill(`@ana@${hostA}`)
    await box.press('Enter')
    await ben.waitForURL((url) => url.pathname === '/search')
    check(
      new URL(ben.url()).searchParams.get('q') === `@ana@${hostA}`,
      `the search page searches the address, at ${ben.url()}`,
    )
    await expectText(anaResult(ben), new RegExp(`@ana@${escape(hostA)}`), 'search result')
    check((await followLabel(ben)) === 'Unfollow', 'the search result shows ben follows ana')
    await shoot(ben, 'federation-b-search-account')

    // A word without `#` searches the search page's hashtags (a `#tag` opens the tag's page).
    await box.fill(ANA.hashtag)
    await box.press('Enter')
    await ben.waitForURL((url) => url.searchParams.get('q') === ANA.hashtag)
    const tag = ben.getByTestId('search-hashtag').getByRole('link', { name: `#${ANA.hashtag}` })
    await tag.waitFor()
    // Signed in, ben's search finds ana's post by its words too (B has it since the follow).
    const found = ben
      .getByTestId('search-photos')
      .locator(`[data-testid="photo-tile"][data-status-id="${ids.postOnB}"]`)
    await found.waitFor()
    check((await found.getByRole('img').getAttribute('alt')) === ANA.alt, 'the found photo’s alt')
    await imagesLoaded(ben, '[data-testid="search-photos"] img', 'the search’s photos')
    await shoot(ben, 'federation-b-search-hashtag')
    await tag.click()
    await ben.waitForURL(`${baseB}/tags/${ANA.hashtag}`)
    const tile = ben.locator(`[data-testid="photo-tile"][data-status-id="${ids.postOnB}"]`)
    await tile.waitFor()
    await imagesLoaded(ben, '[data-testid="photo-tile"] img', 'the hashtag’s photos')
    await shoot(ben, 'federation-b-tag')
  })
} catch (e) {
  failed = e
}

if (failed) {
  log(`✗ ${failed.stack ?? failed}`)
  for (const [name, page] of pages) {
    try {
      log(`  ${name} was at ${page.url()}`)
      await page.screenshot({ path: `${shotDir}/federation-failure-${name}.png`, fullPage: true })
      log(`  screenshot: ${shotDir}/federation-failure-${name}.png`)
    } catch (e) {
      log(`  (no screenshot of ${name}: ${e.message})`)
    }
  }
}
if (pageErrors.length) log(`uncaught errors in the app:\n  ${pageErrors.join('\n  ')}`)
await browser.close()
log(`screenshots:\n  ${shoot.taken.join('\n  ')}`)
log(
  `federation: follow accepted in ${timings.followAccepted ?? '?'} ms, post in Home ` +
    `${timings.inHome ?? '?'} ms after posting, like on A in ${timings.likeOnA ?? '?'} ms`,
)
log(`whole scenario: ${elapsed()} ms`)
const ok = !failed && pageErrors.length === 0
log(ok ? 'federation scenario passed' : 'federation scenario FAILED')
process.exit(ok ? 0 : 1)
