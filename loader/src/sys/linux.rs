//! Real Linux implementation of [`super::Sys`] (being written).
