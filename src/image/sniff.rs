//! Content sniffing: what an image body really is, from its first bytes.
//!
//! Servers' `Content-Type` headers are not trusted (a source URL may come from
//! an untrusted pull request, and CDNs mislabel); only the magic bytes decide
//! which decoder runs. Anything that is not PNG, JPEG, WebP or GIF is named as
//! well as possible so the warning says what was served instead.

/// The image formats linq-cards can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    WebP,
    Gif,
}

impl ImageKind {
    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::WebP => "image/webp",
            ImageKind::Gif => "image/gif",
        }
    }
}

/// The decodable kind of `bytes`, or a guess at what they are instead.
pub fn sniff(bytes: &[u8]) -> Result<ImageKind, &'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(ImageKind::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageKind::Jpeg);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(ImageKind::WebP);
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Ok(ImageKind::Gif);
    }
    Err(describe_other(bytes))
}

/// A best guess at a non-image body, for the warning.
fn describe_other(bytes: &[u8]) -> &'static str {
    if bytes.is_empty() {
        return "empty";
    }
    let head: Vec<u8> = bytes
        .iter()
        .take(512)
        .skip_while(|b| b.is_ascii_whitespace() || **b == 0xEF || **b == 0xBB || **b == 0xBF)
        .map(u8::to_ascii_lowercase)
        .collect();
    let starts = |p: &[u8]| head.starts_with(p);
    if starts(b"<!doctype html") || starts(b"<html") || starts(b"<head") || starts(b"<body") {
        "text/html"
    } else if starts(b"<?xml") || starts(b"<svg") {
        if head.windows(4).any(|w| w == b"<svg") {
            "image/svg+xml, which is not supported"
        } else {
            "application/xml"
        }
    } else if starts(b"{") || starts(b"[") {
        "application/json"
    } else if starts(b"%pdf-") {
        "application/pdf"
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" {
        "image/heic or another ISO media file, which is not supported"
    } else if starts(b"bm") {
        "image/bmp, which is not supported"
    } else if looks_like_text(&bytes[..bytes.len().min(512)]) {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

/// UTF-8 (a cut multi-byte character at the end is fine) with no control
/// bytes other than whitespace.
fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    valid
        && head
            .iter()
            .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0C))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&[u8], Result<ImageKind, &str>)] = &[
            (b"\x89PNG\r\n\x1a\n....", Ok(ImageKind::Png)),
            (b"\xFF\xD8\xFF\xE0....", Ok(ImageKind::Jpeg)),
            (b"RIFF\x10\0\0\0WEBPVP8 ", Ok(ImageKind::WebP)),
            (b"GIF89a....", Ok(ImageKind::Gif)),
            (b"GIF87a....", Ok(ImageKind::Gif)),
            (b"  <!DOCTYPE html><html>", Err("text/html")),
            (b"<html><body>404</body>", Err("text/html")),
            (
                b"<?xml version=\"1.0\"?><svg ",
                Err("image/svg+xml, which is not supported"),
            ),
            (b"{\"error\": 1}", Err("application/json")),
            (b"%PDF-1.4", Err("application/pdf")),
            (b"hello", Err("text/plain")),
            (b"", Err("empty")),
            (
                b"\0\x01\x02\xFE\xFF\xC3\x28",
                Err("application/octet-stream"),
            ),
            (b"RIFF\x10\0\0\0WAVE", Err("application/octet-stream")),
        ];
        for (bytes, want) in cases {
            assert_eq!(sniff(bytes), *want, "{bytes:?}");
        }
    }
}
