//! Which targets get the Cortex-M DSP assembly (runtime/src/kernels/dsp.rs).
//!
//! `cfg(target_feature = "dsp")` is an unstable target feature on Arm:
//! stable rustc never sets it, so gating on it would silently leave the
//! assembly out of every stable build (about twice the instructions per
//! bag). The target name says it instead: `thumbv7em-*` is Armv7E-M
//! (Cortex-M4, M7), whose DSP extension (`SMLAD`, `SXTB16`) is part of the
//! architecture, in Thumb mode; `eabihf` adds the FPU that `group_outputs`
//! also uses.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(needle_dsp)");
    println!("cargo::rustc-check-cfg=cfg(needle_dsp_fpu)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em-") {
        println!("cargo::rustc-cfg=needle_dsp");
        if target.ends_with("eabihf") {
            println!("cargo::rustc-cfg=needle_dsp_fpu");
        }
    }
}
