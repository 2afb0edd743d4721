// What the end-to-end scenario runs against and with: the browser, the viewports, the time it
// may take, the people and the photos.

import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../../', import.meta.url))

/** Debian's Chromium; playwright-core never downloads a browser of its own here. */
export const CHROMIUM = process.env.PEERPX_CHROMIUM ?? '/usr/bin/chromium'

/** The whole scenario, browser start to browser close. */
export const SCENARIO_LIMIT_MS = 120_000
/** The federation scenario (web/e2e/federation.mjs), browser start to browser close. */
export const FEDERATION_LIMIT_MS = 180_000
/** Something one node sends the other (a follow's Accept, a post, a like) to arrive. */
export const DELIVERY_TIMEOUT_MS = 45_000
/** One action (a click, a fill) or one wait for something to show. */
export const ACTION_TIMEOUT_MS = 15_000
/** A page load, or an OAuth round trip through the node's login page. */
export const NAVIGATION_TIMEOUT_MS = 20_000

export const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 }
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
}

/** Set up by the test that starts the node (tests/it/harness.rs: `TestNode::admin`). */
export const ADMIN = { login: 'root', password: 'admin password 1' }

/** The person who registers; PEERPX_E2E_USER picks another name against a node kept between runs. */
export const USER = {
  username: process.env.PEERPX_E2E_USER ?? 'clara',
  password: 'clara’s password 1',
  reason: 'I photograph cats and rockets.',
  displayName: 'Clara Lumière',
  bio: 'Street and animal photographer in Lyon.',
}

/** The two fixture photos (tests/data/README.md says what each carries). */
export const PHOTOS = {
  chelsea: {
    file: `${repo}tests/data/chelsea-orientation-6.jpg`,
    alt: 'A tabby cat looking up, lit from the left',
    title: 'Chelsea on the sofa',
    caption: 'Stored sideways by the camera, shown upright. #cats',
    tags: 'portrait',
    licence: 'cc-by-sa',
    licenceName: 'Creative Commons Attribution-ShareAlike 4.0',
    licenceUrl: 'https://creativecommons.org/licenses/by-sa/4.0/',
    /** 451x300 once EXIF orientation 6 is honoured (300x451 as stored). */
    uprightAspect: 451 / 300,
    exif: {
      camera: 'X-T4',
      aperture: 'ƒ/2',
      iso: '400',
      focal: '35 mm',
      exposure: '1/125 s',
    },
    /**
     * Where the file says it was taken (45.764043 N 4.835659 E): never to be shown. `text` is
     * looked for in what the page reads, `markup` in its HTML (long enough not to match a size).
     */
    gps: { text: ['45.76', '4.835', 'Location'], markup: ['45.7640', '4.83566', 'latitude'] },
  },
  astronaut: {
    file: `${repo}tests/data/astronaut-exif-gps.jpg`,
    alt: 'An astronaut in an orange flight suit, smiling, a helmet and a shuttle model beside her',
    title: 'Astronaut portrait',
    caption: 'A NASA portrait from the archive. #space',
    tags: 'nasa, portrait',
    licence: 'cc0',
    licenceName: 'CC0 1.0 Public Domain Dedication',
    licenceUrl: 'https://creativecommons.org/publicdomain/zero/1.0/',
    uprightAspect: 1,
  },
}
