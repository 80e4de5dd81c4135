/*
 * runnel error codes. Functions that act return 0 or a negative code: either -errno
 * (passed through from the kernel or libc unchanged) or -RUNNEL_E*, whose values start
 * at RUNNEL_ERROR_BASE, far above any errno, so the two ranges never overlap.
 */
#ifndef RUNNEL_LIB_ERROR_H
#define RUNNEL_LIB_ERROR_H

#include <stdbool.h>

#define RUNNEL_ERROR_BASE 10000

enum runnel_error {
    RUNNEL_ECONFIG = RUNNEL_ERROR_BASE, /* invalid configuration */
    RUNNEL_ECHECKSUM,                   /* checksum mismatch: data is corrupt */
    RUNNEL_ETRUNCATED,                  /* input ends before the structure does */
    RUNNEL_EFORMAT,                     /* malformed bytes (bad field value) */
    RUNNEL_ETOOLARGE,                   /* a size over its configured maximum */
    RUNNEL_EFULL,                       /* fixed capacity exhausted (backpressure) */
    RUNNEL_EEMPTY,                      /* nothing to take */
    RUNNEL_ENOTFOUND,                   /* no such entry */
    RUNNEL_EEXISTS,                     /* entry already exists */
    RUNNEL_EFAULTY,                     /* durable record damaged: needs repair */
    RUNNEL_EUNSUPPORTED,                /* feature unavailable here */
    RUNNEL_ESTATE,                      /* operation not valid in the current state */
    RUNNEL_EVERSION,                    /* unknown format or protocol version */
    RUNNEL_ETOOOLD,                     /* request sequence older than the window */
    RUNNEL_ERROR_END,
};

/* Returns a static description of code (negative or positive, runnel or errno). */
const char *error_text(int code);

/* True when code (negative or positive) is one of runnel's own codes. */
bool error_is_runnel(int code);

#endif
