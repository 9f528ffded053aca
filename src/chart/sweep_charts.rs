//! The charts of a sweep: availability against monthly cost, metrics along an axis, and a
//! heat map over two axes.

/// Draws the sweep charts (filled in below).
pub fn sweep_charts() {}
