/* fuzz_csv.c - libFuzzer target: the CSV reader (bench/table.c) and the
 * read-back checks --resume and --estimate-from apply to every cell
 * (bench_csv_check_cell), on arbitrary bytes. A table that parses must be
 * consistent: every row as wide as the header, good_bytes within the file,
 * and every key buildable. Run by `make fuzz`. */
#include "../bench/row.h"
#include "../bench/table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bench_table t;
    char err[1024], why[256], key[4096];
    int cols[32];
    if (bench_table_parse("fuzz.csv", (const char *)data, size, &t, err, sizeof(err)))
        return 0;
    if (t.good_bytes > t.file_bytes || t.file_bytes != size)
        abort();
    for (size_t r = 0; r < t.nrows; r++)
        for (size_t c = 0; c < t.ncols; c++) {
            const char *cell = bench_table_cell(&t, r, c);
            if (!cell)
                abort();
            int i = bench_csv_col_index(t.header[c]);
            if (i >= 0)
                bench_csv_check_cell((size_t)i, cell, why, sizeof(why));
        }
    int nc = bench_table_key_cols(&t, cols, 32, err, sizeof(err));
    for (size_t r = 0; nc > 0 && r < t.nrows; r++)
        bench_table_key(&t, r, cols, (size_t)nc, key, sizeof(key));
    bench_table_free(&t);
    return 0;
}
