/*
 * Hostile-input test of the needle C API, run under valgrind by
 * scripts/c-check.sh:
 *
 *   valgrind --error-exitcode=99 --leak-check=full ./hostile MODEL.needle LOG
 *
 * Every case calls the API with arguments a careless or hostile caller
 * could pass (NULL, short or misaligned buffers, impossible lengths,
 * overlapping buffers, handles that are not scorers, corrupted model files
 * with and without a repaired CRC) and checks the exact status code; a
 * valid stream run and hundreds of randomly corrupted models check that
 * nothing reads or writes out of bounds (valgrind) and that the library
 * allocates nothing: this program is linked with -Wl,--wrap=malloc,... so
 * every allocation made from libneedle.a is counted.
 *
 * Prints "N passed, M failed" and exits 1 on any failure.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "needle.h"

/* The C layout the library writes: fixed, no padding. */
_Static_assert(sizeof(needle_top_line) == 16, "needle_top_line layout");
_Static_assert(sizeof(needle_bag) == 64 + 16 * NEEDLE_MAX_TOP, "needle_bag layout");
_Static_assert(offsetof(needle_bag, top) == 64, "needle_bag layout");
_Static_assert(sizeof(needle_line) == 2 * sizeof(void *), "needle_line layout");
_Static_assert(sizeof(needle_model_info) == sizeof(size_t) + 16, "needle_model_info layout");

/* ---- allocation counting (--wrap) ---- */
static int counting;
static long allocations;
void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
int __real_posix_memalign(void **, size_t, size_t);
void *__real_aligned_alloc(size_t, size_t);
void *__wrap_malloc(size_t n)
{
    allocations += counting;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    allocations += counting;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    allocations += counting;
    return __real_realloc(p, n);
}
int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
    allocations += counting;
    return __real_posix_memalign(p, a, n);
}
void *__wrap_aligned_alloc(size_t a, size_t n)
{
    allocations += counting;
    return __real_aligned_alloc(a, n);
}

/* ---- checks ---- */
static int passed, failed;

static void check(int ok, const char *what, int line)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL line %d: %s\n", line, what);
    }
}
#define CHECK(cond) check((cond), #cond, __LINE__)
#define EXPECT(call, code)                                                                  \
    do {                                                                                    \
        needle_status got_ = (call);                                                        \
        if (got_ != (code)) {                                                               \
            printf("FAIL line %d: %s gave %s, expected %s\n", __LINE__, #call,              \
                   needle_status_name(got_), needle_status_name(code));                     \
            failed++;                                                                       \
        } else {                                                                            \
            passed++;                                                                       \
        }                                                                                   \
    } while (0)

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: read error\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* zlib's crc32 (IEEE, reflected): the model file's checksum. */
static uint32_t crc32(const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    if (table[1] == 0) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) {
                c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
            }
            table[i] = c;
        }
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c = table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    }
    return c ^ 0xFFFFFFFFu;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Rewrites the envelope of a model whose payload was edited: the payload
   length in the header and the CRC-32 trailer (docs/model-format.md). */
static void reseal(uint8_t *m, size_t len)
{
    size_t payload = len - 14;
    put_u32(m + 6, (uint32_t)payload);
    put_u32(m + 10 + payload, crc32(m + 10, payload));
}

/* Offset of config field `field` (1-based, docs/model-format.md: fields
   1..15 are varints from offset 10), or of the threshold for field 16. */
static size_t field_offset(const uint8_t *m, int field)
{
    size_t at = 10;
    for (int f = 1; f < field; f++) {
        while (m[at] & 0x80u) {
            at++;
        }
        at++;
    }
    return at;
}

static size_t scratch_needed(const uint8_t *model, size_t len)
{
    size_t n = 0;
    EXPECT(needle_scratch_size(model, len, &n), NEEDLE_OK);
    return n;
}

/* The status of loading a (corrupted) model into a fresh scorer; when it
   loads, streams `lines` lines through it so every weight is used. */
static needle_status load_and_run(const uint8_t *m, size_t len, void *scratch, size_t scratch_len,
                                  const uint8_t *text, size_t text_len, int lines)
{
    needle_scorer *s = NULL;
    needle_status st = needle_scorer_init(m, len, scratch, scratch_len, &s);
    if (st != NEEDLE_OK) {
        CHECK(s == NULL);
        return st;
    }
    needle_bag bag;
    bool has = false;
    size_t pos = 0;
    for (int i = 0; i < lines && pos < text_len; i++) {
        const uint8_t *nl = memchr(text + pos, '\n', text_len - pos);
        size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : text_len - pos;
        EXPECT(needle_stream_push(s, text + pos, n, &bag, &has), NEEDLE_OK);
        pos += n + 1;
    }
    EXPECT(needle_stream_finish(s, &bag, &has), NEEDLE_OK);
    CHECK(lines == 0 || (has && bag.top_count > 0));
    return NEEDLE_OK;
}

static int is_model_error(needle_status st)
{
    return st >= NEEDLE_ERR_MODEL_TRUNCATED && st <= NEEDLE_ERR_MODEL_INVALID;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.needle LOG\n", argv[0]);
        return 2;
    }
    size_t len = 0, text_len = 0;
    uint8_t *model = read_file(argv[1], &len);
    uint8_t *text = read_file(argv[2], &text_len);
    size_t need = scratch_needed(model, len);
    size_t cap = need + 256;
    uint8_t *scratch = aligned_alloc(16, cap);
    uint8_t *other = aligned_alloc(16, cap);
    uint8_t *work = malloc(len + 16);
    size_t stream_need = 0;
    EXPECT(needle_stream_scratch_size(model, len, &stream_need), NEEDLE_OK);
    uint8_t *roomy = aligned_alloc(16, (stream_need + 15u) / 16u * 16u);
    CHECK(scratch != NULL && other != NULL && work != NULL && roomy != NULL);
    counting = 1; /* from here on, any allocation made inside the library counts */

    /* -- status names -- */
    for (int32_t code = NEEDLE_OK; code <= NEEDLE_ERR_WRONG_BAG; code++) {
        CHECK(strncmp(needle_status_name(code), "NEEDLE_", 7) == 0);
        CHECK(strcmp(needle_status_name(code), "NEEDLE_UNKNOWN_STATUS") != 0);
        CHECK(strlen(needle_status_description(code)) > 0);
    }
    CHECK(strcmp(needle_status_name(NEEDLE_ERR_MODEL_CHECKSUM), "NEEDLE_ERR_MODEL_CHECKSUM") == 0);
    const int32_t unknown[] = {-1, NEEDLE_ERR_WRONG_BAG + 1, 1000, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK(strcmp(needle_status_name(unknown[i]), "NEEDLE_UNKNOWN_STATUS") == 0);
        CHECK(strcmp(needle_status_description(unknown[i]), "unknown needle status code") == 0);
    }
    CHECK(strlen(needle_version()) > 0);

    /* -- model checks and sizes -- */
    size_t n = 0;
    needle_model_info info;
    EXPECT(needle_model_check(model, len, &info), NEEDLE_OK);
    CHECK(info.scratch_bytes == need && info.window > 0 && info.top_k <= NEEDLE_MAX_TOP);
    EXPECT(needle_model_check(NULL, len, &info), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_model_check(model, len, NULL), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_model_check(model, len, (needle_model_info *)((uint8_t *)&info + 2)),
           NEEDLE_ERR_MISALIGNED);
    EXPECT(needle_scratch_size(NULL, 0, &n), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_scratch_size(model, len, NULL), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_scratch_size(model, SIZE_MAX, &n), NEEDLE_ERR_LENGTH);
    EXPECT(needle_scratch_size(model, (size_t)PTRDIFF_MAX + 1u, &n), NEEDLE_ERR_LENGTH);
    EXPECT(needle_scratch_size((const uint8_t *)(uintptr_t)(UINTPTR_MAX - 8u), 64, &n),
           NEEDLE_ERR_LENGTH);
    EXPECT(needle_stream_scratch_size(model, len, &n), NEEDLE_OK);
    CHECK(n == stream_need && stream_need > need);
    EXPECT(needle_stream_scratch_size(NULL, 0, &n), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_scratch_size(model, len, NULL), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_scratch_size(model, SIZE_MAX, &n), NEEDLE_ERR_LENGTH);
    /* A buffer with room for the kept rows: a whole stream, under valgrind. */
    EXPECT(load_and_run(model, len, roomy, stream_need, text, text_len, 100), NEEDLE_OK);

    /* -- init -- */
    needle_scorer *s = (needle_scorer *)model; /* must be overwritten with NULL on failure */
    EXPECT(needle_scorer_init(model, len, scratch, cap, NULL), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_scorer_init(NULL, len, scratch, cap, &s), NEEDLE_ERR_NULL_POINTER);
    CHECK(s == NULL);
    EXPECT(needle_scorer_init(model, len, NULL, cap, &s), NEEDLE_ERR_NULL_POINTER);
    for (size_t off = 1; off < NEEDLE_SCRATCH_ALIGN; off++) {
        EXPECT(needle_scorer_init(model, len, scratch + off, cap - off, &s), NEEDLE_ERR_MISALIGNED);
    }
    EXPECT(needle_scorer_init(model, len, scratch, need - 1, &s), NEEDLE_ERR_SCRATCH_TOO_SMALL);
    EXPECT(needle_scorer_init(model, len, scratch, 0, &s), NEEDLE_ERR_SCRATCH_TOO_SMALL);
    EXPECT(needle_scorer_init(model, len, scratch, SIZE_MAX, &s), NEEDLE_ERR_LENGTH);
    EXPECT(needle_scorer_init(model, len, scratch, cap, (needle_scorer **)(scratch + 1)),
           NEEDLE_ERR_MISALIGNED);
    EXPECT(needle_scorer_init(model, len, scratch, cap, (needle_scorer **)(scratch + 64)),
           NEEDLE_ERR_OVERLAP);
    memcpy(scratch, model, 64);
    EXPECT(needle_scorer_init(scratch, 64, scratch, cap, &s), NEEDLE_ERR_OVERLAP);
    EXPECT(needle_scorer_init(model, len - 1, scratch, cap, &s), NEEDLE_ERR_MODEL_TRUNCATED);
    CHECK(s == NULL);

    EXPECT(needle_scorer_init(model, len, scratch, need, &s), NEEDLE_OK);
    CHECK(s != NULL);

    /* -- stream pushes -- */
    static const uint8_t line[] = "RAS KERNEL INFO generating core.2275";
    const size_t line_len = sizeof line - 1;
    needle_bag bag;
    bool has = true;
    uint64_t seen = 7;
    EXPECT(needle_stream_push(NULL, line, line_len, &bag, &has), NEEDLE_ERR_NULL_POINTER);
    CHECK(has == false);
    EXPECT(needle_stream_push(s, NULL, 5, &bag, &has), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_push(s, line, line_len, NULL, &has), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_push(s, line, line_len, &bag, NULL), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_push(s, line, line_len, (needle_bag *)((uint8_t *)&bag + 4), &has),
           NEEDLE_ERR_MISALIGNED);
    EXPECT(needle_stream_push(s, line, SIZE_MAX, &bag, &has), NEEDLE_ERR_LENGTH);
    EXPECT(needle_stream_push(s, line, (size_t)PTRDIFF_MAX + 1u, &bag, &has), NEEDLE_ERR_LENGTH);
    EXPECT(needle_stream_push(s, scratch + need - 8, 4, &bag, &has), NEEDLE_ERR_OVERLAP);
    EXPECT(needle_stream_push(s, line, line_len, (needle_bag *)(scratch + (need / 2 & ~(size_t)7)), &has),
           NEEDLE_ERR_OVERLAP);
    EXPECT(needle_stream_lines_seen(s, &seen), NEEDLE_OK);
    CHECK(seen == 0); /* refused pushes are not counted */
    EXPECT(needle_stream_lines_seen(s, NULL), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_lines_seen(s, (uint64_t *)((uint8_t *)&seen + 1)), NEEDLE_ERR_MISALIGNED);
    EXPECT(needle_stream_push(s, NULL, 0, &bag, &has), NEEDLE_OK); /* an empty line */
    EXPECT(needle_stream_lines_seen(s, &seen), NEEDLE_OK);
    CHECK(seen == 1);
    EXPECT(needle_stream_finish(s, NULL, &has), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_finish(s, &bag, NULL), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_finish(NULL, &bag, &has), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_finish(s, &bag, &has), NEEDLE_OK);
    CHECK(has && bag.first_line == 1 && bag.last_line == 1 && bag.lines == 1);
    CHECK(!bag.has_evidence && bag.score_without != bag.score_without); /* NaN until explained */
    /* -- explaining the stream's last bag -- */
    needle_bag copy = bag;
    EXPECT(needle_stream_explain(NULL, &bag), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_explain(s, NULL), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_explain(s, (needle_bag *)((uint8_t *)&bag + 4)), NEEDLE_ERR_MISALIGNED);
    EXPECT(needle_stream_explain(s, (needle_bag *)(scratch + 64)), NEEDLE_ERR_OVERLAP);
    copy.last_line = 2;
    EXPECT(needle_stream_explain(s, &copy), NEEDLE_ERR_WRONG_BAG);
    copy = bag;
    copy.top_count = 0;
    EXPECT(needle_stream_explain(s, &copy), NEEDLE_ERR_WRONG_BAG);
    copy = bag;
    copy.top[0].index = 1; /* the bag has one line */
    EXPECT(needle_stream_explain(s, &copy), NEEDLE_ERR_WRONG_BAG);
    copy = bag;
    memset(&copy.anomalous, 0x5A, 4); /* invalid bools in the caller's struct are never read */
    EXPECT(needle_stream_explain(s, &copy), NEEDLE_OK);
    EXPECT(needle_stream_explain(s, &bag), NEEDLE_OK);
    CHECK(bag.has_evidence && bag.evidence_line == 1 && bag.score_without >= 0.0f &&
          bag.score_without <= 1.0f);
    EXPECT(needle_stream_finish(s, &bag, &has), NEEDLE_OK);
    CHECK(!has);
    EXPECT(needle_stream_reset(NULL), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_stream_reset(s), NEEDLE_OK);
    EXPECT(needle_stream_explain(s, &bag), NEEDLE_ERR_NO_BAG); /* nothing since the reset */

    /* -- one-shot bags -- */
    needle_line lines[64];
    for (size_t i = 0; i < 64; i++) {
        lines[i] = (needle_line){.data = line, .len = line_len};
    }
    EXPECT(needle_score_bag(s, lines, 0, &bag), NEEDLE_ERR_NO_LINES);
    EXPECT(needle_score_bag(s, NULL, 3, &bag), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_score_bag(s, lines, 3, NULL), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_score_bag(s, lines, (size_t)info.window + 1, &bag), NEEDLE_ERR_TOO_MANY_LINES);
    EXPECT(needle_score_bag(s, lines, SIZE_MAX, &bag), NEEDLE_ERR_TOO_MANY_LINES);
    EXPECT(needle_score_bag(s, (const needle_line *)((const uint8_t *)lines + 1), 1, &bag),
           NEEDLE_ERR_MISALIGNED);
    EXPECT(needle_score_bag(s, lines, info.window, &bag), NEEDLE_OK);
    CHECK(bag.lines == info.window && bag.first_line == 1 && bag.last_line == info.window);
    CHECK(bag.top_count == info.top_k && bag.top[0].line == 1u + bag.top[0].index);
    EXPECT(needle_bag_explain(s, lines, info.window, &bag), NEEDLE_OK);
    CHECK(bag.has_evidence && bag.evidence_line == bag.top[0].line);
    EXPECT(needle_bag_explain(s, lines, 0, &bag), NEEDLE_ERR_NO_LINES);
    EXPECT(needle_bag_explain(s, NULL, 2, &bag), NEEDLE_ERR_NULL_POINTER);
    EXPECT(needle_bag_explain(s, lines, (size_t)info.window + 1, &bag), NEEDLE_ERR_TOO_MANY_LINES);
    copy = bag;
    copy.top[0].index = 5;
    EXPECT(needle_bag_explain(s, lines, 5, &copy), NEEDLE_ERR_WRONG_BAG);
    EXPECT(needle_stream_explain(s, &bag), NEEDLE_ERR_NO_BAG); /* one-shot bags are not the stream's */
    lines[1] = (needle_line){.data = NULL, .len = 0}; /* an empty line is fine */
    EXPECT(needle_score_bag(s, lines, 2, &bag), NEEDLE_OK);
    lines[1] = (needle_line){.data = NULL, .len = 9};
    EXPECT(needle_score_bag(s, lines, 2, &bag), NEEDLE_ERR_NULL_POINTER);
    lines[1] = (needle_line){.data = line, .len = SIZE_MAX};
    EXPECT(needle_score_bag(s, lines, 2, &bag), NEEDLE_ERR_LENGTH);
    lines[1] = (needle_line){.data = scratch + 100, .len = 10};
    EXPECT(needle_score_bag(s, lines, 2, &bag), NEEDLE_ERR_OVERLAP);
    EXPECT(needle_score_bag(s, (const needle_line *)(scratch + 128), 1, &bag), NEEDLE_ERR_OVERLAP);
    lines[1] = (needle_line){.data = line, .len = line_len};
    EXPECT(needle_stream_lines_seen(s, &seen), NEEDLE_OK);
    CHECK(seen == 0); /* one-shot bags leave the stream alone */

    /* -- handles that are not live scorers -- */
    memset(other, 0, cap);
    EXPECT(needle_stream_reset((needle_scorer *)other), NEEDLE_ERR_BAD_HANDLE);
    for (size_t i = 0; i < cap; i++) {
        other[i] = (uint8_t)(i * 131u + 7u);
    }
    EXPECT(needle_stream_push((needle_scorer *)other, line, line_len, &bag, &has),
           NEEDLE_ERR_BAD_HANDLE);
    EXPECT(needle_stream_reset((needle_scorer *)(scratch + 4)), NEEDLE_ERR_BAD_HANDLE);
    EXPECT(needle_stream_reset((needle_scorer *)(scratch + 1)), NEEDLE_ERR_BAD_HANDLE);
    memcpy(other, scratch, need); /* a moved copy is refused */
    EXPECT(needle_score_bag((needle_scorer *)other, lines, 2, &bag), NEEDLE_ERR_BAD_HANDLE);
    scratch[0] ^= 0xFFu; /* an overwritten handle (its magic: the first word) is refused */
    EXPECT(needle_stream_reset(s), NEEDLE_ERR_BAD_HANDLE);
    scratch[0] ^= 0xFFu;
    scratch[sizeof(uint32_t) == sizeof(void *) ? 4 : 8] ^= 0x10u; /* its address */
    EXPECT(needle_stream_reset(s), NEEDLE_ERR_BAD_HANDLE);
    scratch[sizeof(uint32_t) == sizeof(void *) ? 4 : 8] ^= 0x10u;
    EXPECT(needle_stream_reset(s), NEEDLE_OK);

    /* -- a valid run: every line of the log, then the tail bag -- */
    size_t pos = 0;
    uint64_t lines_in = 0, bags = 0;
    while (pos < text_len) {
        const uint8_t *nl = memchr(text + pos, '\n', text_len - pos);
        size_t l = nl != NULL ? (size_t)(nl - (text + pos)) : text_len - pos;
        EXPECT(needle_stream_push(s, text + pos, l, &bag, &has), NEEDLE_OK);
        lines_in++;
        if (has) {
            bags++;
            CHECK(bag.last_line == lines_in && bag.last_line - bag.first_line + 1 == info.window);
            CHECK(bag.score >= 0.0f && bag.score <= 1.0f && bag.top_count == info.top_k);
            CHECK(bag.unfamiliar_lines <= bag.lines);
            EXPECT(needle_stream_explain(s, &bag), NEEDLE_OK);
        }
        pos += l + 1;
    }
    EXPECT(needle_stream_finish(s, &bag, &has), NEEDLE_OK);
    bags += has;
    EXPECT(needle_stream_lines_seen(s, &seen), NEEDLE_OK);
    CHECK(seen == lines_in);
    printf("valid run: %llu lines, %llu bags\n", (unsigned long long)lines_in,
           (unsigned long long)bags);

    /* -- corrupted model files: exact codes -- */
    const size_t cuts[] = {0, 1, 3, 4, 9, 10, 13, 14, 100, len / 2, len - 4, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        memcpy(work, model, cuts[i]);
        EXPECT(needle_scratch_size(work, cuts[i], &n), NEEDLE_ERR_MODEL_TRUNCATED);
    }
#define CORRUPT(edit, code)                                                                  \
    do {                                                                                     \
        memcpy(work, model, len);                                                            \
        edit;                                                                                \
        EXPECT(needle_scorer_init(work, len, scratch, cap, &s), code);                       \
    } while (0)
    CORRUPT(work[0] = 'X', NEEDLE_ERR_MODEL_BAD_MAGIC);
    CORRUPT(work[4] ^= 0x40u, NEEDLE_ERR_MODEL_VERSION);
    CORRUPT(put_u32(work + 6, get_u32(work + 6) + 1u), NEEDLE_ERR_MODEL_TRUNCATED);
    CORRUPT(put_u32(work + 6, get_u32(work + 6) - 1u), NEEDLE_ERR_MODEL_TRAILING_BYTES);
    CORRUPT(work[len / 2] ^= 0x40u, NEEDLE_ERR_MODEL_CHECKSUM);
    CORRUPT(work[len - 1] ^= 0x01u, NEEDLE_ERR_MODEL_CHECKSUM);
    /* Edits behind a repaired CRC: what a bit flip in flash plus a
       recomputed checksum, or a hostile file, looks like. */
    CORRUPT((work[field_offset(work, 13)] = 0, reseal(work, len)), NEEDLE_ERR_MODEL_CONFIG);
    CORRUPT((work[field_offset(work, 14)] = 0x7F, reseal(work, len)), NEEDLE_ERR_MODEL_CONFIG);
    CORRUPT((work[field_offset(work, 15)] = 17, reseal(work, len)), NEEDLE_ERR_MODEL_TOO_LARGE);
    CORRUPT((work[field_offset(work, 4)] ^= 0x01u, reseal(work, len)), NEEDLE_ERR_MODEL_SHAPE);
    CORRUPT((put_u32(work + field_offset(work, 16), 0x7FC00000u), reseal(work, len)),
            NEEDLE_ERR_MODEL_NON_FINITE);
    CORRUPT((put_u32(work + field_offset(work, 16), 0x7F800000u), reseal(work, len)),
            NEEDLE_ERR_MODEL_NON_FINITE);
    /* A payload cut short, with header and CRC made consistent again. */
    memcpy(work, model, len);
    reseal(work, len / 2);
    EXPECT(needle_scorer_init(work, len / 2, scratch, cap, &s), NEEDLE_ERR_MODEL_DECODE);
    /* One extra payload byte, sealed: the payload does not end where it should. */
    memcpy(work, model, len - 4);
    work[len - 4] = 0;
    reseal(work, len + 1);
    EXPECT(needle_scorer_init(work, len + 1, scratch, cap, &s), NEEDLE_ERR_MODEL_DECODE);

    /* -- random corruption, CRC repaired: a model error or a model that
          scores, never a crash (valgrind watches every access) -- */
    uint32_t rng = 0x12345678u;
    int loaded = 0, rejected = 0, larger = 0;
    for (int i = 0; i < 400; i++) {
        memcpy(work, model, len);
        rng = rng * 1664525u + 1013904223u;
        /* A quarter of the flips in the first 64 payload bytes (the
           configuration, the threshold, the first length prefixes), the
           rest anywhere in the payload. */
        size_t span = (i % 4 == 0 && len - 14 > 64) ? 64 : len - 14;
        size_t at = 10 + (rng >> 8) % span;
        rng = rng * 1664525u + 1013904223u;
        work[at] ^= (uint8_t)(1u << (rng >> 29));
        reseal(work, len);
        needle_status st = load_and_run(work, len, scratch, cap, text, text_len,
                                        loaded < 40 ? 40 : 0);
        /* A flip can also make a valid model that needs more scratch
           (e.g. a wider window). */
        int ok = st == NEEDLE_OK || is_model_error(st) || st == NEEDLE_ERR_SCRATCH_TOO_SMALL;
        if (!ok) {
            printf("flip of byte %zu: %s\n", at, needle_status_name(st));
        }
        CHECK(ok);
        if (st == NEEDLE_OK) {
            loaded++;
        } else if (st == NEEDLE_ERR_SCRATCH_TOO_SMALL) {
            larger++;
        } else {
            rejected++;
        }
    }
    for (int i = 0; i < 100; i++) {
        rng = rng * 1664525u + 1013904223u;
        size_t cut = 14 + (rng >> 8) % (len - 14);
        memcpy(work, model, cut);
        reseal(work, cut);
        needle_status st = load_and_run(work, cut, scratch, cap, text, text_len, 0);
        CHECK(is_model_error(st));
        rejected++;
    }
    printf("random corruption: %d models loaded and scored, %d rejected with a model error, "
           "%d valid but needing more scratch\n",
           loaded, rejected, larger);

    counting = 0;
    CHECK(allocations == 0);
    printf("allocations made inside the library: %ld\n", allocations);
    free(work);
    free(roomy);
    free(other);
    free(scratch);
    free(text);
    free(model);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
