//! EXIF: a summary of the camera settings for the photo page, and the clean rewrite of an EXIF
//! block that the stripped original carries instead of the uploaded one.
//!
//! The rewrite works from an allow-list rather than a deny-list: a field survives only if it is
//! known to describe the camera, the exposure or how to display the image. GPS, maker notes (which
//! some makers use for location and serial numbers), serial numbers, owner names, unique ids and
//! thumbnails (a thumbnail may show an earlier, uncropped picture) are all dropped.

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::Path;

use exif::{Context, Exif, Field, In, Reader, Tag, Value};
use serde::{Deserialize, Serialize};

/// Camera settings as a photo page shows them. Every field is optional: many files carry none.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExifSummary {
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    pub lens_model: Option<String>,
    /// As photographers write it: "1/250", "2", "1.3".
    pub exposure_time: Option<String>,
    pub exposure_seconds: Option<f64>,
    pub f_number: Option<f64>,
    pub iso: Option<u32>,
    pub focal_length_mm: Option<f64>,
    /// Local time as the camera recorded it, "YYYY-MM-DDTHH:MM:SS"; EXIF rarely says which time
    /// zone, so none is invented.
    pub taken_at: Option<String>,
    /// EXIF orientation, 1 (upright) to 8; the renditions already have it applied.
    pub orientation: Option<u16>,
    /// Only filled in when the uploader chose to keep the location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<GpsLocation>,
}

/// Decimal degrees, north and east positive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GpsLocation {
    pub latitude: f64,
    pub longitude: f64,
}

/// Reads the summary from any supported container; a file without (readable) EXIF gives an
/// empty summary, since EXIF is optional and never a reason to refuse a photo.
pub fn read_summary(path: &Path) -> ExifSummary {
    let Ok(file) = File::open(path) else {
        return ExifSummary::default();
    };
    let mut reader = BufReader::new(file);
    match Reader::new()
        .continue_on_error(true)
        .read_from_container(&mut reader)
        .or_else(|e| e.distill_partial_result(|_| {}))
    {
        Ok(exif) => summarize(&exif),
        Err(_) => ExifSummary::default(),
    }
}

/// Parses a raw EXIF (TIFF) block, keeping what could be read when part of it is damaged.
pub fn parse_raw(tiff: &[u8]) -> Option<(Exif, bool)> {
    match Reader::new()
        .continue_on_error(true)
        .read_raw(tiff.to_vec())
    {
        Ok(exif) => Some((exif, true)),
        Err(e) => e
            .distill_partial_result(|_| {})
            .ok()
            .map(|exif| (exif, false)),
    }
}

pub fn summarize(exif: &Exif) -> ExifSummary {
    let field = |tag| exif.get_field(tag, In::PRIMARY);
    let text = |tag| field(tag).and_then(|f| ascii(&f.value));
    let rational = |tag| field(tag).and_then(|f| first_rational(&f.value));
    let exposure = field(Tag::ExposureTime).and_then(|f| match &f.value {
        Value::Rational(v) if !v.is_empty() && v[0].denom != 0 => Some((v[0].num, v[0].denom)),
        _ => None,
    });
    ExifSummary {
        camera_make: text(Tag::Make),
        camera_model: text(Tag::Model),
        lens_model: text(Tag::LensModel),
        exposure_time: exposure.map(|(n, d)| exposure_text(n, d)),
        exposure_seconds: exposure.map(|(n, d)| f64::from(n) / f64::from(d)),
        f_number: rational(Tag::FNumber),
        iso: field(Tag::PhotographicSensitivity).and_then(|f| f.value.get_uint(0)),
        focal_length_mm: rational(Tag::FocalLength),
        taken_at: [Tag::DateTimeOriginal, Tag::DateTimeDigitized]
            .into_iter()
            .find_map(|tag| field(tag).and_then(|f| date_time(&f.value))),
        orientation: field(Tag::Orientation)
            .and_then(|f| f.value.get_uint(0))
            .and_then(|o| u16::try_from(o).ok())
            .filter(|o| (1..=8).contains(o)),
        location: location(exif),
    }
}

fn ascii(value: &Value) -> Option<String> {
    let Value::Ascii(parts) = value else {
        return None;
    };
    let raw = parts.first()?;
    let s = String::from_utf8_lossy(raw);
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

fn first_rational(value: &Value) -> Option<f64> {
    match value {
        Value::Rational(v) => v.first().filter(|r| r.denom != 0).map(|r| r.to_f64()),
        _ => None,
    }
}

/// "1/250" for fractions of a second, "2" or "1.3" for longer exposures.
fn exposure_text(num: u32, denom: u32) -> String {
    let seconds = f64::from(num) / f64::from(denom);
    if num == 0 {
        "0".to_string()
    } else if seconds < 1.0 {
        format!("1/{}", (1.0 / seconds).round())
    } else if (seconds - seconds.round()).abs() < 1e-9 {
        format!("{seconds:.0}")
    } else {
        format!("{seconds:.1}")
    }
}

/// "2024:06:01 10:30:00" → "2024-06-01T10:30:00"; anything malformed → None.
fn date_time(value: &Value) -> Option<String> {
    let Value::Ascii(parts) = value else {
        return None;
    };
    let dt = exif::DateTime::from_ascii(parts.first()?).ok()?;
    if dt.year == 0 || !(1..=12).contains(&dt.month) || !(1..=31).contains(&dt.day) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second
    ))
}

fn location(exif: &Exif) -> Option<GpsLocation> {
    let degrees = |value_tag, ref_tag, negative: u8| {
        let f = exif.get_field(value_tag, In::PRIMARY)?;
        let Value::Rational(v) = &f.value else {
            return None;
        };
        if v.len() < 3 || v.iter().any(|r| r.denom == 0) {
            return None;
        }
        let deg = v[0].to_f64() + v[1].to_f64() / 60.0 + v[2].to_f64() / 3600.0;
        let sign = match exif.get_field(ref_tag, In::PRIMARY).map(|f| &f.value) {
            Some(Value::Ascii(r)) if r.first().and_then(|s| s.first()) == Some(&negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * deg)
    };
    let latitude = degrees(Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S')?;
    let longitude = degrees(Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W')?;
    ((-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude)).then_some(
        GpsLocation {
            latitude,
            longitude,
        },
    )
}

/// Whether the block has anything in the GPS IFD (or a pointer to one).
pub fn has_location(exif: &Exif) -> bool {
    exif.fields()
        .any(|f| f.tag.context() == Context::Gps || f.tag == Tag::GPSInfoIFDPointer)
}

/// The fields a clean EXIF block keeps: display (orientation, resolution), camera and lens
/// model, exposure settings, dates and copyright. Everything else is dropped.
fn allowed(tag: Tag) -> bool {
    matches!(
        tag,
        Tag::Orientation
            | Tag::XResolution
            | Tag::YResolution
            | Tag::ResolutionUnit
            | Tag::YCbCrPositioning
            | Tag::Make
            | Tag::Model
            | Tag::Software
            | Tag::DateTime
            | Tag::Artist
            | Tag::Copyright
            | Tag::ExifVersion
            | Tag::ExposureTime
            | Tag::FNumber
            | Tag::ExposureProgram
            | Tag::PhotographicSensitivity
            | Tag::SensitivityType
            | Tag::RecommendedExposureIndex
            | Tag::DateTimeOriginal
            | Tag::DateTimeDigitized
            | Tag::OffsetTime
            | Tag::OffsetTimeOriginal
            | Tag::OffsetTimeDigitized
            | Tag::SubSecTime
            | Tag::SubSecTimeOriginal
            | Tag::SubSecTimeDigitized
            | Tag::ComponentsConfiguration
            | Tag::ShutterSpeedValue
            | Tag::ApertureValue
            | Tag::BrightnessValue
            | Tag::ExposureBiasValue
            | Tag::MaxApertureValue
            | Tag::MeteringMode
            | Tag::LightSource
            | Tag::Flash
            | Tag::FocalLength
            | Tag::ColorSpace
            | Tag::PixelXDimension
            | Tag::PixelYDimension
            | Tag::ExposureMode
            | Tag::WhiteBalance
            | Tag::DigitalZoomRatio
            | Tag::FocalLengthIn35mmFilm
            | Tag::SceneCaptureType
            | Tag::Contrast
            | Tag::Saturation
            | Tag::Sharpness
            | Tag::SubjectDistanceRange
            | Tag::LensSpecification
            | Tag::LensMake
            | Tag::LensModel
    )
}

/// Re-encodes the allowed fields of the primary image as a TIFF block in the source's byte
/// order. `None` when nothing is left to keep (or the block cannot be written), in which case
/// the caller drops the block altogether.
pub fn clean_tiff(exif: &Exif) -> Option<Vec<u8>> {
    let kept: Vec<&Field> = exif
        .fields()
        .filter(|f| f.ifd_num == In::PRIMARY && f.tag.context() != Context::Gps)
        .filter(|f| allowed(f.tag) && !matches!(f.value, Value::Unknown(..)))
        .collect();
    if kept.is_empty() {
        return None;
    }
    let mut writer = exif::experimental::Writer::new();
    for field in &kept {
        writer.push_field(field);
    }
    let mut out = Cursor::new(Vec::new());
    writer.write(&mut out, exif.little_endian()).ok()?;
    Some(out.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::test_support::data;

    #[test]
    fn astronaut_summary_matches_the_fixture() {
        let s = read_summary(&data("astronaut-exif-gps.jpg"));
        assert_eq!(s.camera_make.as_deref(), Some("Canon"));
        assert_eq!(s.camera_model.as_deref(), Some("Canon EOS 5D Mark IV"));
        assert_eq!(s.lens_model.as_deref(), Some("EF24-70mm f/2.8L II USM"));
        assert_eq!(s.exposure_time.as_deref(), Some("1/250"));
        assert_eq!(s.exposure_seconds, Some(1.0 / 250.0));
        assert_eq!(s.f_number, Some(5.6));
        assert_eq!(s.iso, Some(200));
        assert_eq!(s.focal_length_mm, Some(50.0));
        assert_eq!(s.taken_at.as_deref(), Some("2024-06-01T10:30:00"));
        let loc = s.location.expect("the fixture has GPS");
        assert!((loc.latitude - 48.858370).abs() < 1e-5, "{loc:?}");
        assert!((loc.longitude - 2.294481).abs() < 1e-5, "{loc:?}");
    }

    #[test]
    fn southern_and_sideways_fixtures() {
        let s = read_summary(&data("coffee-12mp-gps.jpg"));
        assert_eq!(s.camera_make.as_deref(), Some("NIKON CORPORATION"));
        assert_eq!(s.exposure_time.as_deref(), Some("1/60"));
        assert_eq!(s.taken_at.as_deref(), Some("2025-03-15T08:12:44"));
        let loc = s.location.unwrap();
        assert!((loc.latitude + 33.856784).abs() < 1e-5, "{loc:?}");
        assert!((loc.longitude - 151.215297).abs() < 1e-5, "{loc:?}");
        let s = read_summary(&data("chelsea-orientation-6.jpg"));
        assert_eq!(s.orientation, Some(6));
        assert_eq!(s.f_number, Some(2.0));
        assert_eq!(read_summary(&data("rocket.jpg")), ExifSummary::default());
    }

    #[test]
    fn clean_block_keeps_camera_and_orientation_but_no_gps() {
        let file = File::open(data("chelsea-orientation-6.jpg")).unwrap();
        let tiff = exif::get_exif_attr_from_jpeg(&mut BufReader::new(file)).unwrap();
        // The fixture's sub-IFDs end with a non-zero "next IFD": readable, but not complete.
        let (exif, complete) = parse_raw(&tiff).unwrap();
        assert!(!complete);
        assert!(has_location(&exif));
        let clean = clean_tiff(&exif).unwrap();
        let (back, complete) = parse_raw(&clean).unwrap();
        assert!(complete);
        assert!(!has_location(&back));
        let s = summarize(&back);
        assert_eq!(s.orientation, Some(6));
        assert_eq!(s.camera_model.as_deref(), Some("X-T4"));
        assert_eq!(s.taken_at.as_deref(), Some("2023-12-24T18:05:00"));
        assert_eq!(s.location, None);
    }

    #[test]
    fn exposure_is_written_the_way_photographers_write_it() {
        assert_eq!(exposure_text(1, 250), "1/250");
        assert_eq!(exposure_text(10, 2500), "1/250");
        assert_eq!(exposure_text(2, 1), "2");
        assert_eq!(exposure_text(13, 10), "1.3");
    }
}
