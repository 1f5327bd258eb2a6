//! The picture fingerprint: what "the same picture" means.
//!
//! Linq downloads a source image and rehosts its own copy on its CDN
//! (LINQ_API.md, "What a contact card is"): possibly re-encoded (JPEG/WebP at
//! some quality), resized, and with transparency flattened. The fingerprint
//! must call all of those the same picture, and still tell apart another logo,
//! the same logo recoloured, or a banner whose small text changed.
//!
//! # Design
//! - **Decode** the sniffed format (PNG, JPEG, WebP, GIF's first frame) with
//!   decoder limits, so a decompression bomb fails instead of eating memory.
//! - **Area-average** the picture onto a fixed [`GRID`]×[`GRID`] grid, with exact
//!   fractional pixel coverage. Area averaging is what every decent
//!   downscaler approximates, so a copy scaled to ½ or ¼ lands on almost the
//!   same cells, and it averages JPEG's 8×8-block noise away.
//! - Cells hold **premultiplied** colour plus alpha. Flattening onto a
//!   background is linear (`c·a + bg·(1−a)`), so it commutes with averaging:
//!   the fingerprint of a transparent PNG can be flattened afterwards and
//!   equals the fingerprint of the flattened copy. A rehoster that drops alpha
//!   (JPEG) paints transparent pixels white or black; an opaque copy is compared
//!   against the transparent original flattened on **white and on black**, and
//!   matches if either fits. Two transparent images must match on both (that
//!   compares their alpha too).
//! - The **aspect ratio** must agree (within [`ASPECT_TOLERANCE`] plus one
//!   pixel of rounding) since the grid itself squashes every picture square.
//! - Cells are compared at a resolution **both** pictures really have: grid
//!   cells are merged (per axis, by powers of two) until each spans at least
//!   [`MIN_CELL_PIXELS`] pixels of the smaller picture. Below that, JPEG's 2×2
//!   chroma subsampling and 8×8 blocks dominate single cells of a small copy.
//! - **Metric**: per cell, the largest per-channel difference (a recolour moves
//!   one channel a lot even when brightness stays). Two numbers decide:
//!   the **mean** over all cells (global changes: recolour, another logo) and
//!   the **worst block**: the root mean square over each [`BLOCK`]×[`BLOCK`]
//!   cell block, maxed over blocks. A small text change moves a few cells by a
//!   lot, which vanishes in the global mean but not in its block (and the
//!   square favours a few large differences over many small ones);
//!   re-encoding noise is spread thinly everywhere and stays low in every
//!   block.
//!
//! The thresholds ([`MAX_MEAN`], [`MAX_BLOCK`]) were measured on generated
//! pictures (tests/images.rs prints every score): JPEG at quality 30–95,
//! WebP, GIF and ½/¼ downscales with three filters, opaque or transparent,
//! score at most mean 2.4 / block 7.9 (JPEG q30; q50 and better stay under
//! 6.6). The smallest deliberate change tested (one digit of a banner's price,
//! the copy also halved and re-encoded) scores block 11.2, a slight recolour
//! mean 10 / block 50, another logo mean 57. The margin on the "same" side is
//! widest for realistic rehosting (q75+: block ≤ 4.6); a rehoster that
//! degraded pictures far more would read as a change, and a wrong verdict
//! either way has the `--replace-image` escape hatch.

use std::io::Cursor;

use sha2::{Digest, Sha256};

use super::sniff::ImageKind;

/// Cells per side of the fingerprint grid.
pub const GRID: usize = 64;
/// Cells per side of a block for the worst-block score.
pub const BLOCK: usize = 4;
/// Largest mean cell difference (0–255 scale) still the same picture.
pub const MAX_MEAN: f32 = 4.0;
/// Largest root-mean-square cell difference in any block still the same picture.
pub const MAX_BLOCK: f32 = 9.5;
/// Pixels of the smaller picture a compared cell spans at least (per axis).
pub const MIN_CELL_PIXELS: usize = 4;
/// Relative aspect-ratio difference tolerated (on top of one pixel of rounding).
pub const ASPECT_TOLERANCE: f64 = 0.02;

/// Pictures larger than this in either dimension are refused (decode limits).
const MAX_DIMENSION: u32 = 12_000;
/// Decoder memory cap.
const MAX_ALLOC: u64 = 400 * 1024 * 1024;

/// A decoded picture reduced to what comparison needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    pub width: u32,
    pub height: u32,
    /// SHA-256 of the encoded bytes, for the same-bytes short cut.
    pub sha256: String,
    /// `GRID*GRID` cells of premultiplied `[r, g, b, a]`, 0–255, row-major.
    pub cells: Vec<[u8; 4]>,
}

/// How two fingerprints compare, with the numbers that decided it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub same: bool,
    /// Mean cell difference (0–255), at the best-fitting background.
    pub mean: f32,
    /// Worst block's mean cell difference (0–255).
    pub block: f32,
    /// Whether the aspect ratios disagreed (then `mean`/`block` are not computed).
    pub aspect_mismatch: bool,
}

/// Why bytes could not be fingerprinted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("could not be decoded as {kind}: {reason}")]
    Invalid { kind: &'static str, reason: String },
    #[error("is too large to decode ({0})")]
    TooLarge(String),
    #[error("has no pixels")]
    Empty,
}

/// SHA-256 of some bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl Fingerprint {
    /// Decode `bytes` (already sniffed as `kind`) and fingerprint them.
    pub fn from_bytes(bytes: &[u8], kind: ImageKind) -> Result<Fingerprint, DecodeError> {
        let format = match kind {
            ImageKind::Png => image::ImageFormat::Png,
            ImageKind::Jpeg => image::ImageFormat::Jpeg,
            ImageKind::WebP => image::ImageFormat::WebP,
            ImageKind::Gif => image::ImageFormat::Gif,
        };
        let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_DIMENSION);
        limits.max_image_height = Some(MAX_DIMENSION);
        limits.max_alloc = Some(MAX_ALLOC);
        reader.limits(limits);
        // For GIF this decodes the first frame only, which is what a contact
        // card shows.
        let decoded = reader.decode().map_err(|e| match e {
            image::ImageError::Limits(l) => DecodeError::TooLarge(l.to_string()),
            other => DecodeError::Invalid {
                kind: kind.mime(),
                reason: other.to_string(),
            },
        })?;
        let rgba = decoded.to_rgba8();
        if rgba.width() == 0 || rgba.height() == 0 {
            return Err(DecodeError::Empty);
        }
        Ok(Fingerprint::from_rgba(&rgba, sha256_hex(bytes)))
    }

    /// Fingerprint already-decoded pixels.
    pub fn from_rgba(img: &image::RgbaImage, sha256: String) -> Fingerprint {
        let (w, h) = img.dimensions();
        let xs = axis_weights(w as usize);
        let ys = axis_weights(h as usize);
        // Accumulate premultiplied colour and alpha per cell, weighted by the
        // fraction of the source pixel that falls in the cell.
        let mut acc = vec![[0f64; 4]; GRID * GRID];
        let mut area = vec![0f64; GRID * GRID];
        let mut row = vec![[0f64; 4]; GRID];
        let mut row_area = vec![0f64; GRID];
        for (y, yw) in ys.iter().enumerate() {
            row.iter_mut().for_each(|c| *c = [0.0; 4]);
            row_area.iter_mut().for_each(|a| *a = 0.0);
            for (x, xw) in xs.iter().enumerate() {
                let p = img.get_pixel(x as u32, y as u32).0;
                let a = f64::from(p[3]) / 255.0;
                let px = [
                    f64::from(p[0]) * a,
                    f64::from(p[1]) * a,
                    f64::from(p[2]) * a,
                    f64::from(p[3]),
                ];
                for &(cx, wx) in xw {
                    let c = &mut row[cx];
                    for i in 0..4 {
                        c[i] += px[i] * wx;
                    }
                    row_area[cx] += wx;
                }
            }
            for &(cy, wy) in yw {
                for cx in 0..GRID {
                    let cell = &mut acc[cy * GRID + cx];
                    for i in 0..4 {
                        cell[i] += row[cx][i] * wy;
                    }
                    area[cy * GRID + cx] += row_area[cx] * wy;
                }
            }
        }
        let cells = acc
            .iter()
            .zip(&area)
            .map(|(c, &a)| {
                let a = if a > 0.0 { a } else { 1.0 };
                let q = |v: f64| (v / a).round().clamp(0.0, 255.0) as u8;
                [q(c[0]), q(c[1]), q(c[2]), q(c[3])]
            })
            .collect();
        Fingerprint {
            width: w,
            height: h,
            sha256,
            cells,
        }
    }

    /// Whether any cell is noticeably transparent.
    pub fn has_alpha(&self) -> bool {
        self.cells.iter().any(|c| c[3] < 250)
    }

    /// Compare two pictures. Same bytes are always the same picture.
    pub fn compare(&self, other: &Fingerprint) -> Comparison {
        if self.sha256 == other.sha256 {
            return Comparison {
                same: true,
                mean: 0.0,
                block: 0.0,
                aspect_mismatch: false,
            };
        }
        if !aspect_matches(self, other) {
            return Comparison {
                same: false,
                mean: f32::INFINITY,
                block: f32::INFINITY,
                aspect_mismatch: true,
            };
        }
        let fx = pool_factor(self.width.min(other.width));
        let fy = pool_factor(self.height.min(other.height));
        let a = Grid::pooled(&self.cells, fx, fy);
        let b = Grid::pooled(&other.cells, fx, fy);
        let (mean, block) = match (self.has_alpha(), other.has_alpha()) {
            // Both carry alpha: they must agree on any background.
            (true, true) => {
                let w = score(&a.flattened(255.0), &b.flattened(255.0), a.w, a.h);
                let k = score(&a.flattened(0.0), &b.flattened(0.0), a.w, a.h);
                (w.0.max(k.0), w.1.max(k.1))
            }
            // One lost its alpha: it was flattened on white or on black.
            (true, false) | (false, true) => {
                let (clear, opaque) = if self.has_alpha() { (&a, &b) } else { (&b, &a) };
                let flat = opaque.flattened(255.0);
                let w = score(&clear.flattened(255.0), &flat, a.w, a.h);
                let k = score(&clear.flattened(0.0), &flat, a.w, a.h);
                if w.1 <= k.1 {
                    w
                } else {
                    k
                }
            }
            (false, false) => score(&a.flattened(255.0), &b.flattened(255.0), a.w, a.h),
        };
        Comparison {
            same: mean <= MAX_MEAN && block <= MAX_BLOCK,
            mean,
            block,
            aspect_mismatch: false,
        }
    }
}

/// How many grid cells to merge along an axis so that each compared cell
/// spans at least [`MIN_CELL_PIXELS`] pixels of the smaller picture: below
/// that, JPEG's 2×2 chroma subsampling and 8×8 blocks dominate single cells.
/// A power of two, at most `GRID / BLOCK` (one block per axis).
fn pool_factor(smaller: u32) -> usize {
    let mut f = 1;
    while f < GRID / BLOCK && (smaller as usize) * f < MIN_CELL_PIXELS * GRID {
        f *= 2;
    }
    f
}

/// A fingerprint's cells merged `fx`×`fy`, as f32 premultiplied RGBA.
struct Grid {
    w: usize,
    h: usize,
    cells: Vec<[f32; 4]>,
}

impl Grid {
    fn pooled(cells: &[[u8; 4]], fx: usize, fy: usize) -> Grid {
        let (w, h) = (GRID / fx, GRID / fy);
        let mut out = vec![[0f32; 4]; w * h];
        for y in 0..GRID {
            for x in 0..GRID {
                let c = cells[y * GRID + x];
                let o = &mut out[(y / fy) * w + x / fx];
                for i in 0..4 {
                    o[i] += f32::from(c[i]);
                }
            }
        }
        let n = (fx * fy) as f32;
        for o in &mut out {
            o.iter_mut().for_each(|v| *v /= n);
        }
        Grid { w, h, cells: out }
    }

    /// Cells flattened onto a grey level (`0` black, `255` white), as RGB.
    fn flattened(&self, bg: f32) -> Vec<[f32; 3]> {
        self.cells
            .iter()
            .map(|c| {
                let rest = (255.0 - c[3]) / 255.0 * bg;
                [c[0] + rest, c[1] + rest, c[2] + rest]
            })
            .collect()
    }
}

/// For each source pixel along an axis of `len` pixels, the grid cells it
/// overlaps and by how much (in cell units of the source pixel's width).
fn axis_weights(len: usize) -> Vec<Vec<(usize, f64)>> {
    let scale = GRID as f64 / len as f64;
    (0..len)
        .map(|i| {
            let start = i as f64 * scale;
            let end = (i + 1) as f64 * scale;
            let mut out = Vec::new();
            let mut cell = start.floor() as usize;
            while cell < GRID && (cell as f64) < end {
                let lo = start.max(cell as f64);
                let hi = end.min((cell + 1) as f64);
                if hi > lo {
                    out.push((cell, hi - lo));
                }
                cell += 1;
            }
            out
        })
        .collect()
}

fn aspect_matches(a: &Fingerprint, b: &Fingerprint) -> bool {
    let ratio = |f: &Fingerprint| f64::from(f.width) / f64::from(f.height);
    let (ra, rb) = (ratio(a), ratio(b));
    // One pixel of rounding on the smaller picture's shorter side is allowed:
    // halving an odd dimension cannot keep the ratio exactly.
    let smallest = [a.width, a.height, b.width, b.height]
        .into_iter()
        .min()
        .unwrap_or(1)
        .max(1);
    let tolerance = ASPECT_TOLERANCE + 1.0 / f64::from(smallest);
    (ra - rb).abs() / ra.max(rb) <= tolerance
}

/// (mean cell difference, worst block mean) between two flattened `w`×`h`
/// grids.
fn score(a: &[[f32; 3]], b: &[[f32; 3]], w: usize, h: usize) -> (f32, f32) {
    let diffs: Vec<f32> = a
        .iter()
        .zip(b)
        .map(|(p, q)| {
            (p[0] - q[0])
                .abs()
                .max((p[1] - q[1]).abs())
                .max((p[2] - q[2]).abs())
        })
        .collect();
    let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
    let (bw, bh) = (BLOCK.min(w), BLOCK.min(h));
    let mut worst = 0f32;
    for by in (0..h).step_by(bh) {
        for bx in (0..w).step_by(bw) {
            let mut sum = 0f32;
            for y in by..(by + bh).min(h) {
                for x in bx..(bx + bw).min(w) {
                    sum += diffs[y * w + x] * diffs[y * w + x];
                }
            }
            worst = worst.max((sum / (bw * bh) as f32).sqrt());
        }
    }
    (mean, worst)
}

/// Fingerprint cells as a compact string for the disk cache (hex).
pub fn encode_cells(cells: &[[u8; 4]]) -> String {
    let mut s = String::with_capacity(cells.len() * 8);
    for c in cells {
        for b in c {
            s.push_str(&format!("{b:02x}"));
        }
    }
    s
}

/// The inverse of [`encode_cells`]; `None` for anything malformed.
pub fn decode_cells(s: &str) -> Option<Vec<[u8; 4]>> {
    let bytes = s.as_bytes();
    if bytes.len() != GRID * GRID * 8 {
        return None;
    }
    let hex = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(GRID * GRID);
    for chunk in bytes.chunks_exact(8) {
        let mut cell = [0u8; 4];
        for (i, pair) in chunk.chunks_exact(2).enumerate() {
            cell[i] = hex(pair[0])? << 4 | hex(pair[1])?;
        }
        out.push(cell);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};

    fn solid(w: u32, h: u32, c: [u8; 4]) -> RgbaImage {
        RgbaImage::from_pixel(w, h, Rgba(c))
    }

    #[test]
    fn solid_colour_fills_every_cell() {
        let f = Fingerprint::from_rgba(&solid(10, 7, [10, 20, 30, 255]), "x".into());
        assert_eq!(f.cells.len(), GRID * GRID);
        assert!(f.cells.iter().all(|c| *c == [10, 20, 30, 255]));
    }

    #[test]
    fn weights_cover_each_cell_once() {
        for len in [1usize, 3, 63, 64, 65, 100, 1000] {
            let w = axis_weights(len);
            let mut per_cell = vec![0f64; GRID];
            for px in &w {
                for &(c, x) in px {
                    per_cell[c] += x;
                }
            }
            for (c, total) in per_cell.iter().enumerate() {
                assert!((total - 1.0).abs() < 1e-9, "len {len} cell {c}: {total}");
            }
        }
    }

    #[test]
    fn transparent_flattens_like_white_and_black() {
        let clear = Fingerprint::from_rgba(&solid(8, 8, [0, 0, 0, 0]), "a".into());
        let white = Fingerprint::from_rgba(&solid(8, 8, [255, 255, 255, 255]), "b".into());
        let black = Fingerprint::from_rgba(&solid(8, 8, [0, 0, 0, 255]), "c".into());
        let red = Fingerprint::from_rgba(&solid(8, 8, [255, 0, 0, 255]), "d".into());
        assert!(clear.compare(&white).same);
        assert!(clear.compare(&black).same);
        assert!(!clear.compare(&red).same);
        // Two transparent pictures must agree on alpha, not just on one background.
        let half = Fingerprint::from_rgba(&solid(8, 8, [0, 0, 0, 128]), "e".into());
        assert!(!clear.compare(&half).same);
    }

    #[test]
    fn aspect_ratio_must_agree() {
        let a = Fingerprint::from_rgba(&solid(200, 100, [1, 2, 3, 255]), "a".into());
        let b = Fingerprint::from_rgba(&solid(100, 100, [1, 2, 3, 255]), "b".into());
        let c = Fingerprint::from_rgba(&solid(101, 50, [1, 2, 3, 255]), "c".into());
        assert!(a.compare(&b).aspect_mismatch);
        assert!(!a.compare(&b).same);
        assert!(a.compare(&c).same, "{:?}", a.compare(&c));
    }

    #[test]
    fn cells_span_enough_pixels_of_the_smaller_picture() {
        // GRID 64, MIN_CELL_PIXELS 4: 256 px needs no merging, 128 px merges
        // pairs, 64 px fours, and merging stops at one block per axis.
        let cases = [
            (1000, 1),
            (256, 1),
            (255, 2),
            (128, 2),
            (75, 4),
            (64, 4),
            (32, 8),
            (1, 16),
        ];
        for (pixels, factor) in cases {
            assert_eq!(pool_factor(pixels), factor, "{pixels} px");
        }
    }

    #[test]
    fn same_bytes_short_circuit() {
        let a = Fingerprint::from_rgba(&solid(200, 100, [1, 2, 3, 255]), "same".into());
        let b = Fingerprint::from_rgba(&solid(10, 100, [200, 2, 3, 255]), "same".into());
        assert!(a.compare(&b).same);
    }

    #[test]
    fn cells_round_trip_and_reject_garbage() {
        let f = Fingerprint::from_rgba(&solid(3, 5, [1, 2, 250, 7]), "a".into());
        let s = encode_cells(&f.cells);
        assert_eq!(decode_cells(&s), Some(f.cells.clone()));
        assert_eq!(decode_cells(&s[1..]), None);
        assert_eq!(decode_cells(&s.replace('0', "z")), None);
        assert_eq!(decode_cells(""), None);
    }

    #[test]
    fn garbage_bytes_do_not_decode() {
        let e = Fingerprint::from_bytes(b"\x89PNG\r\n\x1a\nnot really", ImageKind::Png);
        assert!(matches!(e, Err(DecodeError::Invalid { .. })), "{e:?}");
    }
}
