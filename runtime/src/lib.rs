//! The needle device runtime: loads an int8 model file written by
//! `needle-train export`, scores windows (bags) of raw log lines and points
//! at the lines that made a window anomalous.
//!
//! `no_std`, no allocator: the model borrows its weights from the file
//! bytes, scratch memory comes from the caller ([`Model::scratch_len`]
//! values), and the streaming window has its capacity in its type. It
//! validates everything at load and does not panic on any model bytes or any
//! line bytes. The `std` feature adds only what a std target has: picking
//! the x86-64 kernels (AVX2, AVX-VNNI, AVX-512) at run time. The host side
//! (line reading, timestamps, alerts, the `needle` CLI) is `needle-host`.
//!
//! ```no_run
//! use needle_runtime::{BagScorer, LineStream, Model};
//! # let bytes: &[u8] = &[];
//! let model = Model::from_bytes(bytes)?;
//! let mut scratch = [0f32; 16 * 1024];
//! let scorer = BagScorer::new(&model, &mut scratch)?;
//! let mut stream = LineStream::<32, 40>::new(scorer)?;
//! for line in [b"RAS KERNEL FATAL data TLB error interrupt".as_slice()] {
//!     if let Some(bag) = stream.push(line) {
//!         // bag.score.probability, bag.score.anomalous, bag.score.top
//!     }
//! }
//! let tail = stream.finish();
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
//!
//! Evidence for a flagged window: [`BagScorer::score_without`] scores the
//! window again with its key line's embedding set to zero (the training
//! perturbation), in the same scratch memory, so a device can report
//! "0.97 → 0.12 without line 4711".
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
// `unsafe` only where allowed by name, each with a `// SAFETY:` comment:
// entering AVX2 / AVX-VNNI / AVX-512 builds after checking the CPU has them
// (scorer.rs, kernels/linear_q/wide.rs; `std` on x86-64 only), and the Cortex-M4 DSP
// instructions (kernels/dsp.rs; no stable intrinsics exist for them).
#![deny(unsafe_code)]

mod error;
mod kernels;
mod model_file;
mod scorer;
mod stream;

pub use error::{EvidenceError, LoadError, SetupError};
pub use kernels::{embedding_bag_i8, layer_norm, linear_i8, softmax_in_place, LinearI8};
pub use model_file::{Model, MAX_TOKENS, MAX_TOP_K, MAX_WINDOW};
pub use needle_model_def::{
    entropy, format, min_entropy_head, CountWindows, Featurizer, ModelConfig,
};
pub use scorer::{BagScore, BagScorer, KeptRows, TopLine};
pub use stream::{BagResult, LineStream};
