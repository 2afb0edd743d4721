//! BlurHash encoding (<https://blurha.sh>), the placeholder Mastodon clients paint while a photo
//! loads. Written out rather than taken from a crate because it is short and this version
//! precomputes the cosine bases and the sRGB→linear table, which makes it several times faster
//! on a 640 px rendition than the per-pixel `cos` and `powf` of the reference.

use image::RgbImage;

const BASE83: &[u8; 83] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

/// The characters a blurhash may contain.
pub fn is_base83(c: char) -> bool {
    c.is_ascii() && BASE83.contains(&(c as u8))
}

fn push_base83(out: &mut String, value: u32, digits: u32) {
    for i in (0..digits).rev() {
        let digit = (value / 83u32.pow(i)) % 83;
        out.push(char::from(BASE83[digit as usize]));
    }
}

fn srgb_to_linear(v: u8) -> f32 {
    let v = f32::from(v) / 255.0;
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_srgb(v: f32) -> u32 {
    let v = v.clamp(0.0, 1.0);
    if v <= 0.003_130_8 {
        (v * 12.92 * 255.0 + 0.5) as u32
    } else {
        ((1.055 * v.powf(1.0 / 2.4) - 0.055) * 255.0 + 0.5) as u32
    }
}

fn sign_pow(v: f32, exp: f32) -> f32 {
    v.abs().powf(exp).copysign(v)
}

/// Encodes `image` with `x` x `y` components (each 1..=9). The result is
/// `1 + 1 + 4 + 2 * (x * y - 1)` characters long: 28 for Mastodon's 4 x 3.
pub fn encode(x: u32, y: u32, image: &RgbImage) -> String {
    let (x, y) = (x.clamp(1, 9) as usize, y.clamp(1, 9) as usize);
    let (width, height) = (image.width() as usize, image.height() as usize);
    if width == 0 || height == 0 {
        return String::new();
    }
    let linear: Vec<f32> = (0..=255u8).map(srgb_to_linear).collect();
    // basis_x[i][px] = cos(π i px / width); likewise for rows.
    let basis = |n: usize, len: usize| -> Vec<Vec<f32>> {
        (0..n)
            .map(|i| {
                (0..len)
                    .map(|p| (std::f32::consts::PI * i as f32 * p as f32 / len as f32).cos())
                    .collect()
            })
            .collect()
    };
    let (basis_x, basis_y) = (basis(x, width), basis(y, height));

    // For each row, the sums over columns first (a separable transform): x sums of 3 channels.
    let mut factors = vec![[0f32; 3]; x * y];
    let raw = image.as_raw();
    let mut row_sums = vec![[0f32; 3]; x];
    for (py, row) in raw.chunks_exact(width * 3).enumerate() {
        row_sums.iter_mut().for_each(|s| *s = [0.0; 3]);
        for (px, p) in row.chunks_exact(3).enumerate() {
            let (r, g, b) = (
                linear[usize::from(p[0])],
                linear[usize::from(p[1])],
                linear[usize::from(p[2])],
            );
            for (i, sum) in row_sums.iter_mut().enumerate() {
                let c = basis_x[i][px];
                sum[0] += c * r;
                sum[1] += c * g;
                sum[2] += c * b;
            }
        }
        for j in 0..y {
            let c = basis_y[j][py];
            for i in 0..x {
                let f = &mut factors[j * x + i];
                f[0] += c * row_sums[i][0];
                f[1] += c * row_sums[i][1];
                f[2] += c * row_sums[i][2];
            }
        }
    }
    let pixels = (width * height) as f32;
    for (k, f) in factors.iter_mut().enumerate() {
        let normalisation = if k == 0 { 1.0 } else { 2.0 };
        for c in f.iter_mut() {
            *c *= normalisation / pixels;
        }
    }

    let mut out = String::with_capacity(4 + 2 * x * y);
    push_base83(&mut out, ((x - 1) + (y - 1) * 9) as u32, 1);
    let (dc, ac) = factors.split_at(1);
    let max_value = if ac.is_empty() {
        push_base83(&mut out, 0, 1);
        1.0
    } else {
        let actual = ac
            .iter()
            .flat_map(|f| f.iter())
            .fold(0f32, |m, v| m.max(v.abs()));
        let quantised = (actual * 166.0 - 0.5).floor().clamp(0.0, 82.0) as u32;
        push_base83(&mut out, quantised, 1);
        (quantised as f32 + 1.0) / 166.0
    };
    let dc_value = (linear_to_srgb(dc[0][0]) << 16)
        + (linear_to_srgb(dc[0][1]) << 8)
        + linear_to_srgb(dc[0][2]);
    push_base83(&mut out, dc_value, 4);
    for f in ac {
        let q = |v: f32| {
            (sign_pow(v / max_value, 0.5) * 9.0 + 9.5)
                .floor()
                .clamp(0.0, 18.0) as u32
        };
        push_base83(&mut out, q(f[0]) * 19 * 19 + q(f[1]) * 19 + q(f[2]), 2);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use image::Rgb;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    }

    #[test]
    fn length_and_alphabet() {
        let hash = encode(4, 3, &gradient(64, 48));
        assert_eq!(hash.len(), 28);
        assert!(hash.chars().all(is_base83), "{hash}");
        assert_eq!(encode(1, 1, &gradient(8, 8)).len(), 6);
    }

    #[test]
    fn a_flat_image_has_its_colour_as_dc() {
        let img = RgbImage::from_pixel(32, 32, Rgb([255, 0, 0]));
        let hash = encode(4, 3, &img);
        // DC = 0xFF0000 in four base-83 digits, after the size and maximum digits.
        let mut dc = String::new();
        push_base83(&mut dc, 0xFF0000, 4);
        assert_eq!(&hash[2..6], dc);
    }

    fn decode83(s: &str) -> u32 {
        s.bytes().fold(0, |v, c| {
            v * 83 + BASE83.iter().position(|&d| d == c).unwrap() as u32
        })
    }

    #[test]
    fn matches_the_reference_implementation() {
        for (w, h) in [(64, 48), (31, 17), (200, 10)] {
            let img = gradient(w, h);
            let rgba: Vec<u8> = img.pixels().flat_map(|p| [p[0], p[1], p[2], 255]).collect();
            let reference = ::blurhash::encode(4, 3, w, h, &rgba).unwrap();
            let ours = encode(4, 3, &img);
            assert_eq!(ours.len(), reference.len());
            // Size, maximum and every AC component agree exactly.
            assert_eq!(&ours[..2], &reference[..2], "{ours} vs {reference}");
            assert_eq!(&ours[6..], &reference[6..], "{ours} vs {reference}");
            // The DC colour may differ by one step per channel: the crate rounds where the
            // reference C and TypeScript encoders (which this one follows) truncate.
            let (a, b) = (decode83(&ours[2..6]), decode83(&reference[2..6]));
            for shift in [16, 8, 0] {
                let (ca, cb) = ((a >> shift) & 0xFF, (b >> shift) & 0xFF);
                assert!(ca.abs_diff(cb) <= 1, "{ours} vs {reference}");
            }
            let decoded = ::blurhash::decode(&ours, 8, 6, 1.0).unwrap();
            assert_eq!(decoded.len(), 8 * 6 * 4);
        }
    }
}
