/*
 * Puts the model file and the demo log lines in flash, straight from the
 * repository's files (no copies): the build passes their paths, e.g.
 *   -DNEEDLE_MODEL_FILE='"tests/fixtures/bgl-default.needle"'
 *   -DNEEDLE_LINES_FILE='"firmware-example/data/bgl_300.log"'
 */
#ifndef NEEDLE_MODEL_FILE
#error "define NEEDLE_MODEL_FILE (path of the .needle model, as a string)"
#endif
#ifndef NEEDLE_LINES_FILE
#error "define NEEDLE_LINES_FILE (path of the log lines, as a string)"
#endif

    .section .rodata.needle_model, "a", %progbits
    .balign 8
    .global needle_model_start
needle_model_start:
    .incbin NEEDLE_MODEL_FILE
    .global needle_model_end
needle_model_end:

    .section .rodata.needle_lines, "a", %progbits
    .balign 4
    .global needle_lines_start
needle_lines_start:
    .incbin NEEDLE_LINES_FILE
    .global needle_lines_end
needle_lines_end:
