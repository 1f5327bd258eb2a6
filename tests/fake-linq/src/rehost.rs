//! Image rehosting as Linq does it (LINQ_API.md, "image_url"): download the
//! source, decode it, scale it down, re-encode it as JPEG. The caller stores the
//! result under a fresh `/cdn/...` URL.

use std::io::Cursor;

use image::{DynamicImage, ImageEncoder, Rgb, RgbImage};

/// Largest source image the fake downloads.
const MAX_SOURCE_BYTES: usize = 20 << 20;

/// Download and re-encode; `Err` says why the image could not be rehosted.
pub(crate) async fn rehost(
    http: &reqwest::Client,
    url: &str,
    max_side: u32,
) -> Result<Vec<u8>, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("download failed: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("download answered HTTP {}", status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_SOURCE_BYTES as u64)
    {
        return Err("image too large".into());
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("download failed: {e}"))?;
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err("image too large".into());
    }
    tokio::task::spawn_blocking(move || reencode(&bytes, max_side))
        .await
        .map_err(|e| format!("re-encoding failed: {e}"))?
}

/// Decode any supported format, fit into `max_side`, flatten onto white, JPEG.
pub(crate) fn reencode(bytes: &[u8], max_side: u32) -> Result<Vec<u8>, String> {
    let img = image::load_from_memory(bytes).map_err(|e| format!("not a decodable image: {e}"))?;
    let img = if img.width() > max_side || img.height() > max_side {
        img.resize(max_side, max_side, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let rgb = flatten_on_white(&img);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut out), 85)
        .write_image(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| format!("JPEG encoding failed: {e}"))?;
    Ok(out)
}

/// JPEG has no alpha: transparent pixels become white, as on most CDNs.
fn flatten_on_white(img: &DynamicImage) -> RgbImage {
    let rgba = img.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u32::from(p[3]);
        let blend = |c: u8| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        Rgb([blend(p[0]), blend(p[1]), blend(p[2])])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, px: [u8; 4]) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba(px));
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("encode png");
        out
    }

    #[test]
    fn downscales_and_reencodes_as_jpeg() {
        let jpeg = reencode(&png(600, 300, [200, 10, 10, 255]), 256).expect("rehost");
        let back = image::load_from_memory(&jpeg).expect("decodes");
        assert_eq!(
            image::guess_format(&jpeg).expect("format"),
            image::ImageFormat::Jpeg
        );
        assert_eq!((back.width(), back.height()), (256, 128));
        let p = back.to_rgb8().get_pixel(10, 10).0;
        assert!(p[0] > 180 && p[1] < 40 && p[2] < 40, "{p:?}");
    }

    #[test]
    fn small_images_keep_their_size_and_alpha_goes_white() {
        let jpeg = reencode(&png(40, 20, [0, 0, 0, 0]), 256).expect("rehost");
        let back = image::load_from_memory(&jpeg).expect("decodes");
        assert_eq!((back.width(), back.height()), (40, 20));
        assert!(back.to_rgb8().get_pixel(5, 5).0.iter().all(|&c| c > 240));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(reencode(b"<html>not an image</html>", 256).is_err());
    }
}
