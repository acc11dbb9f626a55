//! Owning the memory the runtime borrows.
//!
//! The runtime is `no_std` and allocation-free: a [`Model`] borrows its file
//! bytes, and its scorers borrow the model and a scratch buffer. A Python
//! object must own everything it uses, so [`RawBuf`] keeps borrowed memory
//! on the heap at a fixed address (raw pointers, never a `Box` that moving
//! would re-assert unique) and hands out `'static` borrows that the owner
//! guarantees by field order: [`Loaded`] here and `Core` (core.rs) declare
//! their borrowers before the memory they borrow, and Rust drops fields in
//! declaration order.

use std::ptr::NonNull;

use needle_runtime::{LoadError, Model};

/// A heap slice at a fixed address, freed on drop.
pub struct RawBuf<T> {
    ptr: NonNull<[T]>,
}

// SAFETY: a RawBuf is a uniquely owned heap slice, like a Box<[T]>.
unsafe impl<T: Send> Send for RawBuf<T> {}
// SAFETY: as above; it offers no access of its own through `&self`.
unsafe impl<T: Sync> Sync for RawBuf<T> {}

impl<T> RawBuf<T> {
    pub fn new(values: Box<[T]>) -> Self {
        Self {
            ptr: NonNull::from(Box::leak(values)),
        }
    }

    /// A shared borrow for as long as the caller keeps `self` alive.
    ///
    /// # Safety
    /// The borrow must not outlive `self`, and no `&mut` may exist with it.
    pub unsafe fn borrow_static(&self) -> &'static [T] {
        // SAFETY: upheld by the caller.
        unsafe { &*self.ptr.as_ptr() }
    }

    /// The one mutable borrow of the buffer.
    ///
    /// # Safety
    /// Called at most once per buffer; the borrow must not outlive `self`.
    pub unsafe fn borrow_static_mut(&self) -> &'static mut [T] {
        // SAFETY: upheld by the caller.
        unsafe { &mut *self.ptr.as_ptr() }
    }
}

impl<T> Drop for RawBuf<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Box::leak` and is freed only here.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

/// A validated model and the file bytes it borrows.
pub struct Loaded {
    /// Borrows `bytes`: declared first, so dropped first.
    model: Model<'static>,
    bytes: RawBuf<u8>,
    len: usize,
}

impl Loaded {
    /// Validates `bytes` as a needle model file.
    pub fn new(bytes: Vec<u8>) -> Result<Self, LoadError> {
        let len = bytes.len();
        let bytes = RawBuf::new(bytes.into_boxed_slice());
        // SAFETY: `model` is dropped before `bytes` (field order) and the
        // bytes are never written.
        let slice = unsafe { bytes.borrow_static() };
        let model = Model::from_bytes(slice)?;
        Ok(Self { model, bytes, len })
    }

    pub fn model(&self) -> &Model<'static> {
        &self.model
    }

    /// Size of the model file in bytes.
    pub fn len(&self) -> usize {
        let _ = &self.bytes;
        self.len
    }
}
