//! In-memory fake kernel implementing [`super::Sys`] (being written).
