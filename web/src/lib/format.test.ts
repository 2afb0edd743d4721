import { describe, expect, it } from 'vitest'
import { cameraDate, cameraName, ccElements, exifEntries } from './format'
import { captionWithTags, parseTags } from './tags'
import { largeWidth, srcset } from './media'
import type { MediaAttachment } from '../api'

describe('EXIF', () => {
  it('does not repeat the make in the camera name', () => {
    expect(cameraName('Canon', 'Canon EOS R5')).toBe('Canon EOS R5')
    expect(cameraName('NIKON CORPORATION', 'NIKON Z 6')).toBe('NIKON Z 6')
    expect(cameraName('FUJIFILM', 'X-T4')).toBe('FUJIFILM X-T4')
    expect(cameraName(undefined, undefined)).toBeUndefined()
  })

  it('writes values as photographers do and leaves out what is absent', () => {
    const entries = exifEntries(
      {
        camera_make: 'FUJIFILM',
        camera_model: 'X-T4',
        exposure_time: '1/250',
        f_number: 2.8,
        iso: 400,
        focal_length_mm: 35,
      },
      'en',
    )
    expect(entries.map((e) => [e.key, e.value])).toEqual([
      ['camera', 'FUJIFILM X-T4'],
      ['exposure', '1/250 s'],
      ['aperture', 'ƒ/2.8'],
      ['iso', '400'],
      ['focal', '35 mm'],
    ])
  })

  it("shows the camera's time as written, in no time zone", () => {
    expect(cameraDate('2024-07-14T22:05:09', 'en')).toMatch(/Jul 14, 2024.*10:05/)
    expect(cameraDate('not a date', 'en')).toBe('not a date')
  })
})

describe('licences', () => {
  it('names the Creative Commons elements', () => {
    expect(ccElements('cc-by-nc-sa')).toEqual(['by', 'nc', 'sa'])
    expect(ccElements('cc0')).toEqual(['zero'])
    expect(ccElements('all-rights-reserved')).toBeNull()
  })
})

describe('tags', () => {
  it('reads tags separated by spaces or commas, without # or repeats', () => {
    expect(parseTags(' sunset, #Paris  film,paris 2024 été')).toEqual([
      'sunset',
      'Paris',
      'film',
      'été',
    ])
  })

  it('appends the tags the caption does not hold yet', () => {
    expect(captionWithTags('Evening in #paris', 'paris, sunset')).toBe(
      'Evening in #paris\n\n#sunset',
    )
    expect(captionWithTags('', 'a b')).toBe('#a #b')
    expect(captionWithTags(' Hello ', '')).toBe('Hello')
  })
})

describe('renditions', () => {
  const media = {
    url: '/ipfs/large',
    preview_url: '/ipfs/small',
    meta: {
      original: { width: 6000, height: 4000, aspect: 1.5 },
      small: { width: 640, height: 427, aspect: 1.5 },
    },
  } as MediaAttachment

  it('offers both renditions with their widths', () => {
    expect(largeWidth(media)).toBe(2048)
    expect(srcset(media)).toBe('/ipfs/small 640w, /ipfs/large 2048w')
  })

  it('never claims an upscaled large rendition', () => {
    expect(
      largeWidth({ ...media, meta: { original: { width: 1200, height: 1800, aspect: 0.67 } } }),
    ).toBe(1200)
    expect(
      largeWidth({ ...media, meta: { original: { width: 3000, height: 4000, aspect: 0.75 } } }),
    ).toBe(1536)
  })
})
