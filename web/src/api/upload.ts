// Photo upload with progress: fetch cannot report upload progress, XMLHttpRequest can.

import { ApiError, errorFromBody } from './http'
import type { MediaAttachment } from './types'

export interface UploadHandle {
  promise: Promise<MediaAttachment>
  abort: () => void
}

/**
 * `POST /api/v2/media` (multipart `file`); `onProgress` gets 0..1. The upload starts as soon as
 * a file is picked, before its alt text is typed: the text follows with `PUT /api/v1/media/:id`
 * when the post is published.
 */
export function uploadMedia(
  file: File,
  token: string,
  onProgress: (fraction: number) => void,
): UploadHandle {
  const xhr = new XMLHttpRequest()
  const promise = new Promise<MediaAttachment>((resolve, reject) => {
    xhr.open('POST', '/api/v2/media')
    xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total)
    }
    xhr.onload = () => {
      let body: unknown = null
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        body = null
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1)
        resolve(body as MediaAttachment)
      } else {
        reject(errorFromBody(xhr.status, body))
      }
    }
    xhr.onerror = () => reject(new ApiError(0, 'network'))
    xhr.onabort = () => reject(new DOMException('aborted', 'AbortError'))
    const form = new FormData()
    form.append('file', file)
    xhr.send(form)
  })
  return { promise, abort: () => xhr.abort() }
}
