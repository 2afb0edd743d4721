// Prints `<path> <cid>` for each file given as an argument, computed by the reference JavaScript
// UnixFS importer with the parameters of `ipfs add --cid-version=1` (kubo's defaults for CIDv1).
// peerpx's Rust importer must produce the same CIDs: tests/it/ipfs.rs compares the two.
import { createReadStream } from 'node:fs'
import { BlackHoleBlockstore } from 'blockstore-core'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

// Spelled out rather than left to defaults: the importer's defaults (and its `profile` presets)
// have changed between versions, while kubo's `--cid-version=1` parameters have not.
const options = {
  cidVersion: 1,
  rawLeaves: true,
  reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: 262144 }),
  layout: balanced({ maxChildrenPerNode: 174 }),
  wrapWithDirectory: false
}

// Blocks are only hashed, not kept: the comparison needs CIDs, and files may be large.
const blockstore = new BlackHoleBlockstore()

for (const path of process.argv.slice(2)) {
  let root
  for await (const entry of importer([{ content: createReadStream(path) }], blockstore, options)) {
    root = entry.cid
  }
  console.log(`${path} ${root.toString()}`)
}
