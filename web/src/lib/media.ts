// What the grid and the photo page need to know about a photo's renditions.

import type { MediaAttachment } from '../api'

/** The large rendition's long side (docs/api-extensions.md: at most 2048 px, never upscaled). */
export const LARGE_MAX = 2048

export function aspectOf(m: MediaAttachment): number {
  const d = m.meta.original ?? m.meta.small
  return d && d.height > 0 ? d.width / d.height : 1
}

/** The large rendition's width, derived from the original's size. */
export function largeWidth(m: MediaAttachment): number {
  const o = m.meta.original
  if (!o) return LARGE_MAX
  const long = Math.max(o.width, o.height)
  return long > LARGE_MAX ? Math.round((o.width * LARGE_MAX) / long) : o.width
}

/** `srcset` with both renditions, so the browser picks by the space and the screen's density. */
export function srcset(m: MediaAttachment): string {
  const small = m.meta.small?.width
  const large = largeWidth(m)
  // A photo no wider than the small rendition has nothing larger to offer.
  if (small && small >= large) return `${m.preview_url} ${small}w`
  const parts = small ? [`${m.preview_url} ${small}w`] : []
  parts.push(`${m.url} ${large}w`)
  return parts.join(', ')
}
