/*
 * needle-c-demo: the needle C API on Linux (x86-64, or aarch64 under
 * qemu-aarch64 in scripts/c-check.sh).
 *
 *   needle-c-demo MODEL.needle [LOG]      (LOG defaults to stdin)
 *
 * Reads the model and the log into memory this program owns, asks the
 * library how much scratch the model needs, and streams the log through a
 * scorer, printing every bag (examples/common/needle_demo.h has the
 * format). The library itself allocates nothing. Exit status: 0, or 1 with
 * the reason on stdout/stderr.
 */
#include <stdio.h>
#include <stdlib.h>

#include "needle.h"
#include "needle_demo.h"

/* Reads a whole file (or stdin for NULL); NULL on error. */
static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = path != NULL ? fopen(path, "rb") : stdin;
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) {
            break;
        }
        uint8_t *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int failed = ferror(f);
    if (path != NULL) {
        fclose(f);
    }
    if (buf == NULL || failed) {
        fprintf(stderr, "%s: read error\n", path != NULL ? path : "stdin");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void write_stdout(const char *text, size_t len)
{
    fwrite(text, 1, len, stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL.needle [LOG]\n", argv[0]);
        return 2;
    }
    const needle_demo_io io = {.write = write_stdout};
    size_t model_len = 0, text_len = 0;
    uint8_t *model = read_all(argv[1], &model_len);
    uint8_t *text = model != NULL ? read_all(argc == 3 ? argv[2] : NULL, &text_len) : NULL;
    if (text == NULL) {
        free(model);
        return 1;
    }
    int rc = 1;
    needle_model_info info;
    size_t stream_bytes = 0;
    needle_status st = needle_model_check(model, model_len, &info);
    if (st == NEEDLE_OK) {
        /* Room for the rows consecutive bags share: each is computed once. */
        st = needle_stream_scratch_size(model, model_len, &stream_bytes);
    }
    if (st != NEEDLE_OK) {
        needle_demo_error(&io, "model rejected", st);
    } else {
        needle_demo_line l = {.len = 0};
        needle_demo_str(&l, "model loaded: ");
        needle_demo_u64(&l, model_len);
        needle_demo_str(&l, " bytes, window ");
        needle_demo_u64(&l, info.window);
        needle_demo_str(&l, ", scratch ");
        needle_demo_u64(&l, info.scratch_bytes);
        needle_demo_str(&l, ", with kept rows ");
        needle_demo_u64(&l, stream_bytes);
        needle_demo_str(&l, " bytes, needle ");
        needle_demo_str(&l, needle_version());
        needle_demo_emit(&io, &l);
        /* aligned_alloc wants a multiple of the alignment. */
        size_t size = (stream_bytes + NEEDLE_SCRATCH_ALIGN - 1) / NEEDLE_SCRATCH_ALIGN *
                      NEEDLE_SCRATCH_ALIGN;
        void *scratch = aligned_alloc(NEEDLE_SCRATCH_ALIGN, size);
        if (scratch == NULL) {
            fprintf(stderr, "out of memory\n");
        } else {
            rc = needle_demo_run(model, model_len, text, text_len, scratch, size, &io);
            free(scratch);
        }
    }
    free(text);
    free(model);
    if (fflush(stdout) != 0) {
        rc = 1;
    }
    return rc;
}
