import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import { locale } from '../i18n'
import ExifPanel from './ExifPanel.vue'

describe('ExifPanel', () => {
  it('lists what the camera recorded under translated labels', async () => {
    locale.value = 'en'
    const w = mount(ExifPanel, {
      props: {
        exif: {
          camera_make: 'Canon',
          camera_model: 'Canon EOS R5',
          lens_model: 'RF24-70mm F2.8 L IS USM',
          exposure_time: '1/250',
          f_number: 4,
          iso: 100,
          focal_length_mm: 50,
          taken_at: '2023-05-01T09:30:00',
        },
      },
    })
    const value = (key: string) => w.get(`[data-exif="${key}"]`).text()
    expect(value('camera')).toBe('Canon EOS R5')
    expect(value('aperture')).toBe('ƒ/4')
    expect(value('exposure')).toBe('1/250 s')
    expect(value('focal')).toBe('50 mm')
    expect(w.findAll('dt').map((d) => d.text())).toContain('Lens')
    locale.value = 'fr'
    await w.vm.$nextTick()
    expect(w.findAll('dt').map((d) => d.text())).toContain('Objectif')
    locale.value = 'en'
  })

  it('shows nothing for a photo without EXIF', () => {
    expect(mount(ExifPanel, { props: { exif: {} } }).html()).not.toContain('<dl')
  })
})
