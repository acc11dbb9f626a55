#!/usr/bin/env bash
# Builds the needle C API (runtime/capi: libneedle.a, libneedle.so,
# include/needle.h) and proves it from C:
#  1. host: include/needle.h against cbindgen (runtime/capi/header-check), the
#     crate's Rust tests (results equal to the
#     runtime's bit for bit, hostile arguments);
#  2. host: tests/hostile.c against libneedle.a under valgrind (hostile
#     arguments, corrupted model files: exact status codes, no invalid
#     access, no leak, no allocation inside the library), and the Linux demo
#     against libneedle.so, also under valgrind;
#  3. the C firmware (examples/firmware: arm-none-eabi-gcc, newlib
#     semihosting) under qemu-system-arm mps2-an386, plus a build with a
#     corrupted model that must report NEEDLE_ERR_MODEL_CHECKSUM and exit 1;
#  4. the Linux demo built for aarch64 under qemu-aarch64;
# then checks that every bag of the firmware, the aarch64 program and the
# host C program is the host `needle score`'s bit for bit, and writes sizes
# to target/c-check/figures.json.
#
# Installs what is missing (Debian packages). Uses rustup targets when
# installed, else Debian's Rust toolchain with build-std
# (../shared/notes/cross-toolchain.md), like scripts/arm-check.sh.
set -euo pipefail
trap 'echo "FAIL: c-check.sh stopped at line $LINENO (exit $?)" >&2' ERR
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/c-check
mkdir -p "$OUT"
MODEL=tests/fixtures/bgl-default.needle
LINES=firmware-example/data/bgl_300.log
CAPI=runtime/capi
START=$SECONDS

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in gcc valgrind qemu-system-arm qemu-user gcc-arm-none-eabi libnewlib-arm-none-eabi \
         gcc-aarch64-linux-gnu libc6-dev-arm64-cross; do
  have_pkg "$p" || pkgs+=("$p")
done
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
DEBIAN_CARGO=(env RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo)
# What rustc lists (`--print native-static-libs`) for a std staticlib on *-linux-gnu.
LINUX_LIBS=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
CWARN=(-std=c11 -O2 -Wall -Wextra -Werror -pedantic -I"$CAPI/include" -I"$CAPI/examples/common")
DEMO_SRC=("$CAPI/examples/linux/main.c" "$CAPI/examples/common/needle_demo.c")
VALGRIND=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
          --errors-for-leak-kinds=definite,indirect)

echo "== include/needle.h is what cbindgen makes of the source"
cargo run -q --manifest-path runtime/capi/header-check/Cargo.toml --target-dir target/header-check

echo "== Rust tests of the C API (bit-identity with the runtime, hostile arguments)"
cargo test -q -p needle-capi

echo "== host reference: needle score"
cargo build -q -p needle-host --bin needle
windows=()
# `needle score` writes per-window rows only with --windows since alerts
# became its default output; older builds wrote them always.
./target/debug/needle score --help | grep -q -- '--windows' && windows=(--windows)
status=0
./target/debug/needle score "${windows[@]}" --model "$MODEL" "$LINES" > "$OUT/host.jsonl" || status=$?
# Exit status 1 means "alerts raised" (as grep); 2 and up are errors.
[ "$status" -le 1 ] || { echo "FAIL: needle score exited $status"; exit 1; }
grep -q '"type":"bag"' "$OUT/host.jsonl" || { echo "FAIL: needle score wrote no bag rows"; exit 1; }

echo "== host C: libneedle.a under valgrind (tests/hostile.c), libneedle.so (the demo)"
cargo build -q -p needle-capi
HOST_LIB=$ROOT/target/debug
gcc "${CWARN[@]}" -g "$CAPI/tests/hostile.c" "$HOST_LIB/libneedle.a" "${LINUX_LIBS[@]}" \
  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc \
  -o "$OUT/hostile"
"${VALGRIND[@]}" "$OUT/hostile" "$MODEL" "$LINES" | tee "$OUT/hostile.txt"
gcc "${CWARN[@]}" -g "${DEMO_SRC[@]}" -L"$HOST_LIB" -lneedle -Wl,-rpath,"$HOST_LIB" -o "$OUT/needle-c-demo"
"${VALGRIND[@]}" "$OUT/needle-c-demo" "$MODEL" "$LINES" > "$OUT/host-c.txt"
python3 scripts/compare_bags.py "$OUT/host.jsonl" "$OUT/host-c.txt"

echo "== libneedle.a for Cortex-M4F (thumbv7em-none-eabihf, no_std, panic-handler)"
# The same optimisation as firmware-example's release profile, so the two
# firmwares' sizes compare.
THUMB_ENV=(CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=true
           CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort)
THUMB_ARGS=(rustc -q --release -p needle-capi --no-default-features --features panic-handler
            --target thumbv7em-none-eabihf --crate-type staticlib)
if [ "$use_rustup_thumb" = 1 ]; then
  env "${THUMB_ENV[@]}" cargo "${THUMB_ARGS[@]}"
  THUMB_LIB=$ROOT/target/thumbv7em-none-eabihf/release/libneedle.a
else
  # compiler_builtins' memcpy & co. are weak symbols: no clash with newlib's.
  env "${THUMB_ENV[@]}" "${DEBIAN_CARGO[@]}" "${THUMB_ARGS[@]}" --target-dir target/cross \
    -Zbuild-std=core,compiler_builtins
  THUMB_LIB=$ROOT/target/cross/thumbv7em-none-eabihf/release/libneedle.a
fi
if arm-none-eabi-nm -u "$THUMB_LIB" 2>/dev/null | grep -qwE 'malloc|calloc|realloc|free|_sbrk'; then
  echo "FAIL: the Cortex-M libneedle.a references an allocator"; exit 1
fi

echo "== C firmware (arm-none-eabi-gcc, newlib semihosting) under qemu-system-arm mps2-an386"
FW=$CAPI/examples/firmware
ARM_CFLAGS=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -ffunction-sections -fdata-sections)
build_firmware() { # MODEL_FILE OUTPUT
  arm-none-eabi-gcc "${ARM_CFLAGS[@]}" "${CWARN[@]}" \
    -DNEEDLE_MODEL_FILE="\"$1\"" -DNEEDLE_LINES_FILE="\"$ROOT/$LINES\"" \
    "$FW/main.c" "$FW/startup.c" "$FW/assets.S" "$CAPI/examples/common/needle_demo.c" "$THUMB_LIB" \
    --specs=nano.specs --specs=rdimon.specs -nostartfiles -T"$FW/link.ld" \
    -Wl,--gc-sections -Wl,--no-warn-execstack -Wl,-Map="$2.map" -o "$2"
}
QEMU_M4=(qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic -semihosting-config enable=on,target=native)

python3 - "$MODEL" "$OUT/model-corrupt.needle" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x40  # as firmware-example's corrupt-model feature
open(sys.argv[2], "wb").write(b)
PY
build_firmware "$OUT/model-corrupt.needle" "$OUT/firmware-corrupt.elf"
status=0
timeout 120 "${QEMU_M4[@]}" -kernel "$OUT/firmware-corrupt.elf" > "$OUT/firmware-corrupt.txt" 2>&1 || status=$?
if [ "$status" -ne 1 ] || ! grep -q "model rejected: NEEDLE_ERR_MODEL_CHECKSUM" "$OUT/firmware-corrupt.txt"; then
  echo "FAIL: a corrupted model must be reported and exit 1 (got $status):"; cat "$OUT/firmware-corrupt.txt"; exit 1
fi
echo "corrupted model: exit 1, $(grep -o 'model rejected: [A-Z_]*' "$OUT/firmware-corrupt.txt")"

build_firmware "$ROOT/$MODEL" "$OUT/firmware.elf"
# -icount shift=0: one instruction per ns of virtual time, so SysTick counts
# instructions (calibrated in the same run), as in arm-check.sh.
if ! timeout 600 "${QEMU_M4[@]}" -icount shift=0 -kernel "$OUT/firmware.elf" > "$OUT/firmware.txt" 2>&1; then
  echo "FAIL: the C firmware did not finish cleanly; its output:"; cat "$OUT/firmware.txt"; exit 1
fi
grep -E "model loaded|oneshot|explained|done|heap" "$OUT/firmware.txt"
python3 scripts/compare_bags.py "$OUT/host.jsonl" "$OUT/firmware.txt" --figures "$OUT/figures.json"

echo "== C demo for aarch64 Linux under qemu-aarch64"
A64_ARGS=(rustc -q --release -p needle-capi --target aarch64-unknown-linux-gnu --crate-type staticlib)
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
if [ "$use_rustup_a64" = 1 ]; then
  cargo "${A64_ARGS[@]}" --target-dir target/cross
else
  # Same target dir and flags as arm-check.sh's aarch64 build: std is built once.
  "${DEBIAN_CARGO[@]}" "${A64_ARGS[@]}" --target-dir target/cross -Zbuild-std=std,panic_abort
fi
aarch64-linux-gnu-gcc "${CWARN[@]}" "${DEMO_SRC[@]}" \
  target/cross/aarch64-unknown-linux-gnu/release/libneedle.a "${LINUX_LIBS[@]}" -o "$OUT/needle-c-demo-aarch64"
qemu-aarch64 -L /usr/aarch64-linux-gnu "$OUT/needle-c-demo-aarch64" "$MODEL" "$LINES" > "$OUT/aarch64-c.txt"
python3 scripts/compare_bags.py "$OUT/host.jsonl" "$OUT/aarch64-c.txt"

echo "== the three C programs print the same bags"
bags_of() { grep -E '^(bag|top|evidence) ' "$1" | sed -E 's/ ticks [0-9]+//'; }
for f in firmware aarch64-c; do
  cmp <(bags_of "$OUT/host-c.txt") <(bags_of "$OUT/$f.txt") || { echo "FAIL: $f.txt differs from host-c.txt"; exit 1; }
done
grep -h -E "^(oneshot|explained)" "$OUT/host-c.txt" "$OUT/aarch64-c.txt" "$OUT/firmware.txt" | sort | uniq -c

echo "== sizes"
arm-none-eabi-size "$OUT/firmware.elf" | tee "$OUT/size.txt"
read -r text data bss _ < <(tail -n 1 "$OUT/size.txt")
scratch=$(sed -n 's/.*scratch \([0-9]*\), with kept rows \([0-9]*\), of \([0-9]*\) bytes.*/\1 \2 \3/p' "$OUT/firmware.txt")
heap=$(sed -n 's/^heap: \([0-9]*\) bytes.*/\1/p' "$OUT/firmware.txt")
python3 - "$OUT/figures.json" "$text" "$data" "$bss" "$(stat -c %s "$MODEL")" \
  "$(stat -c %s "$LINES")" $scratch "$heap" <<'PY'
import json, sys
path = sys.argv[1]
text, data, bss, model, lines, scratch_needed, scratch_stream, scratch_static, heap = map(int, sys.argv[2:])
f = json.load(open(path))
f.update(flash_bytes=text + data, static_ram_bytes=data + bss, model_bytes=model,
         demo_lines_bytes=lines, code_and_constants_bytes=text + data - model - lines,
         scratch_bytes_needed=scratch_needed, scratch_bytes_stream=scratch_stream,
         scratch_bytes_static=scratch_static,
         newlib_heap_bytes_used=heap)
f["ram_bytes_static_plus_stack"] = f["static_ram_bytes"] + f["stack_high_water_bytes"]
if "median_instructions_per_bag" in f:
    f["estimated_ms_per_bag_at_168_mhz_cpi_1"] = f["median_instructions_per_bag"] / 168e6 * 1e3
json.dump(f, open(path, "w"), indent=2)
print(json.dumps(f, indent=2))
assert f["flash_bytes"] <= 640 * 1024, "C firmware flash above 640 KB"
assert f["ram_bytes_static_plus_stack"] <= 128 * 1024, "C firmware static RAM + stack above 128 KB"
PY
echo "C check OK ($((SECONDS - START)) s)"
