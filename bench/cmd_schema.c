/* cmd_schema.c - `sparsebench schema`: the results.csv columns as the
 * Markdown table reports/SCHEMA.md holds (tests/check_csv.c compares them). */
#include "cli.h"
#include "row.h"

#include <stdio.h>

int bench_cmd_schema(int argc, char **argv)
{
    const struct bench_cmd cmd = {
        .name = "schema",
        .summary = "Print the results.csv columns as the Markdown table of reports/SCHEMA.md.",
        .usage = "",
    };
    bench_parse_args(&cmd, argc, argv);
    printf("| column | unit | key | meaning |\n| --- | --- | --- | --- |\n");
    for (size_t i = 0; i < bench_csv_ncols(); i++) {
        const struct bench_col *c = bench_csv_col(i);
        printf("| `%s` | %s | %s | ", c->name, c->unit[0] ? c->unit : "-",
               c->identity ? "yes" : "");
        for (const char *d = c->doc; *d; d++) /* a bare '|' would end the cell */
            printf(*d == '|' ? "\\|" : "%c", *d);
        printf(" |\n");
    }
    return 0;
}
