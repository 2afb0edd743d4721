import { describe, expect, it } from 'vitest'
import { justify } from './justify'

const opts = { containerWidth: 1000, targetHeight: 200, gap: 4 }
const rowWidth = (row: { cells: { width: number }[] }, gap: number) =>
  row.cells.reduce((s, c) => s + c.width, 0) + gap * (row.cells.length - 1)

describe('justify', () => {
  it('fills every full row exactly to the container width', () => {
    const aspects = [1.5, 0.67, 1, 1.78, 1.33, 0.75, 1.5, 2.4, 1, 1.5, 0.8, 1.2]
    const rows = justify(aspects, opts)
    for (const row of rows.filter((r) => r.full)) expect(rowWidth(row, 4)).toBe(1000)
  })

  it('keeps each photo in its aspect ratio, within a pixel of rounding', () => {
    const aspects = [1.5, 0.67, 1, 1.78, 1.33, 0.75, 1.5, 2.4]
    for (const row of justify(aspects, opts)) {
      for (const cell of row.cells) {
        expect(Math.abs(cell.width - aspects[cell.index]! * row.height)).toBeLessThanOrEqual(1.5)
        expect(cell.height).toBe(row.height)
      }
    }
  })

  it('places every photo once, in order', () => {
    const aspects = Array.from({ length: 40 }, (_, i) => 0.6 + ((i * 7) % 13) / 8)
    const order = justify(aspects, opts).flatMap((r) => r.cells.map((c) => c.index))
    expect(order).toEqual(aspects.map((_, i) => i))
  })

  it('gives full rows a height close to the target', () => {
    const aspects = Array.from({ length: 30 }, (_, i) => [1.5, 0.67, 1, 1.33][i % 4]!)
    for (const row of justify(aspects, opts).filter((r) => r.full)) {
      expect(row.height).toBeGreaterThan(120)
      expect(row.height).toBeLessThan(300)
    }
  })

  it('leaves a short last row at the target height instead of stretching it', () => {
    const rows = justify([1.5, 1.5, 1.5, 1.5, 1], opts)
    const last = rows[rows.length - 1]!
    expect(last.full).toBe(false)
    expect(last.height).toBe(200)
    expect(last.cells.map((c) => c.width)).toEqual([300, 200])
    expect(rowWidth(last, 4)).toBeLessThan(1000)
  })

  it('puts a wide panorama on a row of its own', () => {
    const rows = justify([8, 1.5, 1.5], { ...opts, containerWidth: 800 })
    const pano = rows[0]!
    expect(pano.cells.map((c) => c.index)).toEqual([0])
    expect(pano.cells[0]!.width).toBe(800)
    expect(pano.height).toBe(100)
  })

  it('treats a missing or broken aspect ratio as square', () => {
    const rows = justify([0, Number.NaN], opts)
    expect(rows[0]!.cells.map((c) => c.width)).toEqual([200, 200])
  })

  it('lays out nothing before the container has a width', () => {
    expect(justify([1, 1], { ...opts, containerWidth: 0 })).toEqual([])
    expect(justify([], opts)).toEqual([])
  })
})
