// A file on the upload page, from the moment it is picked until its post is published.

export interface Upload {
  key: number
  file: File
  preview: string
  progress: number
  state: 'queued' | 'uploading' | 'done' | 'error'
  error: unknown
  mediaId: string | null
  description: string
  abort?: () => void
}
