//! Status codes: every failure of the C API is one of these, with a static
//! name and description.

use core::ffi::{c_char, CStr};

use needle_runtime::LoadError;

/// What a call did: `NEEDLE_OK`, or why it did nothing.
///
/// Every function that can fail returns one of these; a failed call leaves
/// the scorer as it was. The values are fixed (new codes are only ever
/// appended), so they can be stored or sent as numbers;
/// `needle_status_name` and `needle_status_description` turn any integer
/// into a static string.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum needle_status {
    /// Success.
    NEEDLE_OK = 0,
    /// A pointer that must not be NULL was NULL.
    NEEDLE_ERR_NULL_POINTER = 1,
    /// The scratch buffer (`NEEDLE_SCRATCH_ALIGN`) or an output pointer is
    /// not aligned for its type.
    NEEDLE_ERR_MISALIGNED = 2,
    /// A length that cannot be right: larger than `PTRDIFF_MAX`, or a
    /// buffer that would wrap around the end of the address space.
    NEEDLE_ERR_LENGTH = 3,
    /// Two buffers that must be separate overlap (model bytes, a line or a
    /// result inside the scratch buffer).
    NEEDLE_ERR_OVERLAP = 4,
    /// The scratch buffer is smaller than `needle_scratch_size` says.
    NEEDLE_ERR_SCRATCH_TOO_SMALL = 5,
    /// The scorer handle is not one `needle_scorer_init` made here (or its
    /// scratch buffer was moved or overwritten).
    NEEDLE_ERR_BAD_HANDLE = 6,
    /// A bag with no lines.
    NEEDLE_ERR_NO_LINES = 7,
    /// A bag with more lines than the model's window.
    NEEDLE_ERR_TOO_MANY_LINES = 8,
    /// Model file: fewer bytes than its header says (or than a header).
    NEEDLE_ERR_MODEL_TRUNCATED = 9,
    /// Model file: the first four bytes are not `NDLM`.
    NEEDLE_ERR_MODEL_BAD_MAGIC = 10,
    /// Model file: a format version this library does not read.
    NEEDLE_ERR_MODEL_VERSION = 11,
    /// Model file: bytes after the checksum.
    NEEDLE_ERR_MODEL_TRAILING_BYTES = 12,
    /// Model file: the payload's CRC-32 does not match (corrupted).
    NEEDLE_ERR_MODEL_CHECKSUM = 13,
    /// Model file: the payload does not decode.
    NEEDLE_ERR_MODEL_DECODE = 14,
    /// Model file: the configuration is out of range or inconsistent.
    NEEDLE_ERR_MODEL_CONFIG = 15,
    /// Model file: a dimension larger than this runtime's buffers hold.
    NEEDLE_ERR_MODEL_TOO_LARGE = 16,
    /// Model file: a tensor whose size does not match the configuration.
    NEEDLE_ERR_MODEL_SHAPE = 17,
    /// Model file: a NaN or infinite weight, norm or threshold.
    NEEDLE_ERR_MODEL_NON_FINITE = 18,
    /// Model file: rejected for a reason this version of the C API has no
    /// code for.
    NEEDLE_ERR_MODEL_INVALID = 19,
    /// An inconsistency inside the library (a bug: please report it).
    NEEDLE_ERR_INTERNAL = 20,
    /// `needle_stream_explain`: the stream has no bag to explain (the last
    /// push or finish returned none, or a line was pushed since).
    NEEDLE_ERR_NO_BAG = 21,
    /// A bag to explain that does not match: not the bag the stream last
    /// returned, no top line, or a top line outside the lines given.
    NEEDLE_ERR_WRONG_BAG = 22,
}

use needle_status as S;

/// Every status, in code order (code `i` is `ALL[i]`).
pub(crate) const ALL: [needle_status; 23] = [
    S::NEEDLE_OK,
    S::NEEDLE_ERR_NULL_POINTER,
    S::NEEDLE_ERR_MISALIGNED,
    S::NEEDLE_ERR_LENGTH,
    S::NEEDLE_ERR_OVERLAP,
    S::NEEDLE_ERR_SCRATCH_TOO_SMALL,
    S::NEEDLE_ERR_BAD_HANDLE,
    S::NEEDLE_ERR_NO_LINES,
    S::NEEDLE_ERR_TOO_MANY_LINES,
    S::NEEDLE_ERR_MODEL_TRUNCATED,
    S::NEEDLE_ERR_MODEL_BAD_MAGIC,
    S::NEEDLE_ERR_MODEL_VERSION,
    S::NEEDLE_ERR_MODEL_TRAILING_BYTES,
    S::NEEDLE_ERR_MODEL_CHECKSUM,
    S::NEEDLE_ERR_MODEL_DECODE,
    S::NEEDLE_ERR_MODEL_CONFIG,
    S::NEEDLE_ERR_MODEL_TOO_LARGE,
    S::NEEDLE_ERR_MODEL_SHAPE,
    S::NEEDLE_ERR_MODEL_NON_FINITE,
    S::NEEDLE_ERR_MODEL_INVALID,
    S::NEEDLE_ERR_INTERNAL,
    S::NEEDLE_ERR_NO_BAG,
    S::NEEDLE_ERR_WRONG_BAG,
];

impl needle_status {
    /// The status with this code, if there is one.
    pub fn from_code(code: i32) -> Option<Self> {
        usize::try_from(code).ok().and_then(|i| ALL.get(i).copied())
    }

    /// The constant's name, e.g. `NEEDLE_ERR_MODEL_CHECKSUM`.
    pub fn name(self) -> &'static CStr {
        match self {
            S::NEEDLE_OK => c"NEEDLE_OK",
            S::NEEDLE_ERR_NULL_POINTER => c"NEEDLE_ERR_NULL_POINTER",
            S::NEEDLE_ERR_MISALIGNED => c"NEEDLE_ERR_MISALIGNED",
            S::NEEDLE_ERR_LENGTH => c"NEEDLE_ERR_LENGTH",
            S::NEEDLE_ERR_OVERLAP => c"NEEDLE_ERR_OVERLAP",
            S::NEEDLE_ERR_SCRATCH_TOO_SMALL => c"NEEDLE_ERR_SCRATCH_TOO_SMALL",
            S::NEEDLE_ERR_BAD_HANDLE => c"NEEDLE_ERR_BAD_HANDLE",
            S::NEEDLE_ERR_NO_LINES => c"NEEDLE_ERR_NO_LINES",
            S::NEEDLE_ERR_TOO_MANY_LINES => c"NEEDLE_ERR_TOO_MANY_LINES",
            S::NEEDLE_ERR_MODEL_TRUNCATED => c"NEEDLE_ERR_MODEL_TRUNCATED",
            S::NEEDLE_ERR_MODEL_BAD_MAGIC => c"NEEDLE_ERR_MODEL_BAD_MAGIC",
            S::NEEDLE_ERR_MODEL_VERSION => c"NEEDLE_ERR_MODEL_VERSION",
            S::NEEDLE_ERR_MODEL_TRAILING_BYTES => c"NEEDLE_ERR_MODEL_TRAILING_BYTES",
            S::NEEDLE_ERR_MODEL_CHECKSUM => c"NEEDLE_ERR_MODEL_CHECKSUM",
            S::NEEDLE_ERR_MODEL_DECODE => c"NEEDLE_ERR_MODEL_DECODE",
            S::NEEDLE_ERR_MODEL_CONFIG => c"NEEDLE_ERR_MODEL_CONFIG",
            S::NEEDLE_ERR_MODEL_TOO_LARGE => c"NEEDLE_ERR_MODEL_TOO_LARGE",
            S::NEEDLE_ERR_MODEL_SHAPE => c"NEEDLE_ERR_MODEL_SHAPE",
            S::NEEDLE_ERR_MODEL_NON_FINITE => c"NEEDLE_ERR_MODEL_NON_FINITE",
            S::NEEDLE_ERR_MODEL_INVALID => c"NEEDLE_ERR_MODEL_INVALID",
            S::NEEDLE_ERR_INTERNAL => c"NEEDLE_ERR_INTERNAL",
            S::NEEDLE_ERR_NO_BAG => c"NEEDLE_ERR_NO_BAG",
            S::NEEDLE_ERR_WRONG_BAG => c"NEEDLE_ERR_WRONG_BAG",
        }
    }

    /// One sentence for a log or a person.
    pub fn description(self) -> &'static CStr {
        match self {
            S::NEEDLE_OK => c"success",
            S::NEEDLE_ERR_NULL_POINTER => c"a required pointer is NULL",
            S::NEEDLE_ERR_MISALIGNED => {
                c"a buffer is not aligned (scratch: NEEDLE_SCRATCH_ALIGN bytes; outputs: their type)"
            }
            S::NEEDLE_ERR_LENGTH => {
                c"a length is larger than PTRDIFF_MAX or wraps around the address space"
            }
            S::NEEDLE_ERR_OVERLAP => c"a buffer overlaps the scorer's scratch buffer",
            S::NEEDLE_ERR_SCRATCH_TOO_SMALL => {
                c"the scratch buffer is smaller than needle_scratch_size() says"
            }
            S::NEEDLE_ERR_BAD_HANDLE => {
                c"not a scorer made by needle_scorer_init (or its scratch was moved or overwritten)"
            }
            S::NEEDLE_ERR_NO_LINES => c"a bag needs at least one line",
            S::NEEDLE_ERR_TOO_MANY_LINES => c"a bag holds at most the model's window of lines",
            S::NEEDLE_ERR_MODEL_TRUNCATED => {
                c"model file is truncated: fewer bytes than its header says"
            }
            S::NEEDLE_ERR_MODEL_BAD_MAGIC => c"not a needle model file (magic is not NDLM)",
            S::NEEDLE_ERR_MODEL_VERSION => {
                c"model file format version is not the one this library reads"
            }
            S::NEEDLE_ERR_MODEL_TRAILING_BYTES => {
                c"model file has unexpected bytes after its checksum"
            }
            S::NEEDLE_ERR_MODEL_CHECKSUM => {
                c"model file is corrupted: its CRC-32 does not match"
            }
            S::NEEDLE_ERR_MODEL_DECODE => c"model file payload does not decode",
            S::NEEDLE_ERR_MODEL_CONFIG => {
                c"model configuration is out of range or inconsistent"
            }
            S::NEEDLE_ERR_MODEL_TOO_LARGE => {
                c"model dimension is larger than this runtime supports"
            }
            S::NEEDLE_ERR_MODEL_SHAPE => {
                c"model tensor size does not match its configuration"
            }
            S::NEEDLE_ERR_MODEL_NON_FINITE => {
                c"model holds a NaN or infinite weight, norm or threshold"
            }
            S::NEEDLE_ERR_MODEL_INVALID => c"model file rejected",
            S::NEEDLE_ERR_INTERNAL => c"internal inconsistency in the needle library (a bug)",
            S::NEEDLE_ERR_NO_BAG => {
                c"no bag to explain: the stream returned none, or a line was pushed since"
            }
            S::NEEDLE_ERR_WRONG_BAG => {
                c"the bag to explain is not the stream's last bag, or its top line is not in the lines given"
            }
        }
    }
}

/// What `needle_status_name` returns for an integer that is no status.
pub(crate) const UNKNOWN_NAME: &CStr = c"NEEDLE_UNKNOWN_STATUS";
/// What `needle_status_description` returns for an integer that is no status.
pub(crate) const UNKNOWN_DESCRIPTION: &CStr = c"unknown needle status code";

/// A static C string's pointer (NUL-terminated, lives for the program).
pub(crate) fn c_ptr(s: &'static CStr) -> *const c_char {
    s.as_ptr()
}

impl From<LoadError> for needle_status {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Truncated { .. } => S::NEEDLE_ERR_MODEL_TRUNCATED,
            LoadError::BadMagic { .. } => S::NEEDLE_ERR_MODEL_BAD_MAGIC,
            LoadError::UnsupportedVersion { .. } => S::NEEDLE_ERR_MODEL_VERSION,
            LoadError::TrailingBytes { .. } => S::NEEDLE_ERR_MODEL_TRAILING_BYTES,
            LoadError::Checksum { .. } => S::NEEDLE_ERR_MODEL_CHECKSUM,
            LoadError::Decode => S::NEEDLE_ERR_MODEL_DECODE,
            LoadError::Config(_) => S::NEEDLE_ERR_MODEL_CONFIG,
            LoadError::DimTooLarge { .. } => S::NEEDLE_ERR_MODEL_TOO_LARGE,
            LoadError::Shape { .. } => S::NEEDLE_ERR_MODEL_SHAPE,
            LoadError::NonFinite { .. } => S::NEEDLE_ERR_MODEL_NON_FINITE,
            // `LoadError` is non-exhaustive: a reason added to the runtime
            // later still maps to a model error, never to success.
            _ => S::NEEDLE_ERR_MODEL_INVALID,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_their_index_and_names_are_distinct() {
        for (i, s) in ALL.iter().enumerate() {
            assert_eq!(*s as i32, i as i32);
            assert_eq!(needle_status::from_code(i as i32), Some(*s));
            let name = s.name().to_str().unwrap();
            assert!(name.starts_with("NEEDLE_"), "{name}");
            assert_eq!(std::format!("{s:?}"), name, "the name is the constant's");
            assert!(!s.description().is_empty());
        }
        let mut names: std::vec::Vec<_> = ALL.iter().map(|s| s.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(needle_status::from_code(-1), None);
        assert_eq!(needle_status::from_code(ALL.len() as i32), None);
    }
}
