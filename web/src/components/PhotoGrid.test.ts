import { flushPromises, mount } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'
import PhotoGrid from './PhotoGrid.vue'
import { photo, plugins, status } from './test-helpers'

describe('PhotoGrid', () => {
  it('lays out posts in justified rows linking to their photo pages', async () => {
    vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(1000)
    const statuses = [
      status('1', [photo('a', 1500, 1000)]),
      status('2', [photo('b', 1000, 1500), photo('c')]),
      status('3', [photo('d', 2000, 1000)]),
      status('4', [photo('e', 1000, 1000)], { sensitive: true }),
    ]
    const load = vi.fn(async () => ({ items: statuses, maxId: null }))
    const w = mount(PhotoGrid, { props: { load, infinite: false }, global: plugins().global })
    await flushPromises()
    expect(load).toHaveBeenCalledWith(null)
    const tiles = w.findAll('a.tile')
    expect(tiles.map((t) => t.attributes('href'))).toEqual([
      '/@ada/1',
      '/@ada/2',
      '/@ada/3',
      '/@ada/4',
    ])
    // The first full row fills the width exactly (gaps of 4 px between tiles).
    const row = w.get('.row')
    const widths = row
      .findAll('a.tile')
      .map((t) => parseInt(t.attributes('style')!.match(/width: (\d+)px/)![1]!))
    expect(widths.reduce((a, b) => a + b, 0) + 4 * (widths.length - 1)).toBe(1000)
    // Every image has alt text and both renditions; a sensitive one stays veiled.
    for (const img of w.findAll('img')) {
      expect(img.attributes('alt')).toBeTruthy()
      expect(img.attributes('srcset')).toMatch(/640w, .* \d+w$/)
    }
    expect(w.findAll('img')).toHaveLength(3)
    expect(w.text()).toContain('Sensitive content')
    expect(w.text()).toContain('2 photos')
  })
})
