/*
 * Start-up for the C firmware on a Cortex-M4F (QEMU mps2-an386): the vector
 * table, the reset handler (copy .data, zero .bss, enable the FPU, paint the
 * stack, set up newlib's semihosting, run main, exit with its status) and a
 * fault handler and an abort() that report over semihosting and exit with
 * status 1.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack, _heap_limit, end;
/* librdimon's sbrk refuses to grow the heap past this when it is set. */
extern void *__heap_limit;
extern int main(void);
/* newlib (librdimon): opens stdin/stdout/stderr over semihosting. */
extern void initialise_monitor_handles(void);

void Reset_Handler(void);
void Fault_Handler(void);

/* Word written over the unused stack at start-up (as firmware-example). */
#define STACK_PAINT 0x5AFEC0DEu

/* An entry of the vector table: the initial stack pointer or a handler. */
typedef union {
    const void *stack;
    void (*handler)(void);
} vector_entry;

__attribute__((section(".isr_vector"), used))
const vector_entry vector_table[16] = {
    {.stack = &_estack},         /* initial stack pointer */
    {.handler = Reset_Handler},  /* reset */
    {.handler = Fault_Handler},  /* NMI */
    {.handler = Fault_Handler},  /* HardFault */
    {.handler = Fault_Handler},  /* MemManage */
    {.handler = Fault_Handler},  /* BusFault */
    {.handler = Fault_Handler},  /* UsageFault */
    {0}, {0}, {0}, {0},          /* reserved */
    {.handler = Fault_Handler},  /* SVCall */
    {.handler = Fault_Handler},  /* DebugMonitor */
    {0},                         /* reserved */
    {.handler = Fault_Handler},  /* PendSV */
    {.handler = Fault_Handler},  /* SysTick (not enabled as an interrupt) */
};

/* Paints [end of the heap, sp - 256) so the high-water mark can be read later.
   Addresses are integers: the linker symbols are not C arrays. */
static void paint_stack(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uintptr_t p = (uintptr_t)&_heap_limit; p + 256u < sp; p += 4u) {
        *(volatile uint32_t *)p = STACK_PAINT;
    }
}

/* Bytes of stack ever used: from the top of RAM down to the lowest word that
   no longer holds the paint. */
uint32_t heap_used(void)
{
    extern void *sbrk(ptrdiff_t);
    return (uint32_t)((uintptr_t)sbrk(0) - (uintptr_t)&end);
}

uint32_t stack_high_water(void)
{
    uintptr_t top = (uintptr_t)&_estack;
    uintptr_t p = (uintptr_t)&_heap_limit;
    while (p < top && *(volatile const uint32_t *)p == STACK_PAINT) {
        p += 4u;
    }
    return (uint32_t)(top - p);
}

void Reset_Handler(void)
{
    memcpy(&_sdata, &_sidata, (size_t)((uintptr_t)&_edata - (uintptr_t)&_sdata));
    memset(&_sbss, 0, (size_t)((uintptr_t)&_ebss - (uintptr_t)&_sbss));
    /* CP10 and CP11 full access: the FPU is off at reset, and this code is
       built for the hard-float ABI. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    __heap_limit = &_heap_limit;
    paint_stack();
    initialise_monitor_handles();
    exit(main());
}

/* Semihosting call (BKPT 0xAB): op in r0, argument in r1. */
static void semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

__attribute__((noreturn)) static void fail(const char *why)
{
    semihost(0x04u, why);                    /* SYS_WRITE0 */
    semihost(0x18u, (const void *)0x20024u); /* SYS_EXIT, ADP_Stopped_InternalError: status 1 */
    for (;;) {
    }
}

void Fault_Handler(void)
{
    fail("fault: the firmware took an exception\n");
}

/* libneedle.a's panic handler calls abort(). The library is written never
   to panic; this replaces newlib's abort (which would pull in signal() and
   malloc) with a message and a failing exit. A real device might log and
   reset here. */
void abort(void)
{
    fail("abort: the needle library panicked\n");
}
