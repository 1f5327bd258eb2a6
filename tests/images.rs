//! Image equivalence from the outside: the fingerprint's threshold in both
//! directions on generated pictures, the fetch limits against a loopback
//! image host, the disk cache, and the fetch counters the benchmark reads.

use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

use fake_linq::image_host::{ImageHost, Resource};
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use linq_cards::image::fingerprint::{Comparison, Fingerprint};
use linq_cards::image::sniff::sniff;
use linq_cards::image::{ImageChecker, ImageOptions, ImageVerdict};

// ---------------------------------------------------------------- pictures

/// A shape: whether a point (0..1 coordinates) is inside, and its colour.
type Shape<'a> = (&'a dyn Fn(f32, f32) -> bool, [u8; 4]);

/// Anti-aliased shapes: 4×4 supersampling of `inside(x, y) -> colour`.
fn render(w: u32, h: u32, bg: [u8; 4], shapes: &[Shape<'_>]) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        let mut acc = [0f32; 4];
        for sy in 0..4 {
            for sx in 0..4 {
                let px = x as f32 + (sx as f32 + 0.5) / 4.0;
                let py = y as f32 + (sy as f32 + 0.5) / 4.0;
                let mut c = bg;
                for (inside, colour) in shapes {
                    if inside(px / w as f32, py / h as f32) {
                        c = *colour;
                    }
                }
                // Premultiplied, so transparent edges average correctly.
                let a = f32::from(c[3]) / 255.0;
                for i in 0..3 {
                    acc[i] += f32::from(c[i]) * a;
                }
                acc[3] += f32::from(c[3]);
            }
        }
        let a = acc[3] / 16.0;
        let un = |v: f32| {
            if a > 0.0 {
                (v / 16.0 * 255.0 / a).round().clamp(0.0, 255.0) as u8
            } else {
                0
            }
        };
        Rgba([un(acc[0]), un(acc[1]), un(acc[2]), a.round() as u8])
    })
}

const WHITE: [u8; 4] = [255, 255, 255, 255];
const CLEAR: [u8; 4] = [0, 0, 0, 0];
const BLUE: [u8; 4] = [20, 60, 200, 255];
const ORANGE: [u8; 4] = [240, 140, 20, 255];
const GREEN: [u8; 4] = [30, 160, 70, 255];

/// A company-logo-like picture: a circle, a bar and a stripe.
fn logo(bg: [u8; 4], circle: [u8; 4]) -> RgbaImage {
    render(
        256,
        256,
        bg,
        &[
            (
                &|x, y| (x - 0.38).powi(2) + (y - 0.4).powi(2) < 0.07,
                circle,
            ),
            (
                &|x, y| (0.55..0.9).contains(&x) && (0.62..0.8).contains(&y),
                ORANGE,
            ),
            (&|x, y| (x + y - 1.1).abs() < 0.06 && x > 0.5, GREEN),
        ],
    )
}

/// Another logo in the same colours: a square and a ring.
fn other_logo() -> RgbaImage {
    render(
        256,
        256,
        WHITE,
        &[
            (
                &|x, y| (0.15..0.5).contains(&x) && (0.2..0.55).contains(&y),
                BLUE,
            ),
            (
                &|x, y| {
                    let r = (x - 0.65).powi(2) + (y - 0.65).powi(2);
                    (0.03..0.06).contains(&r)
                },
                ORANGE,
            ),
        ],
    )
}

/// 5×7 glyphs for banner text.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        _ => [0; 7],
    }
}

/// A 600×150 banner: a gradient, a logo mark, and small text (3 px strokes,
/// 21 px high) such as "SALE 20% OFF".
fn banner(text: &str) -> RgbaImage {
    let mut img = RgbaImage::from_fn(600, 150, |x, y| {
        Rgba([
            (235 - x * 40 / 600) as u8,
            (240 - y * 30 / 150) as u8,
            250,
            255,
        ])
    });
    for y in 30..120 {
        for x in 20..110 {
            let d = (x as f32 - 65.0).powi(2) + (y as f32 - 75.0).powi(2);
            if d < 40.0f32.powi(2) {
                img.put_pixel(x, y, Rgba(BLUE));
            }
        }
    }
    let scale = 3;
    for (i, ch) in text.chars().enumerate() {
        let rows = glyph(ch);
        let ox = 160 + i as u32 * 6 * scale;
        let oy = 64;
        for (ry, bits) in rows.iter().enumerate() {
            for rx in 0..5u32 {
                if bits & (0x10 >> rx) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            img.put_pixel(
                                ox + rx * scale + dx,
                                oy + ry as u32 * scale + dy,
                                Rgba([30, 30, 40, 255]),
                            );
                        }
                    }
                }
            }
        }
    }
    img
}

fn png(img: &RgbaImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

/// A JPEG as a rehoster makes it: alpha flattened onto `bg`.
fn jpeg_on(img: &RgbaImage, quality: u8, bg: [u8; 3]) -> Vec<u8> {
    let flat = image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let p = img.get_pixel(x, y).0;
        let a = f32::from(p[3]) / 255.0;
        let mix = |c: u8, b: u8| (f32::from(c) * a + f32::from(b) * (1.0 - a)).round() as u8;
        image::Rgb([mix(p[0], bg[0]), mix(p[1], bg[1]), mix(p[2], bg[2])])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&flat)
        .expect("encode jpeg");
    out
}

fn jpeg(img: &RgbaImage, quality: u8) -> Vec<u8> {
    jpeg_on(img, quality, [255, 255, 255])
}

fn webp(img: &RgbaImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(img.clone())
        .write_to(&mut out, ImageFormat::WebP)
        .expect("encode webp");
    out.into_inner()
}

fn gif(img: &RgbaImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(img.clone())
        .write_to(&mut out, ImageFormat::Gif)
        .expect("encode gif");
    out.into_inner()
}

fn scaled(img: &RgbaImage, divisor: u32, filter: FilterType) -> RgbaImage {
    image::imageops::resize(img, img.width() / divisor, img.height() / divisor, filter)
}

fn fp(bytes: &[u8]) -> Fingerprint {
    let kind = sniff(bytes).expect("generated bytes are an image");
    Fingerprint::from_bytes(bytes, kind).expect("generated bytes decode")
}

fn compare(a: &[u8], b: &[u8]) -> Comparison {
    fp(a).compare(&fp(b))
}

/// Every rehosting Linq might plausibly do to `img`.
fn rehostings(img: &RgbaImage) -> Vec<(String, Vec<u8>)> {
    let mut v = vec![
        ("png again".to_string(), png(img)),
        ("webp".to_string(), webp(img)),
        ("gif".to_string(), gif(img)),
    ];
    for q in [95, 85, 75, 50, 30] {
        v.push((format!("jpeg q{q}"), jpeg(img, q)));
    }
    for (name, f) in [
        ("lanczos3", FilterType::Lanczos3),
        ("triangle", FilterType::Triangle),
        ("catmullrom", FilterType::CatmullRom),
    ] {
        v.push((format!("half {name} png"), png(&scaled(img, 2, f))));
        v.push((
            format!("half {name} jpeg q80"),
            jpeg(&scaled(img, 2, f), 80),
        ));
        v.push((format!("quarter {name} png"), png(&scaled(img, 4, f))));
        v.push((
            format!("quarter {name} jpeg q75"),
            jpeg(&scaled(img, 4, f), 75),
        ));
        v.push((format!("quarter {name} webp"), webp(&scaled(img, 4, f))));
    }
    v
}

// ------------------------------------------------------------ fingerprint

#[test]
fn the_same_picture_rehosted_compares_same() {
    let mut worst = (0f32, 0f32);
    for (name, img) in [
        ("logo", logo(WHITE, BLUE)),
        ("banner", banner("SALE 20% OFF")),
    ] {
        let source = png(&img);
        for (how, copy) in rehostings(&img) {
            let c = compare(&source, &copy);
            println!("{name} vs {how}: mean {:.2} block {:.2}", c.mean, c.block);
            assert!(c.same, "{name} vs {how} should be the same picture: {c:?}");
            worst = (worst.0.max(c.mean), worst.1.max(c.block));
        }
    }
    println!("worst same: mean {:.2} block {:.2}", worst.0, worst.1);
}

#[test]
fn different_pictures_compare_different() {
    let logo_png = png(&logo(WHITE, BLUE));
    let banner_img = banner("SALE 20% OFF");
    let changed = banner("SALE 25% OFF");
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        (
            "recoloured logo",
            logo_png.clone(),
            png(&logo(WHITE, [200, 30, 40, 255])),
        ),
        (
            "recoloured logo, rehosted as jpeg",
            logo_png.clone(),
            jpeg(&logo(WHITE, [200, 30, 40, 255]), 75),
        ),
        (
            "slightly recoloured logo",
            logo_png.clone(),
            png(&logo(WHITE, [20, 110, 200, 255])),
        ),
        ("another logo", logo_png.clone(), png(&other_logo())),
        (
            "another logo, rehosted at half size",
            logo_png.clone(),
            jpeg(&scaled(&other_logo(), 2, FilterType::Lanczos3), 80),
        ),
        (
            "one digit of the banner text",
            png(&banner_img),
            png(&changed),
        ),
        (
            "one digit of the banner text, rehosted at half size as jpeg",
            png(&changed),
            jpeg(&scaled(&banner_img, 2, FilterType::Lanczos3), 80),
        ),
        (
            "banner vs logo (aspect ratio)",
            png(&banner_img),
            logo_png.clone(),
        ),
        (
            "banner cropped square",
            png(&banner_img),
            png(&image::imageops::crop_imm(&banner_img, 0, 0, 150, 150).to_image()),
        ),
    ];
    let mut least = (f32::INFINITY, f32::INFINITY);
    for (what, a, b) in cases {
        let c = compare(&a, &b);
        println!(
            "{what}: mean {:.2} block {:.2} aspect {}",
            c.mean, c.block, c.aspect_mismatch
        );
        assert!(!c.same, "{what} should differ: {c:?}");
        if !c.aspect_mismatch {
            least = (least.0.min(c.mean), least.1.min(c.block));
        }
    }
    println!("least different: mean {:.2} block {:.2}", least.0, least.1);
}

#[test]
fn a_transparent_png_matches_its_flattened_jpeg() {
    let clear = logo(CLEAR, BLUE);
    let source = png(&clear);
    let same: Vec<(&str, Vec<u8>)> = vec![
        ("jpeg on white", jpeg_on(&clear, 85, [255, 255, 255])),
        ("jpeg on black", jpeg_on(&clear, 85, [0, 0, 0])),
        (
            "jpeg q50 on white, half size",
            jpeg_on(
                &scaled(&clear, 2, FilterType::Lanczos3),
                50,
                [255, 255, 255],
            ),
        ),
        (
            "jpeg on black, quarter size",
            jpeg_on(&scaled(&clear, 4, FilterType::Triangle), 80, [0, 0, 0]),
        ),
        ("webp keeping alpha", webp(&clear)),
        (
            "png keeping alpha, half size",
            png(&scaled(&clear, 2, FilterType::CatmullRom)),
        ),
    ];
    for (how, copy) in same {
        let c = compare(&source, &copy);
        println!(
            "transparent vs {how}: mean {:.2} block {:.2}",
            c.mean, c.block
        );
        assert!(c.same, "transparent logo vs {how}: {c:?}");
        // The comparison is symmetric.
        assert!(compare(&copy, &source).same, "{how}, reversed");
    }
    let different: Vec<(&str, Vec<u8>)> = vec![
        ("flattened on red", jpeg_on(&clear, 85, [220, 30, 30])),
        (
            "recoloured, flattened on white",
            jpeg(&logo(CLEAR, [200, 30, 40, 255]), 85),
        ),
        ("another logo on white", jpeg(&other_logo(), 85)),
        (
            "opaque white background kept as alpha",
            png(&logo(WHITE, BLUE)),
        ),
    ];
    for (how, copy) in different {
        let c = compare(&source, &copy);
        println!(
            "transparent vs {how}: mean {:.2} block {:.2}",
            c.mean, c.block
        );
        // An opaque copy on pure white *is* what a rehoster would make, so that
        // one is the same; the others must differ.
        if how.starts_with("opaque white") {
            assert!(c.same, "{how}: {c:?}");
        } else {
            assert!(!c.same, "transparent logo vs {how}: {c:?}");
        }
    }
}

#[test]
fn gif_first_frame_is_the_picture() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame};
    let first = logo(WHITE, BLUE);
    let second = other_logo();
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut out);
        enc.encode_frames([
            Frame::from_parts(first.clone(), 0, 0, Delay::from_numer_denom_ms(100, 1)),
            Frame::from_parts(second.clone(), 0, 0, Delay::from_numer_denom_ms(100, 1)),
        ])
        .expect("encode gif");
    }
    assert!(compare(&out, &png(&first)).same);
    assert!(!compare(&out, &png(&second)).same);
}

// ---------------------------------------------------------------- fetching

fn options(cache: Option<&Path>) -> ImageOptions {
    ImageOptions {
        allow_loopback: true,
        cache_dir: cache.map(Path::to_path_buf),
        max_bytes: 10 * 1024 * 1024,
        timeout: Duration::from_secs(10),
        concurrency: 8,
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

fn unverifiable(v: ImageVerdict) -> String {
    match v {
        ImageVerdict::Unverifiable(why) => why,
        other => panic!("expected unverifiable, got {other:?}"),
    }
}

#[tokio::test]
async fn same_and_different_over_http() {
    let host = ImageHost::start().await.expect("image host");
    let img = logo(WHITE, BLUE);
    host.serve("/logo.png", Resource::new(png(&img), "image/png"));
    host.serve(
        "/cdn/same.jpg",
        Resource::new(
            jpeg(&scaled(&img, 2, FilterType::Lanczos3), 80),
            "image/jpeg",
        ),
    );
    // Content-Type is not trusted either way: a JPEG labelled text/plain is fine.
    host.serve(
        "/cdn/mislabelled",
        Resource::new(jpeg(&img, 90), "text/plain"),
    );
    host.serve(
        "/cdn/other.jpg",
        Resource::new(jpeg(&other_logo(), 80), "image/jpeg"),
    );
    let checker = ImageChecker::new(options(None)).expect("checker");
    let src = host.url("/logo.png");
    let pairs = [
        pair(&src, &host.url("/cdn/same.jpg")),
        pair(&src, &host.url("/cdn/mislabelled")),
        pair(&src, &host.url("/cdn/other.jpg")),
        pair(&src, &src),
    ];
    let v = checker.check(&pairs, &[]).await;
    assert_eq!(
        v.verdict(&src, &host.url("/cdn/same.jpg")),
        ImageVerdict::Same
    );
    assert_eq!(
        v.verdict(&src, &host.url("/cdn/mislabelled")),
        ImageVerdict::Same
    );
    assert_eq!(
        v.verdict(&src, &host.url("/cdn/other.jpg")),
        ImageVerdict::Different
    );
    assert_eq!(v.verdict(&src, &src), ImageVerdict::Same);
    assert!(v.source_problems.is_empty(), "{:?}", v.source_problems);
    // Every distinct URL once, the source included, whatever the number of pairs.
    assert_eq!(host.hits("/logo.png").requests, 1);
    assert_eq!(host.total().requests, 4);
    assert_eq!(checker.stats().downloads, 4);
}

#[tokio::test]
async fn fetch_failures_are_unverifiable_with_a_clear_reason() {
    let host = ImageHost::start().await.expect("image host");
    let good = png(&logo(WHITE, BLUE));
    // Small enough for the 4 KiB cap of this test.
    let small = png(&scaled(&logo(WHITE, BLUE), 8, FilterType::Triangle));
    assert!(small.len() < 4096);
    host.serve("/live.png", Resource::new(small, "image/png"));
    host.serve("/big.png", Resource::new(vec![0u8; 5000], "image/png"));
    host.serve(
        "/big-chunked.png",
        Resource::new(vec![0u8; 5000], "image/png").chunked(500, Duration::ZERO),
    );
    host.serve(
        "/slow.png",
        Resource::new(good.clone(), "image/png").delay(Duration::from_secs(5)),
    );
    host.serve(
        "/drip.png",
        Resource::new(good.clone(), "image/png").chunked(16, Duration::from_millis(200)),
    );
    host.serve(
        "/page.png",
        Resource::new("<!DOCTYPE html><html>Sign in</html>", "image/png"),
    );
    host.serve(
        "/svg.png",
        Resource::new("<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
    );
    host.serve(
        "/broken.png",
        Resource::new(good[..good.len() / 3].to_vec(), "image/png"),
    );
    host.serve(
        "/to-http",
        Resource::redirect(302, "http://images.example.com/logo.png"),
    );
    host.serve(
        "/to-ftp",
        Resource::redirect(301, "ftp://images.example.com/logo.png"),
    );
    host.serve("/loop", Resource::redirect(302, "/loop"));
    host.serve("/no-location", Resource::new("", "text/plain").status(302));
    host.serve("/error", Resource::new("oops", "text/plain").status(500));

    let checker = ImageChecker::new(ImageOptions {
        max_bytes: 4096,
        timeout: Duration::from_millis(800),
        ..options(None)
    })
    .expect("checker");
    let live = host.url("/live.png");
    let cases: &[(&str, &str)] = &[
        ("/missing.png", "could not be fetched: HTTP 404 Not Found"),
        ("/big.png", "could not be fetched: exceeds 4 KiB"),
        ("/big-chunked.png", "could not be fetched: exceeds 4 KiB"),
        ("/slow.png", "could not be fetched: timed out after 0.8s"),
        ("/drip.png", "could not be fetched: timed out after 0.8s"),
        ("/page.png", "is not an image (sniffed text/html)"),
        (
            "/svg.png",
            "is not an image (sniffed image/svg+xml, which is not supported)",
        ),
        ("/broken.png", "could not be decoded as image/png"),
        (
            "/to-http",
            "could not be fetched: redirect to http:// refused (HTTPS only)",
        ),
        (
            "/to-ftp",
            "could not be fetched: redirect to ftp: refused (HTTPS only)",
        ),
        ("/loop", "could not be fetched: more than 5 redirects"),
        (
            "/no-location",
            "could not be fetched: HTTP 302 Found without a Location",
        ),
        (
            "/error",
            "could not be fetched: HTTP 500 Internal Server Error",
        ),
    ];
    let pairs: Vec<_> = cases
        .iter()
        .map(|(p, _)| pair(&host.url(p), &live))
        .collect();
    let creates = vec![host.url("/missing.png")];
    let started = Instant::now();
    let v = checker.check(&pairs, &creates).await;
    // Concurrent and capped: two slow URLs do not add up.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for (path, want) in cases {
        let url = host.url(path);
        let why = unverifiable(v.verdict(&url, &live));
        assert!(
            why.starts_with(&format!("image {url} {want}")),
            "{path}: {why}"
        );
        assert_eq!(v.source_problems.get(&url), Some(&why), "{path}");
    }
    assert_eq!(host.hits("/live.png").requests, 1);
    assert_eq!(host.hits("/loop").requests, 6);
    assert_eq!(checker.stats().failures, cases.len() as u64);
}

#[tokio::test]
async fn a_broken_live_copy_is_unverifiable_but_not_a_source_problem() {
    let host = ImageHost::start().await.expect("image host");
    host.serve(
        "/src.png",
        Resource::new(png(&logo(WHITE, BLUE)), "image/png"),
    );
    let checker = ImageChecker::new(options(None)).expect("checker");
    let (src, live) = (host.url("/src.png"), host.url("/gone.jpg"));
    let v = checker.check(&[pair(&src, &live)], &[]).await;
    assert_eq!(
        unverifiable(v.verdict(&src, &live)),
        format!("image {live} could not be fetched: HTTP 404 Not Found")
    );
    assert!(v.source_problems.is_empty());
    // A create's source that cannot be fetched is a source problem on its own.
    let v = checker.check(&[], &[live.clone(), src.clone()]).await;
    assert_eq!(v.source_problems.keys().collect::<Vec<_>>(), vec![&live]);
    assert!(v.pairs.is_empty());
}

#[tokio::test]
async fn private_and_loopback_addresses_are_refused_unless_the_api_is_loopback() {
    let host = ImageHost::start().await.expect("image host");
    host.serve(
        "/a.png",
        Resource::new(png(&logo(WHITE, BLUE)), "image/png"),
    );
    let port = host
        .url("")
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let strict = ImageChecker::new(ImageOptions {
        allow_loopback: false,
        ..options(None)
    })
    .expect("checker");
    let cases = [
        (
            host.url("/a.png"),
            "could not be fetched: plain http:// refused (HTTPS only)".to_string(),
        ),
        (
            format!("https://localhost:{port}/a.png"),
            "could not be fetched: localhost resolves to a loopback address".to_string(),
        ),
        (
            format!("https://127.0.0.1:{port}/a.png"),
            "could not be fetched: 127.0.0.1 is a loopback address, refused".to_string(),
        ),
        // Never connected to: refused before any traffic.
        (
            "https://10.0.0.5/logo.png".to_string(),
            "could not be fetched: 10.0.0.5 is a private address, refused".to_string(),
        ),
        (
            "https://169.254.169.254/latest/meta-data".to_string(),
            "could not be fetched: 169.254.169.254 is a link-local address, refused".to_string(),
        ),
        (
            "https://[fd00::1]/a.png".to_string(),
            "could not be fetched: fd00::1 is a unique-local address, refused".to_string(),
        ),
    ];
    let creates: Vec<String> = cases.iter().map(|(u, _)| u.clone()).collect();
    let v = strict.check(&[], &creates).await;
    for (url, want) in &cases {
        let why = &v.source_problems[url];
        assert!(why.starts_with(&format!("image {url} {want}")), "{why}");
    }
    assert_eq!(
        host.total().requests,
        0,
        "nothing may reach the loopback host"
    );
    // With a loopback API the same host is fine.
    let local = ImageChecker::new(options(None)).expect("checker");
    let v = local.check(&[], &[host.url("/a.png")]).await;
    assert!(v.source_problems.is_empty(), "{:?}", v.source_problems);
}

#[tokio::test]
async fn redirects_are_followed_and_rechecked() {
    let host = ImageHost::start().await.expect("image host");
    let img = logo(WHITE, BLUE);
    host.serve("/real.png", Resource::new(png(&img), "image/png"));
    host.serve("/hop2", Resource::redirect(307, "/real.png"));
    host.serve("/hop1", Resource::redirect(301, &host.url("/hop2")));
    host.serve("/cdn.jpg", Resource::new(jpeg(&img, 80), "image/jpeg"));
    let checker = ImageChecker::new(options(None)).expect("checker");
    let (src, live) = (host.url("/hop1"), host.url("/cdn.jpg"));
    let v = checker.check(&[pair(&src, &live)], &[]).await;
    assert_eq!(v.verdict(&src, &live), ImageVerdict::Same);
    assert_eq!(host.hits("/real.png").bodies, 1);
}

// ------------------------------------------------------------------ cache

#[tokio::test]
async fn fresh_cache_entries_need_no_request() {
    let host = ImageHost::start().await.expect("image host");
    let img = logo(WHITE, BLUE);
    host.serve(
        "/src.png",
        Resource::new(png(&img), "image/png").cache_control("public, max-age=3600"),
    );
    host.serve(
        "/cdn.jpg",
        Resource::new(jpeg(&img, 80), "image/jpeg").cache_control("max-age=86400"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let pairs = [pair(&host.url("/src.png"), &host.url("/cdn.jpg"))];
    let first = ImageChecker::new(options(Some(dir.path()))).expect("checker");
    assert_eq!(
        first
            .check(&pairs, &[])
            .await
            .verdict(&pairs[0].0, &pairs[0].1),
        ImageVerdict::Same
    );
    assert_eq!(first.stats().downloads, 2);
    let second = ImageChecker::new(options(Some(dir.path()))).expect("checker");
    let v = second.check(&pairs, &[]).await;
    assert_eq!(v.verdict(&pairs[0].0, &pairs[0].1), ImageVerdict::Same);
    let s = second.stats();
    assert_eq!((s.downloads, s.not_modified, s.cache_fresh_hits), (0, 0, 2));
    assert_eq!(host.total().requests, 2, "the second run asked nothing");
    // --no-cache: everything again.
    let uncached = ImageChecker::new(options(None)).expect("checker");
    uncached.check(&pairs, &[]).await;
    assert_eq!(uncached.stats().downloads, 2);
}

#[tokio::test]
async fn stale_entries_are_revalidated_and_304_reuses_the_fingerprint() {
    let host = ImageHost::start().await.expect("image host");
    let img = logo(WHITE, BLUE);
    host.serve(
        "/src.png",
        Resource::new(png(&img), "image/png").etag("\"v1\""),
    );
    host.serve(
        "/cdn.jpg",
        Resource::new(jpeg(&img, 80), "image/jpeg")
            .last_modified("Tue, 01 Apr 2025 10:00:00 GMT")
            .cache_control("no-cache"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (src, live) = (host.url("/src.png"), host.url("/cdn.jpg"));
    let pairs = [pair(&src, &live)];
    ImageChecker::new(options(Some(dir.path())))
        .expect("checker")
        .check(&pairs, &[])
        .await;
    host.reset_hits();

    let second = ImageChecker::new(options(Some(dir.path()))).expect("checker");
    assert_eq!(
        second.check(&pairs, &[]).await.verdict(&src, &live),
        ImageVerdict::Same
    );
    assert_eq!(second.stats().not_modified, 2);
    assert_eq!(second.stats().downloads, 0);
    assert_eq!(host.total().bodies, 0);
    assert_eq!(host.total().conditional, 2);

    // The source changes (new ETag): the revalidation downloads it and the
    // verdict follows the new picture.
    host.serve(
        "/src.png",
        Resource::new(png(&other_logo()), "image/png").etag("\"v2\""),
    );
    let third = ImageChecker::new(options(Some(dir.path()))).expect("checker");
    assert_eq!(
        third.check(&pairs, &[]).await.verdict(&src, &live),
        ImageVerdict::Different
    );
    assert_eq!(
        (third.stats().downloads, third.stats().not_modified),
        (1, 1)
    );
}

#[tokio::test]
async fn a_corrupt_cache_entry_is_ignored_and_rewritten() {
    let host = ImageHost::start().await.expect("image host");
    let img = logo(WHITE, BLUE);
    host.serve(
        "/src.png",
        Resource::new(png(&img), "image/png").cache_control("max-age=3600"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let src = host.url("/src.png");
    ImageChecker::new(options(Some(dir.path())))
        .expect("checker")
        .check(&[], std::slice::from_ref(&src))
        .await;
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    for garbage in ["", "{\"format\":1,", "null", "\u{0}\u{ff}"] {
        std::fs::write(&files[0], garbage).expect("corrupt the entry");
        let checker = ImageChecker::new(options(Some(dir.path()))).expect("checker");
        let v = checker.check(&[], std::slice::from_ref(&src)).await;
        assert!(v.source_problems.is_empty());
        assert_eq!(checker.stats().downloads, 1, "{garbage:?}");
        // Rewritten: the next run is a fresh hit again.
        let next = ImageChecker::new(options(Some(dir.path()))).expect("checker");
        next.check(&[], std::slice::from_ref(&src)).await;
        assert_eq!(next.stats().cache_fresh_hits, 1, "{garbage:?}");
    }
}

#[tokio::test]
async fn no_store_is_not_cached() {
    let host = ImageHost::start().await.expect("image host");
    host.serve(
        "/src.png",
        Resource::new(png(&logo(WHITE, BLUE)), "image/png")
            .cache_control("no-store")
            .etag("\"a\""),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let src = host.url("/src.png");
    for _ in 0..2 {
        let checker = ImageChecker::new(options(Some(dir.path()))).expect("checker");
        checker.check(&[], std::slice::from_ref(&src)).await;
        assert_eq!(checker.stats().downloads, 1);
    }
    assert_eq!(host.total().conditional, 0);
}

// -------------------------------------------------------------- benchmark

/// Issue #6's benchmark: 1,000 cards sharing one source image, each with its
/// own CDN copy. The first run downloads 1,001 images; a warm second run
/// downloads none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_cards_one_source() {
    let host = ImageHost::start().await.expect("image host");
    let img = logo(WHITE, BLUE);
    host.serve(
        "/src.png",
        Resource::new(png(&img), "image/png").etag("\"src\""),
    );
    let copy = jpeg(&scaled(&img, 2, FilterType::Lanczos3), 80);
    let mut pairs = Vec::new();
    for i in 0..1000 {
        let path = format!("/cdn/{i}.jpg");
        host.serve(
            &path,
            Resource::new(copy.clone(), "image/jpeg").cache_control("public, max-age=31536000"),
        );
        pairs.push(pair(&host.url("/src.png"), &host.url(&path)));
    }
    let dir = tempfile::tempdir().expect("tempdir");

    let started = Instant::now();
    let cold = ImageChecker::new(ImageOptions {
        concurrency: 16,
        ..options(Some(dir.path()))
    })
    .expect("checker");
    let v = cold.check(&pairs, &[]).await;
    let cold_time = started.elapsed();
    assert!(v.pairs.values().all(|v| *v == ImageVerdict::Same));
    assert_eq!(v.pairs.len(), 1000);
    assert_eq!(cold.stats().downloads, 1001);
    assert_eq!(host.total().requests, 1001);

    let started = Instant::now();
    let warm = ImageChecker::new(ImageOptions {
        concurrency: 16,
        ..options(Some(dir.path()))
    })
    .expect("checker");
    let v = warm.check(&pairs, &[]).await;
    let warm_time = started.elapsed();
    assert!(v.pairs.values().all(|v| *v == ImageVerdict::Same));
    let s = warm.stats();
    assert_eq!(
        (s.downloads, s.not_modified, s.cache_fresh_hits, s.failures),
        (0, 1, 1000, 0)
    );
    assert_eq!(
        host.total().bodies,
        1001,
        "no image body fetched on the warm run"
    );
    println!(
        "1,000 cards: cold {cold_time:?} ({:?}), warm {warm_time:?} ({s:?})",
        cold.stats()
    );
}
