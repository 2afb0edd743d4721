// Blurhash placeholders, decoded once per hash into a tiny PNG data URL.

import { decode, isBlurhashValid } from 'blurhash'

const cache = new Map<string, string | null>()

export function blurhashUrl(hash: string | null | undefined, size = 32): string | null {
  if (!hash) return null
  if (cache.has(hash)) return cache.get(hash) ?? null
  let url: string | null = null
  try {
    if (isBlurhashValid(hash).result) {
      const canvas = document.createElement('canvas')
      canvas.width = canvas.height = size
      const ctx = canvas.getContext('2d')
      if (ctx) {
        const image = ctx.createImageData(size, size)
        image.data.set(decode(hash, size, size))
        ctx.putImageData(image, 0, 0)
        url = canvas.toDataURL()
      }
    }
  } catch {
    url = null
  }
  cache.set(hash, url)
  return url
}
