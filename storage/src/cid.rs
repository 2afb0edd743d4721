//! CIDs (content identifiers): which codec a block is in, and the multihash of its bytes.
//!
//! Only what peerpx stores and serves is supported: CIDv1 with sha2-256 (what the importer makes)
//! or the identity hash (the spec's `bafkqaaa` probe), and CIDv0 (`Qm…`), which names the same
//! dag-pb block as the CIDv1 with that multihash. Written as CIDv1 in lowercase base32, as kubo
//! does.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Multicodec of a block holding plain bytes (a file's leaf).
pub const RAW: u64 = 0x55;
/// Multicodec of a protobuf MerkleDAG node (a UnixFS file's parent nodes).
pub const DAG_PB: u64 = 0x70;
/// Multihash code of SHA-256.
pub const SHA2_256: u64 = 0x12;
/// Multihash code of the identity "hash": the digest is the block itself.
pub const IDENTITY: u64 = 0x00;
/// Identity CIDs longer than this are refused: they would be blocks smuggled in a URL.
const MAX_IDENTITY_LEN: usize = 128;

/// Why a string or byte sequence is not a CID peerpx can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CidError(String);

fn err<T>(message: impl Into<String>) -> Result<T, CidError> {
    Err(CidError(message.into()))
}

/// A CIDv1 (CIDv0 input is converted on parsing: same block, same multihash).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid {
    codec: u64,
    hash: u64,
    digest: Vec<u8>,
}

impl Cid {
    /// The sha2-256 CID of `bytes` encoded with `codec`.
    pub fn of_block(codec: u64, bytes: &[u8]) -> Self {
        Self {
            codec,
            hash: SHA2_256,
            digest: Sha256::digest(bytes).to_vec(),
        }
    }

    pub fn codec(&self) -> u64 {
        self.codec
    }

    pub fn multihash_code(&self) -> u64 {
        self.hash
    }

    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// An identity CID carries its block inside itself: nothing to store or fetch.
    pub fn inline_block(&self) -> Option<&[u8]> {
        (self.hash == IDENTITY).then_some(self.digest.as_slice())
    }

    /// Whether `bytes` are the block this CID names.
    pub fn verifies(&self, bytes: &[u8]) -> bool {
        match self.hash {
            SHA2_256 => Sha256::digest(bytes).as_slice() == self.digest.as_slice(),
            IDENTITY => bytes == self.digest.as_slice(),
            _ => false,
        }
    }

    /// The binary form: version, codec, multihash (code, length, digest).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.digest.len() + 6);
        for n in [1, self.codec, self.hash, self.digest.len() as u64] {
            put_varint(&mut out, n);
        }
        out.extend_from_slice(&self.digest);
        out
    }

    /// Reads a binary CID (v1, or a bare v0 multihash) at the start of `bytes`; returns it and
    /// how many bytes it took.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, usize), CidError> {
        if bytes.len() >= 34 && bytes[0] == 0x12 && bytes[1] == 0x20 {
            return Ok((Self::v0(&bytes[2..34]), 34));
        }
        let mut at = 0;
        let mut next = || read_varint(bytes, &mut at).ok_or_else(|| CidError("truncated".into()));
        let (version, codec, hash, len) = (next()?, next()?, next()?, next()?);
        if version != 1 {
            return err(format!("unsupported CID version {version}"));
        }
        let digest = read_digest(hash, len, &bytes[at..])?;
        let used = at + digest.len();
        Ok((
            Self {
                codec,
                hash,
                digest,
            },
            used,
        ))
    }

    /// Parses the text form: base32 (`b…`, `B…`) or base58btc (`z…`) CIDv1, or a `Qm…` CIDv0.
    pub fn parse(text: &str) -> Result<Self, CidError> {
        let bytes = if text.len() == 46 && text.starts_with("Qm") {
            let multihash = base58_decode(text)?;
            if multihash.len() != 34 || multihash[..2] != [0x12, 0x20] {
                return err("not a sha2-256 CIDv0");
            }
            return Ok(Self::v0(&multihash[2..]));
        } else if let Some(rest) = text.strip_prefix('b') {
            base32_decode(rest)?
        } else if let Some(rest) = text.strip_prefix('B') {
            base32_decode(&rest.to_ascii_lowercase())?
        } else if let Some(rest) = text.strip_prefix('z') {
            base58_decode(rest)?
        } else {
            return err("unsupported multibase: expected a base32 CIDv1 (`b…`) or a CIDv0 (`Qm…`)");
        };
        match Self::from_bytes(&bytes)? {
            (cid, used) if used == bytes.len() => Ok(cid),
            _ => err("trailing bytes after the CID"),
        }
    }

    fn v0(digest: &[u8]) -> Self {
        Self {
            codec: DAG_PB,
            hash: SHA2_256,
            digest: digest.to_vec(),
        }
    }
}

fn read_digest(hash: u64, len: u64, rest: &[u8]) -> Result<Vec<u8>, CidError> {
    let len = usize::try_from(len).map_err(|_| CidError("digest too long".into()))?;
    match hash {
        SHA2_256 if len != 32 => return err("a sha2-256 digest is 32 bytes"),
        SHA2_256 => {}
        IDENTITY if len > MAX_IDENTITY_LEN => return err("identity CID too long"),
        IDENTITY => {}
        other => {
            return err(format!(
                "unsupported hash function 0x{other:x} (only sha2-256 and identity)"
            ))
        }
    }
    rest.get(..len)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| CidError("truncated digest".into()))
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}", base32_encode(&self.to_bytes()))
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl FromStr for Cid {
    type Err = CidError;
    fn from_str(s: &str) -> Result<Self, CidError> {
        Self::parse(s)
    }
}

impl serde::Serialize for Cid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Appends `n` as an unsigned LEB128 varint (multiformats and protobuf use the same encoding).
pub fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a varint at `*at`, advancing it; `None` if truncated or longer than 64 bits.
pub fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn base32_decode(text: &str) -> Result<Vec<u8>, CidError> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let Some(v) = BASE32.iter().position(|&a| a == c) else {
            return err(format!("`{}` is not a base32 character", char::from(c)));
        };
        buffer = (buffer << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Ok(out)
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn base58_decode(text: &str) -> Result<Vec<u8>, CidError> {
    if text.len() > 256 {
        return err("too long for a CID");
    }
    // Big-endian base-256 digits, multiplied by 58 and added to for each input character.
    let mut out: Vec<u8> = Vec::new();
    for c in text.bytes() {
        let Some(v) = BASE58.iter().position(|&a| a == c) else {
            return err(format!("`{}` is not a base58 character", char::from(c)));
        };
        let mut carry = v as u32;
        for byte in out.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.insert(0, carry as u8);
            carry >>= 8;
        }
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    let mut bytes = vec![0; zeros];
    bytes.extend(out);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_empty_raw_block_has_kubos_cid() {
        let cid = Cid::of_block(RAW, b"");
        let text = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
        assert_eq!(cid.to_string(), text);
        assert_eq!(Cid::parse(text).unwrap(), cid);
    }

    #[test]
    fn cidv0_parses_as_the_same_dag_pb_block() {
        // The empty UnixFS directory, well known in both forms.
        let v0 = Cid::parse("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn").unwrap();
        assert_eq!(
            v0.to_string(),
            "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"
        );
        assert_eq!(v0.codec(), DAG_PB);
    }

    #[test]
    fn the_identity_probe_cid_is_an_empty_inline_block() {
        let probe = Cid::parse("bafkqaaa").unwrap();
        assert_eq!(probe.inline_block(), Some(&[][..]));
        assert_eq!(probe.to_string(), "bafkqaaa");
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        for bad in ["", "hello", "bafy!", "bafkreihdwdcefgh4dq", "Qm123"] {
            assert!(Cid::parse(bad).is_err(), "{bad}");
        }
        let mut blake3 = vec![1, 0x55, 0x1e, 0x20];
        blake3.extend([7; 32]);
        let e = Cid::parse(&format!("b{}", base32_encode(&blake3))).unwrap_err();
        assert!(e.to_string().contains("unsupported hash"), "{e}");
    }

    #[test]
    fn varints_round_trip() {
        for n in [0, 1, 127, 128, 300, 262144, u64::MAX] {
            let mut bytes = Vec::new();
            put_varint(&mut bytes, n);
            let mut at = 0;
            assert_eq!(read_varint(&bytes, &mut at), Some(n));
            assert_eq!(at, bytes.len());
        }
    }
}
