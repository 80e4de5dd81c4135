/* Error code descriptions; errno values are delegated to strerror. */
#include "lib/error.h"

#include "lib/assert.h"

#include <string.h>

static const char *const runnel_error_names[] = {
    [RUNNEL_ECONFIG - RUNNEL_ERROR_BASE] = "invalid configuration",
    [RUNNEL_ECHECKSUM - RUNNEL_ERROR_BASE] = "checksum mismatch",
    [RUNNEL_ETRUNCATED - RUNNEL_ERROR_BASE] = "input truncated",
    [RUNNEL_EFORMAT - RUNNEL_ERROR_BASE] = "malformed input",
    [RUNNEL_ETOOLARGE - RUNNEL_ERROR_BASE] = "size over maximum",
    [RUNNEL_EFULL - RUNNEL_ERROR_BASE] = "capacity exhausted",
    [RUNNEL_EEMPTY - RUNNEL_ERROR_BASE] = "empty",
    [RUNNEL_ENOTFOUND - RUNNEL_ERROR_BASE] = "not found",
    [RUNNEL_EEXISTS - RUNNEL_ERROR_BASE] = "already exists",
    [RUNNEL_EFAULTY - RUNNEL_ERROR_BASE] = "durable record damaged (needs repair)",
    [RUNNEL_EUNSUPPORTED - RUNNEL_ERROR_BASE] = "unsupported",
    [RUNNEL_ESTATE - RUNNEL_ERROR_BASE] = "invalid state for operation",
    [RUNNEL_EVERSION - RUNNEL_ERROR_BASE] = "unknown version",
    [RUNNEL_ETOOOLD - RUNNEL_ERROR_BASE] = "request too old",
};

_Static_assert(sizeof(runnel_error_names) / sizeof(runnel_error_names[0]) ==
                   RUNNEL_ERROR_END - RUNNEL_ERROR_BASE,
               "every runnel error has a name");
_Static_assert(RUNNEL_ERROR_BASE > 4095, "runnel errors are disjoint from errno");

bool error_is_runnel(int code)
{
    int positive = code < 0 ? -code : code;
    return positive >= RUNNEL_ERROR_BASE && positive < RUNNEL_ERROR_END;
}

const char *error_text(int code)
{
    int positive = code < 0 ? -code : code;
    if (code == 0) {
        return "success";
    }
    if (error_is_runnel(code)) {
        const char *name = runnel_error_names[positive - RUNNEL_ERROR_BASE];
        assert(name != NULL);
        return name;
    }
    if (positive >= RUNNEL_ERROR_BASE) {
        return "unknown error";
    }
    return strerror(positive);
}
