/* Routes runnel's assert() into cmocka's mock_assert (see helper_assert.h). */
#include "tests/unit/helper_assert.h"

#include "lib/assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

void helper_assert_install(void)
{
    assert_hook_set(mock_assert);
}
