/*
 * needle_demo: streams newline-separated log text through the needle C API
 * and prints every bag, the same way on a Cortex-M firmware and on Linux.
 *
 * Output (one text line each, the format scripts/compare_bags.py reads;
 * every f32 also as its IEEE-754 bits in hex, so results compare bit for
 * bit across machines):
 *
 *   bag FIRST LAST score 0.968201 bits 3f77dc4f anomalous true ticks 12345 unfamiliar 0
 *   top LINE weight 0.511627 bits 3f02fa0c          (top_count of these)
 *   evidence FIRST without LINE score 0.120000 bits 3df5c28f ticks 2345
 *                                                   (anomalous bags: needle_stream_explain)
 *   oneshot: 18 bags rescored with needle_score_bag, all identical
 *   explained: 5 anomalous bags; unfamiliar bags: 0
 *   done: 300 lines, 18 bags, 123456 ticks in the stream, stack high-water 0 bytes
 *
 * Lines are split at '\n' with one trailing '\r' removed, and every line is
 * pushed, empty ones too: what `needle score` does with a file.
 */
#ifndef NEEDLE_DEMO_H
#define NEEDLE_DEMO_H

#include <stddef.h>
#include <stdint.h>

#include "needle.h"

/* What the demo needs from its platform. */
typedef struct needle_demo_io {
    /* Writes one line of output (`len` bytes, ending in '\n'). */
    void (*write)(const char *text, size_t len);
    /* A free-running down-counter and the ticks since a reading; NULL on
       platforms without one (ticks print as 0). */
    uint32_t (*ticks_now)(void);
    uint32_t (*ticks_since)(uint32_t start);
    /* Bytes of stack used so far; NULL where not measured (prints 0). */
    uint32_t (*stack_high_water)(void);
} needle_demo_io;

/* Text output helpers, no printf: a line is built in a small buffer. */
typedef struct needle_demo_line {
    char text[160];
    size_t len;
} needle_demo_line;

void needle_demo_str(needle_demo_line *l, const char *s);
void needle_demo_u64(needle_demo_line *l, uint64_t v);
void needle_demo_hex32(needle_demo_line *l, uint32_t v);
/* A probability in [0, 1] as 0.dddddd (for people; the bits are exact). */
void needle_demo_prob(needle_demo_line *l, float p);
void needle_demo_emit(const needle_demo_io *io, needle_demo_line *l);

/* Prints "model rejected: NAME (description)" or "STEP failed: ...". */
void needle_demo_error(const needle_demo_io *io, const char *step, needle_status st);

/*
 * Sets up a scorer in `scratch` (needle_scratch_size(model) bytes,
 * NEEDLE_SCRATCH_ALIGN-aligned), streams `text` through it, prints every
 * bag and the evidence of every anomalous one, rescores each bag with
 * needle_score_bag (and needle_bag_explain) and checks the one-shot calls
 * give the same bits, then the "done" line. Returns 0, or 1 after printing
 * what failed.
 */
int needle_demo_run(const uint8_t *model, size_t model_len,
                    const uint8_t *text, size_t text_len,
                    void *scratch, size_t scratch_len,
                    const needle_demo_io *io);

#endif /* NEEDLE_DEMO_H */
