#!/usr/bin/env bash
# Builds the no_std crates for thumbv7em-none-eabihf (Cortex-M4F).
# Uses the rustup target when it is installed; otherwise Debian's Rust
# toolchain with build-std (see ../shared/notes/cross-toolchain.md), which it
# installs when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=thumbv7em-none-eabihf
CRATES=(-p needle-model-def -p needle-runtime)

if rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  cargo build --release --target "$TARGET" "${CRATES[@]}"
  exit 0
fi

if [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rustc-web cargo-web rust-web-src >/dev/null
fi

# Debian's cargo, its own target dir (a different rustc), build-std for core/alloc.
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build --release \
  --target "$TARGET" --target-dir target/cross \
  -Zbuild-std=core,alloc,compiler_builtins -Zbuild-std-features=compiler-builtins-mem \
  "${CRATES[@]}"
echo "built ${CRATES[*]} for $TARGET"
