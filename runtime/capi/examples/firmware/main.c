/*
 * needle from C on a Cortex-M4F, under QEMU (mps2-an386).
 *
 * What it does: the int8 model file and 300 real BGL log lines (labels
 * removed) are in flash (assets.S includes the repository's files). The
 * lines are streamed one at a time through the needle C API, as a device
 * would receive them from a UART; every bag is printed with its score, flag
 * and top lines, f32 values also as hex bits (examples/common/needle_demo.h),
 * each bag is rescored with the one-shot call and checked to give the same
 * bits, and the firmware exits QEMU with status 0, or 1 if the model is
 * rejected or anything fails.
 *
 * How it is wired: C99 + newlib-nano with semihosting (--specs=rdimon.specs
 * --specs=nano.specs); the Rust runtime is libneedle.a, built no_std for
 * thumbv7em-none-eabihf with the `panic-handler` feature (its panic handler
 * calls abort(), which newlib turns into an exit over semihosting). No heap:
 * the scorer lives in `scratch`, a static buffer; output goes through
 * write(). SysTick counts instructions under `qemu-system-arm -icount
 * shift=0` (one tick = 40 instructions at the 25 MHz core clock; the
 * calibration line checks it), as in firmware-example.
 */
#include <stdint.h>
#include <unistd.h>

#include "needle.h"
#include "needle_demo.h"

extern const uint8_t needle_model_start[], needle_model_end[];
extern const uint8_t needle_lines_start[], needle_lines_end[];
extern uint32_t stack_high_water(void);
extern uint32_t heap_used(void);

/* The scorer's memory. The bundled model needs 64,724 bytes on
   thumbv7em (needle_scratch_size), and 81,108 for the stream to keep the
   rows consecutive bags share, computing them once per line
   (needle_stream_scratch_size; both printed at start-up). A buffer between
   the two scores the same bits, computing every row; a model that needs
   more than the buffer is refused by needle_scorer_init with
   NEEDLE_ERR_SCRATCH_TOO_SMALL. Build with -DSCRATCH_BYTES=... for another
   model, or 65024u to save 16 KiB of RAM. */
#ifndef SCRATCH_BYTES
#define SCRATCH_BYTES 81408u
#endif
static _Alignas(NEEDLE_SCRATCH_ALIGN) uint8_t scratch[SCRATCH_BYTES];

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static void ticks_start(void)
{
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 0x5u; /* enable, core clock, no interrupt */
}

static uint32_t ticks_now(void)
{
    return SYST_CVR;
}

/* Ticks from `start` to now (the counter counts down and wraps at 2^24). */
static uint32_t ticks_since(uint32_t start)
{
    return (start - ticks_now()) & 0x00FFFFFFu;
}

/* n + 1 iterations of a two-instruction loop: 2n + 2 instructions, as
   cortex_m::asm::delay (0.7.10) in firmware-example, so both calibration
   lines mean the same count (scripts/compare_bags.py). */
static void delay(uint32_t n)
{
    uint32_t count = n + 1u;
    __asm__ volatile("1: subs %0, #1\n\tbne 1b" : "+r"(count) : : "cc");
}

static void write_out(const char *text, size_t len)
{
    (void)write(1, text, len);
}

int main(void)
{
    const needle_demo_io io = {
        .write = write_out,
        .ticks_now = ticks_now,
        .ticks_since = ticks_since,
        .stack_high_water = stack_high_water,
    };
    ticks_start();
    const uint8_t *model = needle_model_start;
    size_t model_len = (size_t)(needle_model_end - needle_model_start);
    needle_model_info info;
    needle_status st = needle_model_check(model, model_len, &info);
    if (st != NEEDLE_OK) {
        needle_demo_error(&io, "model rejected", st);
        return 1;
    }
    size_t stream_bytes = 0;
    st = needle_stream_scratch_size(model, model_len, &stream_bytes);
    if (st != NEEDLE_OK) {
        needle_demo_error(&io, "model rejected", st);
        return 1;
    }
    needle_demo_line l = {.len = 0};
    needle_demo_str(&l, "model loaded: ");
    needle_demo_u64(&l, model_len);
    needle_demo_str(&l, " bytes, window ");
    needle_demo_u64(&l, info.window);
    needle_demo_str(&l, ", scratch ");
    needle_demo_u64(&l, info.scratch_bytes);
    needle_demo_str(&l, ", with kept rows ");
    needle_demo_u64(&l, stream_bytes);
    needle_demo_str(&l, ", of ");
    needle_demo_u64(&l, sizeof scratch);
    needle_demo_str(&l, " bytes, needle ");
    needle_demo_str(&l, needle_version());
    needle_demo_emit(&io, &l);

    uint32_t t0 = ticks_now();
    delay(4000000u);
    needle_demo_str(&l, "calibration: delay(4000000) took ");
    needle_demo_u64(&l, ticks_since(t0));
    needle_demo_str(&l, " ticks");
    needle_demo_emit(&io, &l);

    int rc = needle_demo_run(model, model_len, needle_lines_start,
                             (size_t)(needle_lines_end - needle_lines_start),
                             scratch, sizeof scratch, &io);
    needle_demo_str(&l, "heap: ");
    needle_demo_u64(&l, heap_used());
    needle_demo_str(&l, " bytes taken by newlib (needle and this demo allocate nothing)");
    needle_demo_emit(&io, &l);
    return rc;
}
