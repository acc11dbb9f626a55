//! Typed errors: data, not strings.

use needle_model_def::ConfigError;

/// Why a model file was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LoadError {
    /// Fewer bytes than the header says the file holds.
    Truncated {
        /// Bytes the file needs.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// The first four bytes are not `NDLM`.
    BadMagic {
        /// What was found.
        found: [u8; 4],
    },
    /// A format version this runtime does not read.
    UnsupportedVersion {
        /// Version in the file.
        found: u16,
        /// Version this runtime reads.
        supported: u16,
    },
    /// Bytes after the checksum.
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The payload's CRC-32 does not match the trailer.
    Checksum {
        /// CRC in the file.
        expected: u32,
        /// CRC of the payload as read.
        actual: u32,
    },
    /// The payload is not a valid postcard `ModelBody`.
    Decode,
    /// The configuration is out of range or inconsistent.
    Config(ConfigError),
    /// A configuration value above what this runtime's buffers hold.
    DimTooLarge {
        /// Field.
        field: &'static str,
        /// Value in the file.
        value: u32,
        /// Largest value supported.
        max: u32,
    },
    /// A tensor whose size does not match the configuration.
    Shape {
        /// Which tensor.
        tensor: &'static str,
        /// What `expected` and `got` count: "bytes", "rows", "columns",
        /// "layers"...
        unit: &'static str,
        /// Count expected.
        expected: usize,
        /// Count found.
        got: usize,
    },
    /// A NaN or infinite scale, bias, norm, prototype or threshold.
    NonFinite {
        /// Which tensor.
        tensor: &'static str,
    },
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated { needed, got } => {
                write!(f, "model file is truncated: needs {needed} bytes, got {got}")
            }
            Self::BadMagic { found } => write!(
                f,
                "not a needle model file (magic {found:02x?}, expected \"NDLM\")"
            ),
            Self::UnsupportedVersion { found, supported } => write!(
                f,
                "model file format version {found} is not supported (this runtime reads version {supported}){}",
                if *found < *supported {
                    "; export it again from its checkpoint with this release's `needle-train export`"
                } else {
                    "; use a newer needle runtime"
                }
            ),
            Self::TrailingBytes { extra } => {
                write!(f, "model file has {extra} unexpected bytes after its checksum")
            }
            Self::Checksum { expected, actual } => write!(
                f,
                "model file is corrupted: checksum {actual:#010x} does not match {expected:#010x}"
            ),
            Self::Decode => write!(f, "model file payload does not decode"),
            Self::Config(e) => write!(f, "model configuration is invalid: {e}"),
            Self::DimTooLarge { field, value, max } => write!(
                f,
                "model {field} = {value} is larger than this runtime supports ({max})"
            ),
            Self::Shape {
                tensor,
                unit,
                expected,
                got,
            } => write!(
                f,
                "model tensor {tensor} has {got} {unit}, expected {expected}"
            ),
            Self::NonFinite { tensor } => write!(f, "model tensor {tensor} holds NaN or infinity"),
        }
    }
}

impl core::error::Error for LoadError {}

/// Why a scorer or stream could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SetupError {
    /// The caller's scratch buffer is smaller than the model needs.
    ScratchTooSmall {
        /// f32 values needed ([`crate::Model::scratch_len`]).
        needed: usize,
        /// f32 values given.
        got: usize,
    },
    /// The stream's compile-time capacity is below the model's window or token budget.
    StreamTooSmall {
        /// Field (`window` or `max_tokens`).
        field: &'static str,
        /// What the model needs.
        needed: usize,
        /// The stream's capacity.
        capacity: usize,
    },
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::ScratchTooSmall { needed, got } => write!(
                f,
                "scratch buffer holds {got} f32 values, the model needs {needed}"
            ),
            Self::StreamTooSmall {
                field,
                needed,
                capacity,
            } => write!(
                f,
                "line stream capacity for {field} is {capacity}, the model needs {needed}"
            ),
        }
    }
}

impl core::error::Error for SetupError {}

/// Why a bag could not be scored again without one of its lines
/// ([`crate::BagScorer::score_without`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EvidenceError {
    /// The position is inside the model's window but past the bag's last
    /// line: a padding position, which holds no line to take out.
    Padding {
        /// Position asked for (0-based).
        line: usize,
        /// Lines in the bag.
        lines: usize,
    },
    /// The position is outside the model's window.
    OutOfRange {
        /// Position asked for (0-based).
        line: usize,
        /// The model's window.
        window: usize,
    },
    /// [`crate::LineStream::without_line`] was asked for evidence with no
    /// bag to explain: only the bag just returned by `push` or `finish` can
    /// be scored again (the next line overwrites its oldest line).
    NoBag,
}

impl core::fmt::Display for EvidenceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Padding { line, lines } => write!(
                f,
                "position {line} is padding: the bag holds {lines} line(s)"
            ),
            Self::OutOfRange { line, window } => write!(
                f,
                "position {line} is outside the model's window of {window} lines"
            ),
            Self::NoBag => write!(
                f,
                "no bag to explain: evidence is taken right after push or finish returns a bag"
            ),
        }
    }
}

impl core::error::Error for EvidenceError {}
