// Photographers' notation for EXIF values, dates and sizes.

import type { Exif } from '../api'

/** "Canon" + "Canon EOS R5" reads "Canon EOS R5", not "Canon Canon EOS R5". */
export function cameraName(make?: string, model?: string): string | undefined {
  const m = make?.trim()
  const n = model?.trim()
  if (!m) return n || undefined
  if (!n) return m
  const brand = m.split(/\s+/)[0]!.toLowerCase()
  return n.toLowerCase().startsWith(brand) ? n : `${m} ${n}`
}

const trim = (n: number, digits: number) => String(Number(n.toFixed(digits)))

export interface ExifEntry {
  key: 'camera' | 'lens' | 'exposure' | 'aperture' | 'iso' | 'focal' | 'taken' | 'location'
  value: string
}

/** The EXIF lines to show, in the order a photographer reads them; absent ones are left out. */
export function exifEntries(exif: Exif | undefined, locale: string): ExifEntry[] {
  if (!exif) return []
  const out: ExifEntry[] = []
  const push = (key: ExifEntry['key'], value: string | undefined) => {
    if (value) out.push({ key, value })
  }
  push('camera', cameraName(exif.camera_make, exif.camera_model))
  push('lens', exif.lens_model?.trim())
  push('exposure', exif.exposure_time ? `${exif.exposure_time} s` : undefined)
  push('aperture', exif.f_number ? `ƒ/${trim(exif.f_number, 1)}` : undefined)
  push('iso', exif.iso ? String(exif.iso) : undefined)
  push('focal', exif.focal_length_mm ? `${trim(exif.focal_length_mm, 1)} mm` : undefined)
  push('taken', exif.taken_at ? cameraDate(exif.taken_at, locale) : undefined)
  if (exif.location) {
    const { latitude, longitude } = exif.location
    push('location', `${latitude.toFixed(5)}, ${longitude.toFixed(5)}`)
  }
  return out
}

/**
 * A camera's `YYYY-MM-DDTHH:MM:SS`, which has no time zone: shown as written, never shifted
 * into the viewer's zone.
 */
export function cameraDate(text: string, locale: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(text)
  if (!m) return text
  const [y, mo, d, h = '0', mi = '0', s = '0'] = m.slice(1).map((v) => v ?? '0') as string[]
  const date = new Date(Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +s))
  return new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium',
    timeStyle: m[4] ? 'short' : undefined,
    timeZone: 'UTC',
  }).format(date)
}

export function dateTime(iso: string, locale: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(date)
}

export function bytes(n: number, locale: string): string {
  const mb = n / (1024 * 1024)
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(mb)} MB`
}

/** The Creative Commons elements of a licence id (`cc-by-sa` → by, sa); null when not CC. */
export function ccElements(id: string | undefined): string[] | null {
  if (!id) return null
  if (id === 'cc0') return ['zero']
  if (!id.startsWith('cc-')) return null
  return id.slice(3).split('-')
}

/** The text of server HTML, for places where links would nest (an excerpt inside a link). */
export function plainText(html: string): string {
  return new DOMParser().parseFromString(html, 'text/html').body.textContent?.trim() ?? ''
}
