//! Image equivalence: is the file's source image the same picture as the live
//! CDN copy? Capped HTTPS fetches, a disk cache and a pixel fingerprint produce
//! [`ImageVerdicts`], which the (synchronous) planner consumes.
//! (Filled in by the images issue.)

use std::collections::BTreeMap;

/// Whether a source image and a live CDN copy show the same picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageVerdict {
    /// Same bytes or same picture after re-encoding/scaling: no change needed.
    Same,
    /// Different pictures: the image must be updated.
    Different,
    /// One of the two could not be fetched or decoded; the reason says which.
    Unverifiable(String),
}

/// Verdicts for (source URL, live URL) pairs, plus problems with source images
/// on their own (worth a warning even for a create).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageVerdicts {
    pub pairs: BTreeMap<(String, String), ImageVerdict>,
    /// Source URLs that could not be fetched or decoded, with the reason.
    pub source_problems: BTreeMap<String, String>,
}

impl ImageVerdicts {
    /// The verdict for a pair. A pair nobody checked compares by URL: equal
    /// strings are the same image, anything else is different.
    pub fn verdict(&self, source: &str, live: &str) -> ImageVerdict {
        if source == live {
            return ImageVerdict::Same;
        }
        self.pairs
            .get(&(source.to_string(), live.to_string()))
            .cloned()
            .unwrap_or(ImageVerdict::Different)
    }
}
