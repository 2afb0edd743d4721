// The web UI end to end, in a real headless Chromium, through the UI only:
//
//   node web/e2e/scenario.mjs <base url> <screenshot dir>
//
// The node at <base url> must serve the built UI, have the admin root / "admin password 1" and
// take registrations on approval (tests/it/web_e2e.rs starts such a node and runs this).
// A person registers, the admin approves them, they sign in, upload two photos, find them in
// Explore, check the photo page (EXIF, upright orientation, no location), like, comment and delete
// the comment, edit their profile and sign out. Screenshots of the main pages go to the directory;
// the time until Explore's first photo is shown is measured and printed.

import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { chromium } from 'playwright-core'
import {
  ACTION_TIMEOUT_MS,
  ADMIN,
  CHROMIUM,
  DESKTOP,
  NAVIGATION_TIMEOUT_MS,
  PHONE,
  PHOTOS,
  SCENARIO_LIMIT_MS,
  USER,
} from './config.mjs'
import {
  authorizeOnNode,
  check,
  elapsed,
  expectCount,
  expectNoSidewaysScroll,
  expectText,
  imagesLoaded,
  log,
  navLink,
  screenshotter,
  signInThroughUi,
  step,
  until,
} from './helpers.mjs'

const [base, shotDir = resolve(import.meta.dirname, '../../target/e2e-screenshots')] =
  process.argv.slice(2)
if (!base) {
  console.error('usage: node web/e2e/scenario.mjs <base url> [<screenshot dir>]')
  process.exit(2)
}
mkdirSync(shotDir, { recursive: true })
// A failure's pictures from an earlier run would mislead.
for (const f of readdirSync(shotDir)) {
  if (/^failure-.*\.png$/.test(f)) rmSync(`${shotDir}/${f}`)
}

const watchdog = setTimeout(() => {
  console.error(`the scenario ran over ${SCENARIO_LIMIT_MS} ms: stopped`)
  process.exit(3)
}, SCENARIO_LIMIT_MS)
watchdog.unref()

const shoot = screenshotter(shotDir)
const pageErrors = []
const pages = new Map()
const figures = {}

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true })

/** A browser profile of its own (cookies, storage, cache): one person, or one cold visitor. */
async function person(name, device = DESKTOP) {
  const context = await browser.newContext({
    ...device,
    baseURL: base,
    locale: 'en-US',
    colorScheme: 'light',
    reducedMotion: 'reduce',
  })
  context.setDefaultTimeout(ACTION_TIMEOUT_MS)
  context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS)
  const page = await context.newPage()
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`))
  page.on('console', (m) => {
    // The node's login page answering 403 to a pending account is expected (step 1).
    if (m.type() !== 'error' || m.location().url.includes('/oauth/authorize')) return
    log(`  [${name} console] ${m.text()}`)
  })
  pages.set(name, page)
  return page
}

/** Records, in the page, when the first grid photo has loaded and been painted. */
function measureFirstGridImage() {
  window.__firstGridImage = null
  document.addEventListener(
    'load',
    (e) => {
      const img = e.target
      if (window.__firstGridImage || !(img instanceof HTMLImageElement)) return
      if (!img.closest('[data-testid="photo-tile"]')) return
      const loaded = performance.now()
      // Two frames later the browser has painted it.
      requestAnimationFrame(() =>
        requestAnimationFrame(() => {
          window.__firstGridImage ??= { loaded, painted: performance.now(), src: img.currentSrc }
        }),
      )
    },
    true,
  )
}

async function uploadPost(page, photo, shotName) {
  await navLink(page, 'Upload').click()
  await page.waitForURL('**/upload')
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    page.getByRole('button', { name: 'Choose photos' }).click(),
  ])
  check(chooser.isMultiple(), 'the file picker takes several photos')
  await chooser.setFiles(photo.file)
  const item = page.getByTestId('upload-item')
  await expectCount(item, 1, 'upload item')
  await item.getByText('Uploaded', { exact: true }).waitFor()
  await item.getByLabel('Description for people who cannot see the photo').fill(photo.alt)
  await page.getByLabel('Title', { exact: true }).fill(photo.title)
  await page.getByLabel('Caption', { exact: true }).fill(photo.caption)
  await page.getByLabel('Tags', { exact: true }).fill(photo.tags)
  await page.getByLabel('Licence', { exact: true }).selectOption(photo.licence)
  check(
    (await page.getByLabel('Who can see it').inputValue()) === 'public',
    'posts are public by default',
  )
  if (shotName) await shoot(page, shotName)
  await page.getByRole('button', { name: 'Publish', exact: true }).click()
  await page.waitForURL(new RegExp(`/@${USER.username}/\\d+$`))
  await page.getByRole('heading', { level: 1, name: photo.title }).waitFor()
  return new URL(page.url()).pathname.split('/').pop()
}

/** The large photo on a photo page once loaded: its pixels and its box on screen. */
async function stagePhoto(page) {
  await imagesLoaded(page, '[data-testid="photo-stage"] img', 'photo page')
  return page
    .getByTestId('photo-stage')
    .locator('img')
    .evaluate((img) => {
      const box = img.getBoundingClientRect()
      return {
        width: img.naturalWidth,
        height: img.naturalHeight,
        boxWidth: box.width,
        boxHeight: box.height,
        src: img.currentSrc,
      }
    })
}

function expectUpright(shown, photo, where) {
  const ratio = shown.width / shown.height
  check(
    shown.width > shown.height,
    `${where}: the orientation-6 photo shows upright (landscape), got ${shown.width}x${shown.height} from ${shown.src}`,
  )
  check(
    Math.abs(ratio - photo.uprightAspect) < 0.02,
    `${where}: the photo's pixels have the upright ratio ${photo.uprightAspect.toFixed(3)}, got ${ratio.toFixed(3)} (${shown.width}x${shown.height})`,
  )
  const boxRatio = shown.boxWidth / shown.boxHeight
  check(
    Math.abs(boxRatio - photo.uprightAspect) < 0.03,
    `${where}: the photo's frame keeps the upright ratio, got ${boxRatio.toFixed(3)}`,
  )
}

let user
let admin
const ids = {}
let failed = null

try {
  await step('1. register in the UI; approval is required and explained', async () => {
    user = await person('user')
    await user.goto('/')
    await navLink(user, 'Create an account').click()
    await user.waitForURL('**/register')
    await expectText(
      user.getByTestId('registration-approval'),
      /reviewed by a moderator|approv/i,
      'approval notice',
    )
    await user.getByLabel('Username', { exact: true }).fill(USER.username)
    await user.getByLabel('Email address').fill(`${USER.username}@example.org`)
    await user.getByLabel('Password', { exact: true }).fill(USER.password)
    await user.getByLabel('Why do you want to join?').fill(USER.reason)
    await user.getByLabel("I accept this node's rules").check()
    await shoot(user, 'register-desktop')
    await user.getByRole('button', { name: 'Create my account' }).click()
    const pending = user.getByTestId('registration-pending')
    await expectText(pending, /approv/i, 'registration result')
    await expectText(pending, /What happens next/, 'registration result')
    // As the page says, signing in is refused until a moderator approves.
    await navLink(user, 'Sign in').click()
    await user.getByRole('button', { name: 'Continue to the login page' }).click()
    const refused = await authorizeOnNode(user, USER.username, USER.password)
    check(
      refused.status() === 403,
      `a pending account's login answers 403, got ${refused.status()}`,
    )
    await expectText(user.getByRole('alert'), /awaiting approval/i, 'login page error')
    await user.goto('/')
  })

  await step('2. the admin signs in through the UI and approves the account', async () => {
    admin = await person('admin')
    await admin.goto('/')
    await signInThroughUi(admin, ADMIN.login, ADMIN.password, '**/home')
    await navLink(admin, 'Admin').click()
    await admin.waitForURL('**/admin')
    // The UI signs in with user scopes; the admin page asks for administration rights once.
    const grant = admin.getByRole('button', { name: 'Grant administration rights' })
    await grant.click()
    await authorizeOnNode(admin, ADMIN.login, ADMIN.password)
    await admin.waitForURL('**/admin')
    await admin.getByRole('heading', { name: 'Accounts awaiting approval' }).waitFor()
    // The settings load beside the pending list: wait for them rather than race them.
    await until('the admin page to show registrations on approval', async () =>
      (await admin.getByRole('radio', { name: /^Approval/ }).isChecked()) ? true : null,
    )
    const row = admin.getByTestId('pending-account').filter({ hasText: `@${USER.username}` })
    await expectText(
      row,
      new RegExp(USER.reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      'pending row',
    )
    await shoot(admin, 'admin-desktop')
    await row.getByRole('button', { name: 'Approve' }).click()
    await expectText(row.getByRole('status'), /^Approved$/, 'decision')
  })

  await step('3. the approved person signs in', async () => {
    await signInThroughUi(user, USER.username, USER.password, '**/home')
    for (const name of ['Home', 'Upload', 'Profile']) await navLink(user, name).waitFor()
    check((await navLink(user, 'Admin').count()) === 0, 'a plain user sees no Admin link')
  })

  await step('4. upload two photos with alt text, title, caption, tags and licence', async () => {
    ids.chelsea = await uploadPost(user, PHOTOS.chelsea, 'upload-desktop')
    ids.astronaut = await uploadPost(user, PHOTOS.astronaut)
    log(`  posts: chelsea ${ids.chelsea}, astronaut ${ids.astronaut}`)
    await navLink(user, 'Home').click()
    await user.waitForURL('**/home')
    await user.getByRole('heading', { level: 2, name: PHOTOS.chelsea.title }).waitFor()
    await user.getByRole('heading', { level: 2, name: PHOTOS.astronaut.title }).waitFor()
    await imagesLoaded(user, 'article img', 'home feed')
    await shoot(user, 'home-desktop')
  })

  await step('5. both photos are in the Explore grid', async () => {
    await navLink(user, 'Explore').click()
    await user.waitForURL('**/explore')
    const tiles = user.getByTestId('photo-tile')
    await expectCount(tiles, 2, 'Explore tiles')
    for (const [key, photo] of Object.entries(PHOTOS)) {
      const tile = user.locator(`[data-testid="photo-tile"][data-status-id="${ids[key]}"]`)
      check(
        (await tile.getAttribute('href')) === `/@${USER.username}/${ids[key]}`,
        `the ${key} tile links to its photo page`,
      )
      check(
        (await tile.getByRole('img').getAttribute('alt')) === photo.alt,
        `the ${key} tile's image has its alt text`,
      )
      // Justified rows keep each photo's aspect ratio.
      const box = await tile.boundingBox()
      check(
        Math.abs(box.width / box.height - photo.uprightAspect) < 0.03,
        `the ${key} tile keeps its ratio ${photo.uprightAspect.toFixed(3)}, got ${(box.width / box.height).toFixed(3)}`,
      )
    }
    await imagesLoaded(user, '[data-testid="photo-tile"] img', 'Explore grid')
  })

  await step('   measure: Explore first photo, cold visitor on loopback', async () => {
    const visitor = await person('visitor')
    await visitor.addInitScript(measureFirstGridImage)
    await visitor.goto('/explore')
    const first = await until(
      'the first grid photo to be painted',
      () => visitor.evaluate(() => window.__firstGridImage),
      NAVIGATION_TIMEOUT_MS,
    )
    // Lighthouse's paint and layout figures, as Chromium reports them to the page.
    const nav = await visitor.evaluate(async () => {
      const n = performance.getEntriesByType('navigation')[0]
      const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null
      const buffered = (type) =>
        new Promise((resolve) => {
          new PerformanceObserver((list) => resolve(list.getEntries())).observe({
            type,
            buffered: true,
          })
          setTimeout(() => resolve([]), 500)
        })
      const lcp = (await buffered('largest-contentful-paint')).at(-1)?.startTime ?? null
      const cls = (await buffered('layout-shift'))
        .filter((e) => !e.hadRecentInput)
        .reduce((sum, e) => sum + e.value, 0)
      return {
        responseEnd: n.responseEnd,
        domContentLoaded: n.domContentLoadedEventEnd,
        fcp,
        lcp,
        cls,
      }
    })
    figures.cold = { ...first, ...nav }
    await imagesLoaded(visitor, '[data-testid="photo-tile"] img', 'Explore grid')
    await shoot(visitor, 'explore-desktop')
    // The same visitor again: the app's files now come from the browser's cache.
    await visitor.reload()
    figures.warm = await until(
      'the first grid photo to be painted again',
      () => visitor.evaluate(() => window.__firstGridImage),
      NAVIGATION_TIMEOUT_MS,
    )
    const ms = (v) => `${Math.round(v)} ms`
    log(
      `  Explore, first grid photo painted: ${ms(figures.cold.painted)} cold ` +
        `(HTML ${ms(nav.responseEnd)}, DOMContentLoaded ${ms(nav.domContentLoaded)}, ` +
        `photo loaded ${ms(first.loaded)}), ${ms(figures.warm.painted)} warm; ` +
        `first contentful paint ${ms(nav.fcp)}, largest contentful paint ${ms(nav.lcp)}, ` +
        `cumulative layout shift ${nav.cls.toFixed(3)}`,
    )
    check(nav.cls < 0.1, `layout shift ${nav.cls.toFixed(3)} stays under Lighthouse's 0.1`)
    check(figures.cold.painted < 5_000, 'the first grid photo shows within 5 s on loopback')
  })

  await step('6. the orientation-6 photo: upright, EXIF panel, no location', async () => {
    await user.locator(`[data-testid="photo-tile"][data-status-id="${ids.chelsea}"]`).click()
    await user.waitForURL(`**/@${USER.username}/${ids.chelsea}`)
    const photo = PHOTOS.chelsea
    await user.getByRole('heading', { level: 1, name: photo.title }).waitFor()
    expectUpright(await stagePhoto(user), photo, 'desktop photo page')
    await user.getByRole('heading', { name: 'Camera details' }).waitFor()
    for (const [key, value] of Object.entries(photo.exif)) {
      const dd = user.locator(`[data-exif="${key}"]`)
      await expectText(dd, new RegExp(value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), `EXIF ${key}`)
    }
    check(
      (await user.getByRole('img', { name: photo.alt }).count()) >= 1,
      'the photo has its alt text',
    )
    await expectText(user.locator('section.alt'), new RegExp(photo.alt), 'alt text section')
    await user.getByRole('link', { name: '#cats' }).first().waitFor()
    await user.getByRole('link', { name: '#portrait' }).first().waitFor()
    const licence = user.getByRole('link', { name: photo.licenceName })
    check(
      (await licence.getAttribute('href')) === photo.licenceUrl,
      'the licence badge links to the licence',
    )
    // Nowhere, neither in what is shown nor in the page's markup, is where it was taken.
    check((await user.locator('[data-exif="location"]').count()) === 0, 'no location line')
    const text = await user.locator('body').innerText()
    const html = await user.content()
    for (const needle of photo.gps.text) {
      check(!text.includes(needle), `the page shows no GPS (${needle})`)
    }
    for (const needle of photo.gps.markup) {
      check(!html.includes(needle), `the page's markup holds no GPS (${needle})`)
    }
    await shoot(user, 'photo-desktop')
  })

  await step('7. like, comment, see the comment, delete it', async () => {
    const like = user.getByRole('button', { name: 'Like', exact: true })
    await expectText(user.getByTestId('like-count'), /^0 likes$/, 'like count')
    await like.click()
    const liked = user.getByRole('button', { name: 'Liked', exact: true })
    await liked.waitFor()
    check((await liked.getAttribute('aria-pressed')) === 'true', 'the like button is pressed')
    await expectText(user.getByTestId('like-count'), /^1 like$/, 'like count')

    const words = 'What a look! Taken at golden hour?'
    await user.getByLabel('Add a comment').fill(words)
    await user.getByRole('button', { name: 'Comment', exact: true }).click()
    const comment = user.getByTestId('comment').filter({ hasText: words })
    await comment.waitFor()
    await expectText(comment, new RegExp(USER.username), 'comment author')
    await user.getByRole('heading', { name: '1 comment', exact: true }).waitFor()
    await shoot(user, 'photo-comment-desktop')
    user.once('dialog', (d) => d.accept())
    await comment.getByRole('button', { name: 'Delete', exact: true }).click()
    await expectCount(user.getByTestId('comment'), 0, 'comments')
    await user.getByRole('heading', { name: '0 comments', exact: true }).waitFor()

    // What the node kept: the like, and no comment.
    await user.reload()
    await expectText(user.getByTestId('like-count'), /^1 like$/, 'like count after reload')
    await user.getByRole('button', { name: 'Liked', exact: true }).waitFor()
    await user.getByRole('heading', { name: '0 comments', exact: true }).waitFor()
  })

  await step('8. edit the profile; the profile page shows it', async () => {
    await navLink(user, 'Profile').click()
    await user.waitForURL(`**/@${USER.username}`)
    await user.getByRole('link', { name: 'Edit profile' }).click()
    await user.waitForURL('**/settings/profile')
    await user.getByLabel('Display name').fill(USER.displayName)
    await user.getByLabel('Bio', { exact: true }).fill(USER.bio)
    await user.getByRole('button', { name: 'Save', exact: true }).click()
    await user.waitForURL(`**/@${USER.username}`)
    await user.getByRole('heading', { level: 1, name: USER.displayName }).waitFor()
    await user.getByText(USER.bio).waitFor()
    await user.getByText('2 posts', { exact: true }).waitFor()
    await expectCount(user.getByTestId('photo-tile'), 2, 'profile tiles')
    await imagesLoaded(user, '[data-testid="photo-tile"] img', 'profile grid')
    await shoot(user, 'profile-desktop')
  })

  await step('9. sign out', async () => {
    const token = await user.evaluate(
      () => JSON.parse(localStorage.getItem('peerpx.session')).token,
    )
    await user.getByRole('button', { name: 'Sign out' }).click()
    await user.waitForURL((url) => url.pathname === '/')
    await navLink(user, 'Sign in').waitFor()
    check((await user.getByRole('button', { name: 'Sign out' }).count()) === 0, 'no Sign out')
    check((await navLink(user, 'Upload').count()) === 0, 'no Upload link once signed out')
    check(
      (await user.evaluate(() => localStorage.getItem('peerpx.session'))) === null,
      'the session is forgotten',
    )
    await user.goto('/upload')
    await user.waitForURL((url) => url.pathname === '/signin')
    // The token was revoked, not only forgotten.
    const r = await user.request.get('/api/v1/accounts/verify_credentials', {
      headers: { Authorization: `Bearer ${token}` },
    })
    check(r.status() === 401, `the old token is refused after signing out, got ${r.status()}`)
  })

  await step('   phone: Explore and the photo page at 390x844', async () => {
    const phone = await person('phone', PHONE)
    await phone.goto('/explore')
    await expectCount(phone.getByTestId('photo-tile'), 2, 'phone Explore tiles')
    await imagesLoaded(phone, '[data-testid="photo-tile"] img', 'phone Explore grid')
    await expectNoSidewaysScroll(phone, 'Explore on a phone')
    await shoot(phone, 'explore-phone')
    await phone.locator(`[data-testid="photo-tile"][data-status-id="${ids.chelsea}"]`).tap()
    await phone.waitForURL(`**/@${USER.username}/${ids.chelsea}`)
    expectUpright(await stagePhoto(phone), PHOTOS.chelsea, 'phone photo page')
    await phone.locator('[data-exif="camera"]').waitFor()
    // A visitor may not download an original its author did not offer, nor like without an account.
    check(
      (await phone.getByRole('link', { name: 'Download original' }).count()) === 0,
      'no download of the original for a visitor when downloads are not allowed',
    )
    check((await phone.getByRole('button', { name: 'Like' }).count()) === 0, 'no Like button')
    await expectText(phone.getByTestId('like-count'), /^1 like$/, 'like count for a visitor')
    await expectNoSidewaysScroll(phone, 'the photo page on a phone')
    await shoot(phone, 'photo-phone')
  })
} catch (e) {
  failed = e
}

if (failed) {
  log(`✗ ${failed.stack ?? failed}`)
  for (const [name, page] of pages) {
    try {
      log(`  ${name} was at ${page.url()}`)
      await page.screenshot({ path: `${shotDir}/failure-${name}.png`, fullPage: true })
      log(`  screenshot: ${shotDir}/failure-${name}.png`)
    } catch (e) {
      log(`  (no screenshot of ${name}: ${e.message})`)
    }
  }
}
if (pageErrors.length) log(`uncaught errors in the app:\n  ${pageErrors.join('\n  ')}`)
await browser.close()
log(`screenshots:\n  ${shoot.taken.join('\n  ')}`)
if (figures.cold) {
  log(
    `explore first grid photo painted: ${Math.round(figures.cold.painted)} ms cold, ` +
      `${Math.round(figures.warm?.painted ?? NaN)} ms warm; FCP ${Math.round(figures.cold.fcp)} ms, ` +
      `LCP ${Math.round(figures.cold.lcp)} ms, CLS ${figures.cold.cls.toFixed(3)}`,
  )
}
log(`whole scenario: ${elapsed()} ms`)
const ok = !failed && pageErrors.length === 0
log(ok ? 'scenario passed' : 'scenario FAILED')
process.exit(ok ? 0 : 1)
