//! A loopback HTTP server for source images, with knobs for cache validators,
//! slow or oversized answers, redirects and errors. (Filled in by the images issue.)
