//! Puts `memory.x` on the linker path and the model file in OUT_DIR (with
//! one payload byte flipped under the `corrupt-model` feature).

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::copy("memory.x", out.join("memory.x")).expect("memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");

    let model_path = std::env::var("NEEDLE_MODEL")
        .unwrap_or_else(|_| "../tests/fixtures/bgl-default.needle".into());
    println!("cargo:rerun-if-env-changed=NEEDLE_MODEL");
    println!("cargo:rerun-if-changed={model_path}");
    let mut model =
        std::fs::read(&model_path).unwrap_or_else(|e| panic!("reading {model_path}: {e}"));
    if std::env::var_os("CARGO_FEATURE_CORRUPT_MODEL").is_some() {
        let i = model.len() / 2;
        model[i] ^= 0x40;
    }
    std::fs::write(out.join("model.needle"), model).expect("writing model");
}
