// Tags typed in their own field become hashtags at the end of the caption.

/** `"sunset, #Paris  film"` → `["sunset", "Paris", "film"]`, without repeats or invalid ones. */
export function parseTags(text: string): string[] {
  const seen = new Set<string>()
  const out: string[] = []
  for (const raw of text.split(/[\s,]+/)) {
    const tag = raw.replace(/^#+/, '')
    // The node takes letters, digits and underscores, and never digits alone, as a tag.
    const valid = /^[\p{L}\p{N}_]+$/u.test(tag) && !/^\p{N}+$/u.test(tag)
    if (!valid || seen.has(tag.toLowerCase())) continue
    seen.add(tag.toLowerCase())
    out.push(tag)
  }
  return out
}

/** The caption with the tags it does not already hold appended as `#tag`s. */
export function captionWithTags(caption: string, tagsText: string): string {
  const present = new Set(
    [...caption.matchAll(/#([\p{L}\p{N}_]+)/gu)].map((m) => m[1]!.toLowerCase()),
  )
  const extra = parseTags(tagsText).filter((t) => !present.has(t.toLowerCase()))
  const text = caption.trim()
  if (!extra.length) return text
  const tags = extra.map((t) => `#${t}`).join(' ')
  return text ? `${text}\n\n${tags}` : tags
}
