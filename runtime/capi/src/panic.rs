//! The panic handler of bare-metal static libraries (`panic-handler`
//! feature, without `std`). The library is written never to panic; this is
//! what a `no_std` static library must have to link, and it hands the
//! impossible case to the firmware the way C code would: `abort()`.

/// Calls the C library's `abort()` (newlib: `_exit(1)` through the
/// semihosting or board layer; define your own `abort` to log or reset).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    extern "C" {
        fn abort() -> !;
    }
    // SAFETY: `abort` takes nothing and never returns; every C library for
    // bare-metal targets (newlib, picolibc) provides it.
    unsafe { abort() }
}
