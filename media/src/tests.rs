//! End-to-end tests of [`super::process`] on the fixtures in `tests/data/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;
use std::time::Instant;

use ::exif::{Context, Reader, Tag};
use image::ImageDecoder;
use sha2::{Digest, Sha256};

use super::*;
use crate::test_support::data;

fn run(name: &str, keep_location: bool) -> (tempfile::TempDir, Processed) {
    run_path(&data(name), keep_location)
}

fn run_path(path: &Path, keep_location: bool) -> (tempfile::TempDir, Processed) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        keep_location,
        ..Options::default()
    };
    let processed = process(path, &opts, dir.path()).unwrap();
    (dir, processed)
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// The payloads (after "Exif\0\0") of a JPEG's EXIF APP1 segments.
fn jpeg_exif_blocks(bytes: &[u8]) -> Vec<&[u8]> {
    let mut blocks = Vec::new();
    let mut i = 2;
    while i + 4 <= bytes.len() && bytes[i] == 0xFF && bytes[i + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        let payload = &bytes[i + 4..i + 2 + len];
        if bytes[i + 1] == 0xE1 && payload.starts_with(b"Exif\0\0") {
            blocks.push(&payload[6..]);
        }
        i += 2 + len;
    }
    blocks
}

/// Whether IFD0 of a TIFF block has an entry with this tag, read straight from the bytes.
fn ifd0_has_tag(tiff: &[u8], tag: u16) -> bool {
    let le = tiff.starts_with(b"II");
    let u16_at = |o: usize| {
        let b = [tiff[o], tiff[o + 1]];
        if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_at = |o: usize| {
        let b = [tiff[o], tiff[o + 1], tiff[o + 2], tiff[o + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let ifd = u32_at(4) as usize;
    let count = usize::from(u16_at(ifd));
    (0..count).any(|k| u16_at(ifd + 2 + 12 * k) == tag)
}

/// EXIF of any container, read leniently: the fixtures' EXIF sub-IFDs have a non-zero "next
/// IFD" that kamadak-exif's strict mode rejects. `None` when the file has no EXIF at all.
fn read_exif(path: &Path) -> Option<::exif::Exif> {
    let file = File::open(path).unwrap();
    match Reader::new()
        .continue_on_error(true)
        .read_from_container(&mut BufReader::new(file))
        .or_else(|e| e.distill_partial_result(|_| {}))
    {
        Ok(exif) => Some(exif),
        Err(::exif::Error::NotFound(_)) => None,
        Err(e) => panic!("{}: unreadable EXIF: {e}", path.display()),
    }
}

/// Fails if the file carries anything of the GPS IFD, by kamadak-exif and, for JPEG, by the raw
/// IFD0 entries of every EXIF segment.
fn assert_no_gps(path: &Path) {
    if let Some(exif) = read_exif(path) {
        let gps: Vec<_> = exif
            .fields()
            .filter(|f| f.tag.context() == Context::Gps || f.tag == Tag::GPSInfoIFDPointer)
            .map(|f| f.tag)
            .collect();
        assert!(gps.is_empty(), "{} has {gps:?}", path.display());
    }
    let bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(&[0xFF, 0xD8]) {
        for block in jpeg_exif_blocks(&bytes) {
            assert!(!ifd0_has_tag(block, 0x8825), "{}", path.display());
            let pointer: [u8; 2] = if block.starts_with(b"II") {
                [0x25, 0x88]
            } else {
                [0x88, 0x25]
            };
            assert!(
                !block.windows(2).any(|w| w == pointer),
                "{}: 0x8825 in the EXIF bytes",
                path.display()
            );
        }
    }
}

fn all_outputs(p: &Processed) -> [&Path; 3] {
    [&p.original.path, &p.small.path, &p.large.path]
}

#[test]
fn astronaut_loses_its_gps_everywhere_but_keeps_its_camera() {
    let (_dir, p) = run("astronaut-exif-gps.jpg", false);
    assert_eq!(p.format, SourceFormat::Jpeg);
    let e = &p.exif;
    assert_eq!(e.camera_make.as_deref(), Some("Canon"));
    assert_eq!(e.camera_model.as_deref(), Some("Canon EOS 5D Mark IV"));
    assert_eq!(e.lens_model.as_deref(), Some("EF24-70mm f/2.8L II USM"));
    assert_eq!(e.exposure_time.as_deref(), Some("1/250"));
    assert_eq!(e.f_number, Some(5.6));
    assert_eq!(e.iso, Some(200));
    assert_eq!(e.focal_length_mm, Some(50.0));
    assert_eq!(e.taken_at.as_deref(), Some("2024-06-01T10:30:00"));
    assert_eq!(e.location, None);
    assert!(!serde_json::to_string(&p).unwrap().contains("latitude"));

    assert!(p.original.stripped);
    for path in all_outputs(&p) {
        assert_no_gps(path);
    }
    // The clean EXIF block still names the camera.
    let kept = exif::read_summary(&p.original.path);
    assert_eq!(kept.camera_model.as_deref(), Some("Canon EOS 5D Mark IV"));
    assert_eq!(kept.location, None);
    // Lossless: everything from the first SOS on is byte-identical.
    let input = std::fs::read(data("astronaut-exif-gps.jpg")).unwrap();
    let output = std::fs::read(&p.original.path).unwrap();
    let sos = |b: &[u8]| b.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    assert_eq!(&input[sos(&input)..], &output[sos(&output)..]);
    assert!(output.len() < input.len());
    assert_eq!((p.original.width, p.original.height), (512, 512));
    assert_eq!((p.large.width, p.large.height), (512, 512));
    assert_eq!((p.small.width, p.small.height), (512, 512));
    assert_eq!(p.blurhash.len(), 28);
    assert!(
        p.blurhash.chars().all(blurhash::is_base83),
        "{}",
        p.blurhash
    );
    eprintln!("astronaut: blurhash {}", p.blurhash);
}

#[test]
fn astronaut_keeps_its_location_when_asked() {
    let (_dir, p) = run("astronaut-exif-gps.jpg", true);
    assert!(!p.original.stripped);
    assert_eq!(
        sha256(&p.original.path),
        sha256(&data("astronaut-exif-gps.jpg"))
    );
    let loc = p.exif.location.expect("location kept");
    assert!((loc.latitude - 48.858370).abs() < 1e-5, "{loc:?}");
    assert!((loc.longitude - 2.294481).abs() < 1e-5, "{loc:?}");
    let exif = read_exif(&p.original.path).unwrap();
    assert!(exif
        .get_field(Tag::GPSLatitude, ::exif::In::PRIMARY)
        .is_some());
    // Renditions never carry metadata, location or not.
    assert_no_gps(&p.small.path);
    assert_no_gps(&p.large.path);
}

#[test]
fn sideways_photo_comes_out_upright() {
    let (_dir, p) = run("chelsea-orientation-6.jpg", false);
    assert_eq!((p.original.width, p.original.height), (451, 300));
    assert_eq!((p.large.width, p.large.height), (451, 300));
    assert_eq!((p.small.width, p.small.height), (451, 300));
    assert_eq!(p.exif.orientation, Some(6));
    let small = image::open(&p.small.path).unwrap();
    assert!(small.width() > small.height());
    // The stripped original keeps Orientation 6 (its pixels are untouched), so it still displays
    // upright wherever orientation is honoured.
    for path in all_outputs(&p) {
        assert_no_gps(path);
    }
    assert_eq!(exif::read_summary(&p.original.path).orientation, Some(6));
    let mut decoder = image::ImageReader::open(&p.original.path)
        .unwrap()
        .into_decoder()
        .unwrap();
    let orientation = decoder.orientation().unwrap();
    let mut shown = image::DynamicImage::from_decoder(decoder).unwrap();
    shown.apply_orientation(orientation);
    assert_eq!((shown.width(), shown.height()), (451, 300));
}

#[test]
fn twelve_megapixels_scaled_to_both_renditions() {
    let started = Instant::now();
    let (_dir, p) = run("coffee-12mp-gps.jpg", false);
    let elapsed = started.elapsed();
    assert_eq!((p.original.width, p.original.height), (4000, 3000));
    assert_eq!((p.large.width, p.large.height), (2048, 1536));
    assert_eq!((p.small.width, p.small.height), (640, 480));
    assert_eq!(p.large.content_type, "image/jpeg");
    for path in all_outputs(&p) {
        assert_no_gps(path);
    }
    let large = image::open(&p.large.path).unwrap();
    assert_eq!((large.width(), large.height()), (2048, 1536));
    eprintln!(
        "coffee-12mp-gps.jpg processed in {elapsed:?}: original {} B (input 1184180 B), \
         large {} B, small {} B, blurhash {}",
        p.original.bytes, p.large.bytes, p.small.bytes, p.blurhash
    );
}

#[test]
fn files_with_nothing_to_strip_are_kept_byte_exact() {
    for name in [
        "rocket.jpg",
        "coffee.png",
        "hubble-deep-field.jpg",
        "rocket.webp",
    ] {
        let (_dir, p) = run(name, false);
        assert!(!p.original.stripped, "{name}");
        assert_eq!(sha256(&p.original.path), sha256(&data(name)), "{name}");
        assert_eq!(
            p.original.bytes,
            std::fs::metadata(data(name)).unwrap().len()
        );
    }
}

#[test]
fn webp_is_accepted() {
    let (_dir, p) = run("rocket.webp", false);
    assert_eq!(p.format, SourceFormat::WebP);
    assert_eq!(p.original.content_type, "image/webp");
    assert!(p.original.path.ends_with("original.webp"));
    assert_eq!((p.large.width, p.large.height), (640, 427));
    assert_eq!((p.small.width, p.small.height), (640, 427));
    assert_eq!(p.small.content_type, "image/jpeg");
    image::open(&p.small.path).unwrap();
}

#[test]
fn transparency_survives_as_png() {
    let (_dir, p) = run("coffee-alpha.png", false);
    for r in [&p.small, &p.large] {
        assert_eq!(r.content_type, "image/png");
        assert!(r.path.extension().is_some_and(|e| e == "png"));
        let img = image::open(&r.path).unwrap();
        assert!(img.color().has_alpha());
        assert!(img.to_rgba8().pixels().any(|px| px[3] < 255));
    }
    // An opaque PNG becomes JPEG renditions.
    let (_dir, p) = run("coffee.png", false);
    assert_eq!(p.small.content_type, "image/jpeg");
}

#[test]
fn icc_profile_is_carried_into_the_renditions() {
    let source_icc = {
        let mut d = image::codecs::jpeg::JpegDecoder::new(BufReader::new(
            File::open(data("hubble-deep-field.jpg")).unwrap(),
        ))
        .unwrap();
        d.icc_profile().unwrap().expect("the fixture has a profile")
    };
    let (_dir, p) = run("hubble-deep-field.jpg", false);
    for r in [&p.small, &p.large] {
        let mut d =
            image::codecs::jpeg::JpegDecoder::new(BufReader::new(File::open(&r.path).unwrap()))
                .unwrap();
        assert_eq!(d.icc_profile().unwrap().as_ref(), Some(&source_icc));
    }
}

/// The astronaut's raw EXIF (TIFF) block, GPS included.
fn gps_tiff() -> Vec<u8> {
    let file = File::open(data("astronaut-exif-gps.jpg")).unwrap();
    ::exif::get_exif_attr_from_jpeg(&mut BufReader::new(file)).unwrap()
}

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

#[test]
fn png_exif_with_gps_is_rewritten() {
    let src = std::fs::read(data("coffee.png")).unwrap();
    let tiff = gps_tiff();
    let mut png = src[..33].to_vec(); // signature + IHDR
    png.extend_from_slice(&(tiff.len() as u32).to_be_bytes());
    png.extend_from_slice(b"eXIf");
    png.extend_from_slice(&tiff);
    let mut crc = crc32fast::Hasher::new();
    crc.update(b"eXIf");
    crc.update(&tiff);
    png.extend_from_slice(&crc.finalize().to_be_bytes());
    png.extend_from_slice(&src[33..]);
    let f = temp_file(&png);
    assert!(exif::read_summary(f.path()).location.is_some());
    let (_dir, p) = run_path(f.path(), false);
    assert!(p.original.stripped);
    assert_eq!(p.exif.camera_make.as_deref(), Some("Canon"));
    for path in all_outputs(&p) {
        assert_no_gps(path);
    }
    let kept = exif::read_summary(&p.original.path);
    assert_eq!(kept.camera_model.as_deref(), Some("Canon EOS 5D Mark IV"));
    image::open(&p.original.path).expect("still a valid PNG");
}

#[test]
fn webp_exif_with_gps_is_rewritten_and_the_riff_stays_valid() {
    let src = std::fs::read(data("rocket.webp")).unwrap();
    let tiff = gps_tiff();
    let mut body = b"WEBP".to_vec();
    body.extend_from_slice(b"VP8X");
    body.extend_from_slice(&10u32.to_le_bytes());
    body.extend_from_slice(&[0x08, 0, 0, 0]); // EXIF flag
    body.extend_from_slice(&(640u32 - 1).to_le_bytes()[..3]);
    body.extend_from_slice(&(427u32 - 1).to_le_bytes()[..3]);
    body.extend_from_slice(&src[12..]); // the VP8 chunk
    body.extend_from_slice(b"EXIF");
    body.extend_from_slice(&(tiff.len() as u32).to_le_bytes());
    body.extend_from_slice(&tiff);
    if tiff.len() % 2 == 1 {
        body.push(0);
    }
    let mut webp = b"RIFF".to_vec();
    webp.extend_from_slice(&(body.len() as u32).to_le_bytes());
    webp.extend_from_slice(&body);
    let f = temp_file(&webp);
    assert!(exif::read_summary(f.path()).location.is_some());

    let (_dir, p) = run_path(f.path(), false);
    assert!(p.original.stripped);
    for path in all_outputs(&p) {
        assert_no_gps(path);
    }
    let out = std::fs::read(&p.original.path).unwrap();
    let riff = u32::from_le_bytes([out[4], out[5], out[6], out[7]]) as usize;
    assert_eq!(riff + 8, out.len());
    assert_eq!(out[20] & 0x08, 0x08, "a clean EXIF chunk remains, flagged");
    let kept = exif::read_summary(&p.original.path);
    assert_eq!(kept.camera_make.as_deref(), Some("Canon"));
    let img = image::open(&p.original.path).unwrap();
    assert_eq!((img.width(), img.height()), (640, 427));
}

fn refuse(path: &Path) -> PipelineError {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let err = process(path, &Options::default(), &out).unwrap_err();
    assert!(!out.exists(), "nothing is written for a refused upload");
    err
}

#[test]
fn bad_files_are_refused_with_clear_errors() {
    assert_eq!(refuse(&data("bad-truncated.jpg")), PipelineError::Truncated);
    assert_eq!(
        refuse(&data("bad-not-an-image.jpg")),
        PipelineError::NotAnImage
    );
    let heic = temp_file(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\x08free");
    let err = refuse(heic.path());
    assert_eq!(
        err,
        PipelineError::UnsupportedFormat {
            found: "HEIC".into()
        }
    );
    let message = err.to_string();
    for name in ["JPEG", "PNG", "WebP"] {
        assert!(message.contains(name), "{message}");
    }
    let empty = temp_file(b"");
    assert_eq!(refuse(empty.path()), PipelineError::NotAnImage);
}

#[test]
fn decompression_bomb_is_refused_before_decoding() {
    let started = Instant::now();
    let err = refuse(&data("bad-bomb-20000x20000.png"));
    let elapsed = started.elapsed();
    assert_eq!(
        err,
        PipelineError::TooManyPixels {
            width: 20000,
            height: 20000,
            max: 100_000_000
        }
    );
    eprintln!("bomb refused in {elapsed:?}");
    // The decoder's own allocation limit is the second guard: with the header check out of the
    // way (a limit above 400 MP), max_alloc still stops it.
    let probe = sniff::Probe {
        format: SourceFormat::Png,
        width: 20000,
        height: 20000,
    };
    let tight = Limits {
        max_bytes: 40_000_000,
        max_pixels: 1_000_000,
    };
    let err = render::decode(
        &data("bad-bomb-20000x20000.png"),
        SourceFormat::Png,
        &probe,
        &tight,
    )
    .err()
    .expect("refused by max_alloc");
    assert_eq!(err.code(), "too_many_pixels");
}

#[test]
fn data_after_the_image_is_kept_unless_it_looks_like_metadata() {
    let rocket = std::fs::read(data("rocket.jpg")).unwrap();
    // A harmless 4 KB trailer (as Samsung phones write): the file is complete and kept exact.
    let mut plain = rocket.clone();
    plain.extend_from_slice(&[0x55; 4096]);
    let f = temp_file(&plain);
    let (_dir, p) = run_path(f.path(), false);
    assert!(!p.original.stripped);
    assert_eq!(std::fs::read(&p.original.path).unwrap(), plain);
    // An appended image with its own EXIF goes.
    let mut appended = rocket.clone();
    appended.extend_from_slice(b"\xFF\xD8\xFF\xE1\x00\x10Exif\0\0MM\0*\0\0\0\x08");
    appended.extend_from_slice(&[0u8; 2048]);
    let f = temp_file(&appended);
    let (_dir, p) = run_path(f.path(), false);
    assert!(p.original.stripped);
    assert_eq!(std::fs::read(&p.original.path).unwrap(), rocket);
    // The same for PNG.
    let coffee = std::fs::read(data("coffee.png")).unwrap();
    let mut png = coffee.clone();
    png.extend_from_slice(&[0x55; 4096]);
    let f = temp_file(&png);
    let (_dir, p) = run_path(f.path(), false);
    assert!(!p.original.stripped);
}
