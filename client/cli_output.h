/*
 * runnel CLI output: one result set printed as an aligned table for people or, with
 * --json, as a JSON array of objects for scripts. Rows are kept in a fixed buffer (no
 * allocation); values are text, and columns marked numeric are printed bare in JSON.
 */
#ifndef RUNNEL_CLIENT_CLI_OUTPUT_H
#define RUNNEL_CLIENT_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

enum {
    CLI_COLUMNS_MAX = 16,
    CLI_ROWS_MAX = 1024,
    CLI_CELL_SIZE_MAX = 96,
};

struct cli_column {
    const char *name;
    bool is_number;
};

/* Starts a result set (process-wide: the CLI prints one at a time). */
void cli_output_begin(bool is_json, const struct cli_column *columns, uint32_t column_count);

/* Adds a row of column_count printf-formatted cells: format holds one conversion per
 * column separated by '\t' (for example "%u\t%s"). */
__attribute__((format(printf, 1, 2))) void cli_output_row(const char *format, ...);

/* Prints the set to stdout. */
void cli_output_end(void);

/*
 * Several result sets in one output: before each set, cli_output_section names it (JSON:
 * the sets become the members of one object; tables: a "name:" line above each), and
 * cli_output_sections_end closes the object after the last set.
 */
void cli_output_section(bool is_json, const char *name, bool is_first);
void cli_output_sections_end(bool is_json);

/* Prints one "done" line (or {"ok":true}) for commands without a result. */
void cli_output_ok(bool is_json, const char *what);

#endif
