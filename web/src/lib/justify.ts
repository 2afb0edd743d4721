// The justified grid's layout (as Flickr's): rows of equal height that fill the width exactly,
// each photo keeping its aspect ratio. Pure, so it is tested without a browser.

export interface LayoutOptions {
  /** The width to fill, in CSS pixels. */
  containerWidth: number
  /** The height a row aims at; full rows end up close to it, the last row uses it as is. */
  targetHeight: number
  /** Space between photos, horizontally (the caller uses the same vertically). */
  gap: number
}

export interface Cell {
  /** Index of the photo in the input. */
  index: number
  width: number
  height: number
}

export interface Row {
  height: number
  cells: Cell[]
  /** False for a last row that was not full and so was not stretched to the width. */
  full: boolean
}

const sane = (aspect: number) => (Number.isFinite(aspect) && aspect > 0 ? aspect : 1)

/** The height at which photos of these aspect ratios exactly fill `width` with gaps between. */
const fitHeight = (sumAspect: number, count: number, o: LayoutOptions) =>
  (o.containerWidth - o.gap * (count - 1)) / sumAspect

/** Integer widths that add up exactly to the rounded total (cumulative rounding). */
function cells(indices: number[], aspects: number[], height: number): Cell[] {
  let exact = 0
  let placed = 0
  return indices.map((index) => {
    exact += aspects[index]! * height
    const width = Math.round(exact) - placed
    placed += width
    return { index, width, height: Math.round(height) }
  })
}

/**
 * Lays out photos given by aspect ratio (width / height). A row closes as soon as it is at most
 * `targetHeight` tall, with or without its last photo, whichever brings it closer to the target.
 */
export function justify(aspectRatios: number[], o: LayoutOptions): Row[] {
  if (o.containerWidth <= 0 || o.targetHeight <= 0) return []
  const aspects = aspectRatios.map(sane)
  const rows: Row[] = []
  let row: number[] = []
  let sum = 0
  const close = (indices: number[], total: number) => {
    const height = fitHeight(total, indices.length, o)
    rows.push({ height: Math.round(height), cells: cells(indices, aspects, height), full: true })
  }
  for (let i = 0; i < aspects.length; i++) {
    const a = aspects[i]!
    row.push(i)
    sum += a
    const height = fitHeight(sum, row.length, o)
    if (height > o.targetHeight) continue
    const without = row.length > 1 ? fitHeight(sum - a, row.length - 1, o) : Infinity
    if (Math.abs(without - o.targetHeight) < Math.abs(height - o.targetHeight)) {
      close(row.slice(0, -1), sum - a)
      row = [i]
      sum = a
      // The photo that moved down may fill a row on its own (a wide panorama).
      if (fitHeight(a, 1, o) <= o.targetHeight) {
        close(row, sum)
        row = []
        sum = 0
      }
    } else {
      close(row, sum)
      row = []
      sum = 0
    }
  }
  if (row.length) {
    rows.push({ height: o.targetHeight, cells: cells(row, aspects, o.targetHeight), full: false })
  }
  return rows
}
