import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import Lightbox from './Lightbox.vue'
import { photo } from './test-helpers'

const media = [photo('1'), photo('2'), photo('3')]
const press = (key: string) => document.dispatchEvent(new KeyboardEvent('keydown', { key }))

afterEach(() => {
  document.body.innerHTML = ''
})

describe('Lightbox', () => {
  it('moves with the arrow keys, wrapping around, and closes on Escape', async () => {
    const w = mount(Lightbox, {
      props: {
        media,
        index: 0,
        alt: (m: { description: string | null }) => m.description ?? '',
        'onUpdate:index': (i: number) => w.setProps({ index: i }),
      },
      attachTo: document.body,
    })
    expect(w.get('img').attributes('src')).toBe('/ipfs/large-1')
    press('ArrowRight')
    await w.vm.$nextTick()
    expect(w.get('img').attributes('alt')).toBe('photo 2')
    press('ArrowLeft')
    await w.vm.$nextTick()
    press('ArrowLeft')
    await w.vm.$nextTick()
    expect(w.get('img').attributes('src')).toBe('/ipfs/large-3')
    press('Escape')
    expect(w.emitted('close')).toHaveLength(1)
    w.unmount()
  })

  it('is a modal dialog with labelled buttons', () => {
    const w = mount(Lightbox, {
      props: { media, index: 1, alt: () => 'x' },
      attachTo: document.body,
    })
    const dialog = w.get('[role="dialog"]')
    expect(dialog.attributes('aria-modal')).toBe('true')
    for (const b of w.findAll('button')) expect(b.attributes('aria-label')).toBeTruthy()
    w.unmount()
  })
})
