/*
 * Unit tests for the runnel CLI's command-line parsing (cli_parse): global options,
 * bare flags versus options with values (--group used to swallow the next word or fail
 * as "needs a value"), unknown options and commands rejected instead of ignored, limits
 * reported instead of silently dropping words, and the number helpers.
 */
#include "client/cli_commands.h"

#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { ARGUMENTS_MAX = 80 };

static struct cli_arguments arguments;
static struct cli_context context;

/* Parses the words of line (split on spaces) as argv[1..]. */
static int parse(const char *line)
{
    static char text[1024];
    static char *argv[ARGUMENTS_MAX];
    memset(&arguments, 0, sizeof(arguments));
    memset(&context, 0, sizeof(context));
    assert_true(strlen(line) < sizeof(text));
    strcpy(text, line);
    int argc = 0;
    argv[argc++] = "runnel";
    for (char *word = strtok(text, " "); word != NULL; word = strtok(NULL, " ")) {
        assert_true(argc < ARGUMENTS_MAX);
        argv[argc++] = word;
    }
    return cli_parse(argc, argv, &arguments, &context);
}

static void test_group_flag_takes_no_value(void **state)
{
    (void)state;
    assert_int_equal(parse("consumer-offset get g1 s1 t1 0 --group"), 0);
    assert_int_equal(context.word_count, 6);
    assert_non_null(cli_option(&context, "--group"));
    assert_string_equal(cli_option(&context, "--group"), "");
    assert_int_equal(parse("consumer-offset set --group g1 s1 t1 0 5 --json"), 0);
    assert_int_equal(context.word_count, 7); /* g1 stays a positional word */
    assert_string_equal(context.words[2], "g1");
    assert_true(context.is_json);
}

static void test_globals_and_values(void **state)
{
    (void)state;
    assert_int_equal(parse("--host h1 --port 9 -u alice -p secret -t tok stream list"), 0);
    assert_string_equal(arguments.host, "h1");
    assert_string_equal(arguments.port, "9");
    assert_string_equal(arguments.username, "alice");
    assert_string_equal(arguments.password, "secret");
    assert_string_equal(arguments.token, "tok");
    assert_int_equal(context.word_count, 2);
    assert_false(context.is_json);
    assert_int_equal(parse("m poll s t 0 --offset 5 --count 10 --consumer 3 --auto-commit"), 0);
    assert_string_equal(cli_option(&context, "--offset"), "5");
    assert_string_equal(cli_option(&context, "--count"), "10");
    assert_string_equal(cli_option(&context, "--consumer"), "3");
    assert_string_equal(cli_option(&context, "--auto-commit"), "");
    assert_null(cli_option(&context, "--next"));
    assert_int_equal(context.word_count, 5);
}

static void test_rejected_lines(void **state)
{
    (void)state;
    assert_int_equal(parse("message poll s t 0 --offset"), -EINVAL); /* value missing */
    assert_int_equal(parse("stream list --bogus"), -EINVAL);         /* unknown option */
    assert_int_equal(parse("stream list -x"), -EINVAL);
    assert_int_equal(parse("nope list"), -EINVAL); /* unknown command */
    assert_int_equal(parse("--json"), -EINVAL);    /* no command */
    assert_int_equal(parse("--port"), -EINVAL);
    static char line[1024];
    strcpy(line, "message send s t");
    for (int index = 0; index < CLI_WORDS_MAX; index++) {
        strcat(line, " w");
    }
    assert_int_equal(parse(line), -EINVAL); /* more words than fit: not silently dropped */
    assert_int_equal(parse("s list"), 0);   /* aliases are commands */
}

static void test_numbers(void **state)
{
    (void)state;
    uint64_t value = 0;
    assert_true(cli_number("42", &value));
    assert_int_equal(value, 42);
    assert_false(cli_number("12x", &value));
    assert_false(cli_number("", &value));
    assert_false(cli_number(NULL, &value));
    assert_false(cli_number("99999999999999999999999", &value));
    assert_int_equal(parse("partition create s t 4294967296"), 0);
    uint32_t count = 0;
    assert_false(cli_u32(&context, 4, &count));
    assert_true(cli_u32(&context, 3, &count) == false); /* "t" is not a number */
    assert_int_equal(parse("partition create s t 7"), 0);
    assert_true(cli_u32(&context, 4, &count));
    assert_int_equal(count, 7);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_flag_takes_no_value),
        cmocka_unit_test(test_globals_and_values),
        cmocka_unit_test(test_rejected_lines),
        cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
