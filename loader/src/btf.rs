//! BTF for maps (placeholder interface; replaced by the BTF module).

use crate::plan::BtfIds;

/// What the parser extracts for BTF.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BtfSource {
    /// The `.BTF` section.
    pub data: Vec<u8>,
}

/// Why BTF cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BtfError(String);

/// Prepared BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Fixed-up blob.
    pub data: Vec<u8>,
    /// FUNC linkage dropped.
    pub downgraded: Vec<u8>,
}

impl Prepared {
    /// Key/value type ids of a map.
    pub fn map_ids(&self, map: &str, _key: u32, _value: u32) -> Result<BtfIds, BtfError> {
        Err(BtfError(format!("no BTF types for map {map}")))
    }
}

/// Fixes up the BTF of an object.
pub fn prepare(_source: &BtfSource) -> Result<Prepared, BtfError> {
    Err(BtfError("BTF is not supported yet".into()))
}
