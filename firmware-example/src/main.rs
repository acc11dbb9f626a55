//! needle on a Cortex-M4F, under QEMU (`mps2-an386`).
//!
//! What it does: the int8 model file and 300 real BGL log lines (labels
//! removed) are embedded in flash. The lines are fed one at a time through
//! the runtime's `LineStream`, as a device would receive them from a UART;
//! every completed bag is logged with defmt (first/last line, score and its
//! f32 bits, the anomaly flag, the top lines with their attention bits), and
//! the firmware exits QEMU with status 0 after the tail bag, or 1 if the
//! model is rejected.
//!
//! How it is wired: no heap. The scorer's scratch (`SCRATCH_LEN` f32) is a
//! `static` handed out once by `ConstStaticCell`; the stream's line window
//! (`LineStream<32, 40>`, 2.6 KB) lives on the stack. defmt frames go out
//! over semihosting to QEMU's stdout and are decoded on the host with
//! `defmt-print` (scripts/arm-check.sh). Before anything else the unused
//! stack is painted, so the high-water mark can be reported at the end.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use defmt_semihosting as _;
use needle_runtime::{BagResult, BagScorer, LineStream, Model};
use static_cell::ConstStaticCell;

/// The model file, copied (or corrupted, with `--features corrupt-model`) by build.rs.
static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.needle"));
/// Raw log lines, newline-separated.
static LINES: &[u8] = include_bytes!("../data/bgl_300.log");

/// f32 values of scorer scratch: the default model needs 14,979 to score a
/// bag (`Model::scratch_len`) and 19,075 for the stream to keep the 16 rows
/// consecutive windows share, so it computes them once per line
/// (`Model::stream_scratch_len`, logged at start-up; about 0.4 M fewer
/// instructions per bag for 16 KB). `BagScorer::new` checks it at run time.
const SCRATCH_LEN: usize = 19_104;
static SCRATCH: ConstStaticCell<[f32; SCRATCH_LEN]> = ConstStaticCell::new([0.0; SCRATCH_LEN]);

/// Word written over the unused stack at start-up.
const PAINT: u32 = 0x5AFE_C0DE;
static STACK_FLOOR: AtomicU32 = AtomicU32::new(0);

extern "C" {
    static _stack_start: u32;
    static __ebss: u32;
}

/// Paints the stack from the end of .bss up to a little below the current
/// stack pointer.
fn paint_stack() {
    let sp = cortex_m::register::msp::read();
    // Only the address of the linker symbol is taken, never its value.
    let floor = core::ptr::addr_of!(__ebss) as u32;
    STACK_FLOOR.store(floor, Ordering::Relaxed);
    let mut p = floor;
    while p + 256 < sp {
        // SAFETY: [__ebss, sp - 256) is RAM between the statics and the live
        // stack frames; nothing else uses it yet.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Bytes of stack ever used: from the top of RAM down to the lowest word
/// that no longer holds the paint.
fn stack_high_water() -> u32 {
    let top = core::ptr::addr_of!(_stack_start) as u32;
    let mut p = STACK_FLOOR.load(Ordering::Relaxed);
    // SAFETY: reading RAM between the statics and the stack.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}

/// SysTick, free-running over its 24 bits on the core clock. Under
/// `qemu-system-arm -icount shift=0` one instruction is 1 ns of virtual time
/// and the mps2 core clock is 25 MHz, so one tick is 40 instructions
/// (docs/benchmarks.md); without `-icount` the ticks mean nothing.
struct Ticks(SYST);

impl Ticks {
    fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_counter();
        Self(syst)
    }

    fn now() -> u32 {
        SYST::get_current()
    }

    /// Ticks from `start` to now (the counter counts down and wraps at 2^24).
    fn since(start: u32) -> u32 {
        start.wrapping_sub(Self::now()) & 0x00FF_FFFF
    }
}

fn log_bag(bag: &BagResult, ticks: u32) {
    let s = &bag.score;
    defmt::info!(
        "bag {=u64} {=u64} score {=f32} bits {=u32:08x} anomalous {=bool} ticks {=u32}",
        bag.first_line,
        bag.last_line,
        s.probability,
        s.probability.to_bits(),
        s.anomalous,
        ticks
    );
    for t in &s.top {
        defmt::info!(
            "top {=u64} weight {=f32} bits {=u32:08x}",
            bag.first_line + u64::from(t.index),
            t.weight,
            t.weight.to_bits()
        );
    }
}

/// Evidence for a flagged bag: its score again without its most attended
/// line (one more forward pass; its ticks are logged apart from the bag's).
fn explain<const W: usize, const T: usize>(stream: &mut LineStream<'_, '_, '_, W, T>, bag: &BagResult) {
    let Some(top) = bag.score.top.first().filter(|_| bag.score.anomalous) else {
        return;
    };
    let t0 = Ticks::now();
    let without = stream.without_line(usize::from(top.index));
    let ticks = Ticks::since(t0);
    match without {
        Ok(s) => defmt::info!(
            "evidence {=u64} without {=u64} score {=f32} bits {=u32:08x} ticks {=u32}",
            bag.first_line,
            bag.first_line + u64::from(top.index),
            s.probability,
            s.probability.to_bits(),
            ticks
        ),
        Err(e) => defmt::error!("evidence: {}", e),
    }
}

fn run() -> debug::ExitStatus {
    let model = match Model::from_bytes(MODEL) {
        Ok(m) => m,
        Err(e) => {
            defmt::error!("model rejected: {}", e);
            return debug::EXIT_FAILURE;
        }
    };
    defmt::info!(
        "model loaded: {=usize} bytes, window {=u16}, threshold {=f32}, scratch {=usize} f32",
        MODEL.len(),
        model.config().window,
        model.threshold(),
        model.stream_scratch_len()
    );
    // Calibrates the tick: cortex-m 0.7.10's `asm::delay(n)` runs its
    // two-instruction loop n + 1 times, so under -icount (one instruction
    // per ns, SysTick at 25 MHz: 40 instructions a tick) this reads n/20.
    let t0 = Ticks::now();
    cortex_m::asm::delay(4_000_000);
    defmt::info!(
        "calibration: delay(4000000) took {=u32} ticks",
        Ticks::since(t0)
    );
    let scratch = SCRATCH.take();
    let scorer = match BagScorer::new(&model, scratch) {
        Ok(s) => s,
        Err(e) => {
            defmt::error!("scorer: {}", e);
            return debug::EXIT_FAILURE;
        }
    };
    let mut stream = match LineStream::<32, 40>::new(scorer) {
        Ok(s) => s,
        Err(e) => {
            defmt::error!("stream: {}", e);
            return debug::EXIT_FAILURE;
        }
    };
    let mut bags = 0u32;
    let mut total_ticks = 0u32;
    if cfg!(not(feature = "no-bags")) {
        for line in LINES.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let t0 = Ticks::now();
            let bag = stream.push(line);
            let ticks = Ticks::since(t0);
            total_ticks = total_ticks.wrapping_add(ticks);
            if let Some(bag) = bag {
                log_bag(&bag, ticks);
                explain(&mut stream, &bag);
                bags += 1;
            }
        }
        let t0 = Ticks::now();
        let tail = stream.finish();
        let ticks = Ticks::since(t0);
        total_ticks = total_ticks.wrapping_add(ticks);
        if let Some(bag) = tail {
            log_bag(&bag, ticks);
            explain(&mut stream, &bag);
            bags += 1;
        }
    }
    defmt::info!(
        "done: {=u64} lines, {=u32} bags, {=u32} ticks in the stream, stack high-water {=u32} bytes",
        stream.lines_seen(),
        bags,
        total_ticks,
        stack_high_water()
    );
    debug::EXIT_SUCCESS
}

#[entry]
fn main() -> ! {
    paint_stack();
    let status = match cortex_m::Peripherals::take() {
        Some(p) => {
            let _ticks = Ticks::start(p.SYST);
            run()
        }
        None => debug::EXIT_FAILURE,
    };
    debug::exit(status);
    #[allow(clippy::empty_loop)]
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
