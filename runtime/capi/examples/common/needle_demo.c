/*
 * needle_demo: the C API end to end (see needle_demo.h). Plain C99, no
 * allocation, no printf: it runs unchanged on a Cortex-M4 under newlib and
 * on Linux.
 */
#include "needle_demo.h"

#include <string.h>

/* Lines remembered for the one-shot re-check (a model's window must fit). */
#define DEMO_MAX_WINDOW 64

void needle_demo_str(needle_demo_line *l, const char *s)
{
    while (*s != '\0' && l->len < sizeof l->text - 1) {
        l->text[l->len++] = *s++;
    }
}

void needle_demo_u64(needle_demo_line *l, uint64_t v)
{
    char digits[21];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0 && l->len < sizeof l->text - 1) {
        l->text[l->len++] = digits[--n];
    }
}

void needle_demo_hex32(needle_demo_line *l, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int shift = 28; shift >= 0 && l->len < sizeof l->text - 1; shift -= 4) {
        l->text[l->len++] = hex[(v >> shift) & 0xFu];
    }
}

void needle_demo_prob(needle_demo_line *l, float p)
{
    if (!(p >= 0.0f && p <= 1.0f)) {
        needle_demo_str(l, "nan");
        return;
    }
    uint32_t micro = (uint32_t)(p * 1000000.0f + 0.5f);
    needle_demo_u64(l, micro / 1000000u);
    needle_demo_str(l, ".");
    char frac[7];
    uint32_t f = micro % 1000000u;
    for (int i = 5; i >= 0; i--) {
        frac[i] = (char)('0' + (int)(f % 10u));
        f /= 10u;
    }
    frac[6] = '\0';
    needle_demo_str(l, frac);
}

void needle_demo_emit(const needle_demo_io *io, needle_demo_line *l)
{
    if (l->len < sizeof l->text) {
        l->text[l->len++] = '\n';
    }
    io->write(l->text, l->len);
    l->len = 0;
}

static uint32_t f32_bits(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

void needle_demo_error(const needle_demo_io *io, const char *step, needle_status st)
{
    needle_demo_line l = {.len = 0};
    needle_demo_str(&l, step);
    needle_demo_str(&l, ": ");
    needle_demo_str(&l, needle_status_name(st));
    needle_demo_str(&l, " (");
    needle_demo_str(&l, needle_status_description(st));
    needle_demo_str(&l, ")");
    needle_demo_emit(io, &l);
}

static void print_bag(const needle_demo_io *io, const needle_bag *bag, uint32_t ticks)
{
    needle_demo_line l = {.len = 0};
    needle_demo_str(&l, "bag ");
    needle_demo_u64(&l, bag->first_line);
    needle_demo_str(&l, " ");
    needle_demo_u64(&l, bag->last_line);
    needle_demo_str(&l, " score ");
    needle_demo_prob(&l, bag->score);
    needle_demo_str(&l, " bits ");
    needle_demo_hex32(&l, f32_bits(bag->score));
    needle_demo_str(&l, bag->anomalous ? " anomalous true ticks " : " anomalous false ticks ");
    needle_demo_u64(&l, ticks);
    needle_demo_str(&l, " unfamiliar ");
    needle_demo_u64(&l, bag->unfamiliar_lines);
    needle_demo_emit(io, &l);
    for (uint16_t i = 0; i < bag->top_count && i < NEEDLE_MAX_TOP; i++) {
        needle_demo_str(&l, "top ");
        needle_demo_u64(&l, bag->top[i].line);
        needle_demo_str(&l, " weight ");
        needle_demo_prob(&l, bag->top[i].weight);
        needle_demo_str(&l, " bits ");
        needle_demo_hex32(&l, f32_bits(bag->top[i].weight));
        needle_demo_emit(io, &l);
    }
}

static void print_evidence(const needle_demo_io *io, const needle_bag *bag, uint32_t ticks)
{
    needle_demo_line l = {.len = 0};
    needle_demo_str(&l, "evidence ");
    needle_demo_u64(&l, bag->first_line);
    needle_demo_str(&l, " without ");
    needle_demo_u64(&l, bag->evidence_line);
    needle_demo_str(&l, " score ");
    needle_demo_prob(&l, bag->score_without);
    needle_demo_str(&l, " bits ");
    needle_demo_hex32(&l, f32_bits(bag->score_without));
    needle_demo_str(&l, " ticks ");
    needle_demo_u64(&l, ticks);
    needle_demo_emit(io, &l);
}

/* Whether a one-shot bag is the stream's bag, bit for bit (line numbers
   aside: the one-shot bag counts from 1), its evidence included. */
static int same_bag(const needle_bag *stream, const needle_bag *once)
{
    if (f32_bits(stream->score) != f32_bits(once->score) ||
        stream->anomalous != once->anomalous || stream->lines != once->lines ||
        stream->head != once->head || stream->top_count != once->top_count ||
        stream->unfamiliar_lines != once->unfamiliar_lines ||
        stream->unfamiliar != once->unfamiliar || stream->has_evidence != once->has_evidence ||
        (stream->has_evidence && f32_bits(stream->score_without) != f32_bits(once->score_without))) {
        return 0;
    }
    for (uint16_t i = 0; i < stream->top_count && i < NEEDLE_MAX_TOP; i++) {
        if (stream->top[i].index != once->top[i].index ||
            f32_bits(stream->top[i].weight) != f32_bits(once->top[i].weight)) {
            return 0;
        }
    }
    return 1;
}

static uint32_t now(const needle_demo_io *io);
static uint32_t since(const needle_demo_io *io, uint32_t start);

typedef struct demo_state {
    needle_scorer *scorer;
    const needle_demo_io *io;
    needle_line recent[DEMO_MAX_WINDOW]; /* line n at recent[(n - 1) % DEMO_MAX_WINDOW] */
    uint64_t bags;
    uint64_t explained;
    uint64_t unfamiliar;
    uint64_t rechecked;
    uint32_t ticks;
    int mismatch;
} demo_state;

/* Prints a bag, explains it when it is anomalous (its score without its
   top line: the evidence), and rescores its lines with needle_score_bag and
   needle_bag_explain. */
static needle_status on_bag(demo_state *d, needle_bag *bag, uint32_t ticks)
{
    print_bag(d->io, bag, ticks);
    d->bags++;
    d->unfamiliar += bag->unfamiliar;
    if (bag->anomalous) {
        uint32_t t0 = now(d->io);
        needle_status st = needle_stream_explain(d->scorer, bag);
        uint32_t evidence_ticks = since(d->io, t0);
        if (st != NEEDLE_OK) {
            return st;
        }
        print_evidence(d->io, bag, evidence_ticks);
        d->explained++;
    }
    uint64_t n = bag->last_line - bag->first_line + 1;
    if (n == 0 || n > DEMO_MAX_WINDOW) {
        return NEEDLE_OK; /* window too large to keep here: no re-check */
    }
    needle_line lines[DEMO_MAX_WINDOW];
    for (uint64_t i = 0; i < n; i++) {
        lines[i] = d->recent[(bag->first_line - 1 + i) % DEMO_MAX_WINDOW];
    }
    needle_bag once;
    needle_status st = needle_score_bag(d->scorer, lines, (size_t)n, &once);
    if (st == NEEDLE_OK && once.anomalous) {
        st = needle_bag_explain(d->scorer, lines, (size_t)n, &once);
    }
    if (st != NEEDLE_OK) {
        return st;
    }
    if (!same_bag(bag, &once)) {
        needle_demo_line l = {.len = 0};
        needle_demo_str(&l, "MISMATCH: needle_score_bag differs from the stream for bag ");
        needle_demo_u64(&l, bag->first_line);
        needle_demo_emit(d->io, &l);
        d->mismatch = 1;
    }
    d->rechecked++;
    return NEEDLE_OK;
}

static uint32_t now(const needle_demo_io *io)
{
    return io->ticks_now != NULL ? io->ticks_now() : 0u;
}

static uint32_t since(const needle_demo_io *io, uint32_t start)
{
    return io->ticks_since != NULL ? io->ticks_since(start) : 0u;
}

int needle_demo_run(const uint8_t *model, size_t model_len,
                    const uint8_t *text, size_t text_len,
                    void *scratch, size_t scratch_len,
                    const needle_demo_io *io)
{
    static demo_state d; /* static: keeps the firmware's stack small */
    memset(&d, 0, sizeof d);
    d.io = io;
    needle_status st = needle_scorer_init(model, model_len, scratch, scratch_len, &d.scorer);
    if (st != NEEDLE_OK) {
        needle_demo_error(io, "scorer", st);
        return 1;
    }
    needle_bag bag;
    bool has_bag = false;
    uint64_t lines = 0;
    size_t pos = 0;
    while (pos < text_len) {
        size_t end = pos;
        while (end < text_len && text[end] != '\n') {
            end++;
        }
        size_t len = end - pos;
        if (len > 0 && text[pos + len - 1] == '\r') {
            len--;
        }
        d.recent[lines % DEMO_MAX_WINDOW] = (needle_line){.data = text + pos, .len = len};
        lines++;
        uint32_t t0 = now(io);
        st = needle_stream_push(d.scorer, text + pos, len, &bag, &has_bag);
        uint32_t ticks = since(io, t0);
        d.ticks += ticks;
        if (st == NEEDLE_OK && has_bag) {
            st = on_bag(&d, &bag, ticks);
        }
        if (st != NEEDLE_OK) {
            needle_demo_error(io, "push", st);
            return 1;
        }
        pos = end + 1; /* past the '\n' (or past the end) */
    }
    uint32_t t0 = now(io);
    st = needle_stream_finish(d.scorer, &bag, &has_bag);
    uint32_t ticks = since(io, t0);
    d.ticks += ticks;
    if (st == NEEDLE_OK && has_bag) {
        st = on_bag(&d, &bag, ticks);
    }
    if (st != NEEDLE_OK) {
        needle_demo_error(io, "finish", st);
        return 1;
    }
    uint64_t seen = 0;
    st = needle_stream_lines_seen(d.scorer, &seen);
    if (st != NEEDLE_OK || seen != lines) {
        needle_demo_error(io, "lines_seen", st);
        return 1;
    }
    needle_demo_line l = {.len = 0};
    needle_demo_str(&l, "oneshot: ");
    needle_demo_u64(&l, d.rechecked);
    needle_demo_str(&l, " bags rescored with needle_score_bag, ");
    needle_demo_str(&l, d.mismatch ? "MISMATCH" : "all identical");
    needle_demo_emit(io, &l);
    needle_demo_str(&l, "explained: ");
    needle_demo_u64(&l, d.explained);
    needle_demo_str(&l, " anomalous bags; unfamiliar bags: ");
    needle_demo_u64(&l, d.unfamiliar);
    needle_demo_emit(io, &l);
    needle_demo_str(&l, "done: ");
    needle_demo_u64(&l, lines);
    needle_demo_str(&l, " lines, ");
    needle_demo_u64(&l, d.bags);
    needle_demo_str(&l, " bags, ");
    needle_demo_u64(&l, d.ticks);
    needle_demo_str(&l, " ticks in the stream, stack high-water ");
    needle_demo_u64(&l, io->stack_high_water != NULL ? io->stack_high_water() : 0u);
    needle_demo_str(&l, " bytes");
    needle_demo_emit(io, &l);
    return d.mismatch ? 1 : 0;
}
