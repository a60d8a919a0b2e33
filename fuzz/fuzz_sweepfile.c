/* fuzz_sweepfile.c - libFuzzer target: the sweep-file parser
 * (bench/sweep/sweepfile.c) on arbitrary bytes, as bench_sweep_load hands
 * them over (text up to a NUL byte, which the loader refuses before). A
 * parse that succeeds must give a plan the loop can use: at least one slot,
 * every list non-empty. Run by `make fuzz`. */
#include "../bench/sweep/sweep.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), err[1024];
    struct bench_sweep sw;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (bench_sweep_parse("fuzz.sweep", text, &sw, err, sizeof(err)) == 0) {
        if (sw.n_slots == 0)
            abort();
        for (size_t i = 0; i < sw.n_slots; i++)
            if (!sw.slots[i].d_model.n || !sw.slots[i].scale.n || !sw.slots[i].batch.n ||
                !sw.slots[i].seq_len.n || !sw.slots[i].threads.n)
                abort();
        bench_sweep_free(&sw);
    }
    free(text);
    return 0;
}
