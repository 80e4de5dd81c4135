/*
 * runnel CLI output: tables and JSON (see cli_output.h). Owns the static row buffer.
 * CLI process, single thread.
 */
#include "client/cli_output.h"

#include "lib/assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static struct {
    bool is_json;
    struct cli_column columns[CLI_COLUMNS_MAX];
    uint32_t column_count;
    uint32_t row_count;
    char cells[CLI_ROWS_MAX][CLI_COLUMNS_MAX][CLI_CELL_SIZE_MAX];
} output;

void cli_output_begin(bool is_json, const struct cli_column *columns, uint32_t column_count)
{
    assert(columns != NULL);
    assert(column_count > 0 && column_count <= CLI_COLUMNS_MAX);
    output.is_json = is_json;
    memcpy(output.columns, columns, sizeof(columns[0]) * column_count);
    output.column_count = column_count;
    output.row_count = 0;
}

void cli_output_row(const char *format, ...)
{
    assert(format != NULL);
    assert(output.column_count > 0);
    if (output.row_count >= CLI_ROWS_MAX) {
        return;
    }
    char line[CLI_COLUMNS_MAX * CLI_CELL_SIZE_MAX];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(line, sizeof(line), format, arguments);
    va_end(arguments);
    char *cursor = line;
    for (uint32_t column = 0; column < output.column_count; column++) {
        char *tab = cursor != NULL ? strchr(cursor, '\t') : NULL;
        if (tab != NULL) {
            *tab = '\0';
        }
        const char *text = cursor != NULL ? cursor : "";
        size_t size = strnlen(text, CLI_CELL_SIZE_MAX - 1);
        memcpy(output.cells[output.row_count][column], text, size);
        output.cells[output.row_count][column][size] = '\0';
        cursor = tab != NULL ? tab + 1 : NULL;
    }
    output.row_count++;
}

static void cli_output_json_string(const char *text)
{
    putchar('"');
    for (size_t index = 0; text[index] != '\0' && index < CLI_CELL_SIZE_MAX; index++) {
        unsigned char character = (unsigned char)text[index];
        if (character == '"' || character == '\\') {
            printf("\\%c", character);
        } else if (character < 0x20) {
            printf("\\u%04x", character);
        } else {
            putchar(character);
        }
    }
    putchar('"');
}

static void cli_output_json(void)
{
    printf("[");
    for (uint32_t row = 0; row < output.row_count; row++) {
        printf(row == 0 ? "{" : ",{");
        for (uint32_t column = 0; column < output.column_count; column++) {
            const char *cell = output.cells[row][column];
            printf(column == 0 ? "" : ",");
            cli_output_json_string(output.columns[column].name);
            printf(":");
            if (output.columns[column].is_number && cell[0] != '\0') {
                printf("%s", cell);
            } else {
                cli_output_json_string(cell);
            }
        }
        printf("}");
    }
    printf("]\n");
}

void cli_output_end(void)
{
    assert(output.column_count > 0);
    if (output.is_json) {
        cli_output_json();
        return;
    }
    size_t widths[CLI_COLUMNS_MAX];
    for (uint32_t column = 0; column < output.column_count; column++) {
        widths[column] = strlen(output.columns[column].name);
        for (uint32_t row = 0; row < output.row_count; row++) {
            size_t width = strlen(output.cells[row][column]);
            widths[column] = width > widths[column] ? width : widths[column];
        }
    }
    for (uint32_t row = 0; row <= output.row_count; row++) {
        for (uint32_t column = 0; column < output.column_count; column++) {
            const char *cell =
                row == 0 ? output.columns[column].name : output.cells[row - 1][column];
            bool is_last = column + 1 == output.column_count;
            printf("%-*s%s", is_last ? 0 : (int)widths[column], cell, is_last ? "\n" : "  ");
        }
    }
}

void cli_output_section(bool is_json, const char *name, bool is_first)
{
    assert(name != NULL);
    if (is_json) {
        printf(is_first ? "{" : ",");
        cli_output_json_string(name);
        printf(":");
    } else {
        printf(is_first ? "%s:\n" : "\n%s:\n", name);
    }
}

void cli_output_sections_end(bool is_json)
{
    if (is_json) {
        printf("}\n");
    }
}

void cli_output_ok(bool is_json, const char *what)
{
    assert(what != NULL);
    if (is_json) {
        printf("{\"ok\":true,\"result\":");
        cli_output_json_string(what);
        printf("}\n");
    } else {
        printf("%s\n", what);
    }
}
