#!/usr/bin/env bash
# Builds the needle runtime for ARM and proves it under QEMU:
#  1. firmware-example for Cortex-M4F (thumbv7em-none-eabihf) on qemu-system-arm
#     (mps2-an386), results logged with defmt and decoded with defmt-print;
#  2. the `needle` CLI for aarch64-unknown-linux-gnu under qemu-aarch64;
# then checks both give the host's `needle score` results bit for bit on the
# same model and lines, that a corrupted embedded model makes the firmware
# fail, and writes the size / stack / instruction figures to
# target/arm-check/figures.json.
#
# Installs what is missing: Debian packages (see ../shared/notes/cross-toolchain.md)
# and defmt-print from crates.io. Uses rustup targets when installed, else
# Debian's Rust toolchain with build-std.
set -euo pipefail
trap 'echo "FAIL: arm-check.sh stopped at line $LINENO (exit $?)" >&2' ERR
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/arm-check
mkdir -p "$OUT"
MODEL=$ROOT/tests/fixtures/bgl-default.needle
LINES=$ROOT/firmware-example/data/bgl_300.log

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
pkgs=()
command -v qemu-system-arm >/dev/null || pkgs+=(qemu-system-arm)
command -v qemu-aarch64 >/dev/null || pkgs+=(qemu-user)
command -v arm-none-eabi-ld >/dev/null || pkgs+=(gcc-arm-none-eabi)
command -v aarch64-linux-gnu-gcc >/dev/null || pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
installed=$(rustup target list --installed 2>/dev/null || true)
use_rustup_thumb=$(grep -qx thumbv7em-none-eabihf <<<"$installed" && echo 1 || echo 0)
use_rustup_a64=$(grep -qx aarch64-unknown-linux-gnu <<<"$installed" && echo 1 || echo 0)
if [ "$use_rustup_thumb$use_rustup_a64" != "11" ]; then
  { [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust/library ]; } || pkgs+=(rustc-web cargo-web rust-web-src)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "== installing ${pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
if ! command -v defmt-print >/dev/null; then
  echo "== installing defmt-print"
  cargo install defmt-print --locked --quiet
fi
DEBIAN_CARGO=(env RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo)

echo "== host needle"
cargo build -q -p needle-host --bin needle
HOST_NEEDLE=$ROOT/target/debug/needle
# `needle score` exits 1 when it raised an alert (docs/output.md): only 2 fails.
# --windows: the per-window rows the firmware is compared with.
needle_score() { local s=0; "$@" || s=$?; [ "$s" -le 1 ] || { echo "FAIL: needle score exited $s" >&2; exit 1; }; }
needle_score "$HOST_NEEDLE" score --model "$MODEL" --windows "$LINES" > "$OUT/host.jsonl"

echo "== firmware (thumbv7em-none-eabihf)"
build_firmware() {
  (cd firmware-example
   if [ "$use_rustup_thumb" = 1 ]; then
     cargo build --release -q "$@"
   else
     "${DEBIAN_CARGO[@]}" build --release -q -Zbuild-std=core,compiler_builtins \
       -Zbuild-std-features=compiler-builtins-mem "$@"
   fi)
}
ELF=$ROOT/firmware-example/target/thumbv7em-none-eabihf/release/needle-firmware-example
QEMU_M4=(qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic -semihosting-config enable=on,target=native)

build_firmware --features corrupt-model
cp "$ELF" "$OUT/firmware-corrupt.elf"
status=0
timeout 120 "${QEMU_M4[@]}" -kernel "$OUT/firmware-corrupt.elf" > "$OUT/firmware-corrupt.defmt" || status=$?
defmt-print -e "$OUT/firmware-corrupt.elf" < "$OUT/firmware-corrupt.defmt" > "$OUT/firmware-corrupt.txt" 2>&1 || true
if [ "$status" -ne 1 ] || ! grep -q "model rejected: Checksum" "$OUT/firmware-corrupt.txt"; then
  echo "FAIL: a corrupted model must be reported and exit 1 (got $status):"; cat "$OUT/firmware-corrupt.txt"; exit 1
fi
echo "corrupted model: exit 1, $(grep -o 'model rejected.*' "$OUT/firmware-corrupt.txt")"

build_firmware
cp "$ELF" "$OUT/firmware.elf"
# -icount shift=0: one instruction per ns of virtual time, so the firmware's
# SysTick readings count instructions (calibrated in the same run).
if ! timeout 600 "${QEMU_M4[@]}" -icount shift=0 -kernel "$OUT/firmware.elf" > "$OUT/firmware.defmt"; then
  echo "FAIL: the firmware did not finish cleanly; its log:"
  defmt-print -e "$OUT/firmware.elf" < "$OUT/firmware.defmt" || true
  exit 1
fi
defmt-print -e "$OUT/firmware.elf" < "$OUT/firmware.defmt" > "$OUT/firmware.txt" 2>&1
grep -E "model loaded|done" "$OUT/firmware.txt"
python3 scripts/compare_bags.py "$OUT/host.jsonl" "$OUT/firmware.txt" --figures "$OUT/figures.json"

echo "== needle CLI (aarch64-unknown-linux-gnu) under qemu-aarch64"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
if [ "$use_rustup_a64" = 1 ]; then
  cargo build --release -q -p needle-host --bin needle --target aarch64-unknown-linux-gnu --target-dir target/cross
else
  "${DEBIAN_CARGO[@]}" build --release -q -p needle-host --bin needle \
    --target aarch64-unknown-linux-gnu --target-dir target/cross -Zbuild-std=std,panic_abort
fi
A64=$ROOT/target/cross/aarch64-unknown-linux-gnu/release/needle
needle_score qemu-aarch64 -L /usr/aarch64-linux-gnu "$A64" score --model "$MODEL" --windows "$LINES" > "$OUT/aarch64.jsonl"
cmp "$OUT/host.jsonl" "$OUT/aarch64.jsonl"
echo "identical: aarch64 output is byte for byte the host's ($(grep -c '"type":"bag"' "$OUT/aarch64.jsonl") bags, $(grep -c '"type":"alert"' "$OUT/aarch64.jsonl") alerts with evidence)"

echo "== sizes"
arm-none-eabi-size "$OUT/firmware.elf" | tee "$OUT/size.txt"
read -r text data bss _ < <(tail -n 1 "$OUT/size.txt")
python3 - "$OUT/figures.json" "$text" "$data" "$bss" "$(stat -c %s "$MODEL")" <<'PY'
import json, sys
path, text, data, bss, model = sys.argv[1], *map(int, sys.argv[2:])
f = json.load(open(path))
f.update(flash_bytes=text + data, static_ram_bytes=data + bss, model_bytes=model,
         model_share_of_flash=model / (text + data))
f["ram_bytes_static_plus_stack"] = f["static_ram_bytes"] + f["stack_high_water_bytes"]
if "median_instructions_per_bag" in f:
    f["estimated_ms_per_bag_at_168_mhz_cpi_1"] = f["median_instructions_per_bag"] / 168e6 * 1e3
json.dump(f, open(path, "w"), indent=2)
print(json.dumps(f, indent=2))
assert f["flash_bytes"] <= 640 * 1024, "firmware flash above 640 KB"
assert f["ram_bytes_static_plus_stack"] <= 128 * 1024, "static RAM + stack above 128 KB"
PY
echo "ARM check OK"
