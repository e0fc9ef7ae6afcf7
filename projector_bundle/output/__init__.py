"""Writing a bundle to disk and beyond: writers, the manifest, the atomic swap, the TSV formatter,
publishing URLs and the loopback server."""
