/*
 * The clock seam: code that needs the time takes a `const struct clock *` instead of
 * calling clock_gettime, so the simulator and tests can run it on a fake clock that they
 * set and advance by hand (DESIGN.md section 6). storage/ and vsr/ only ever see this.
 *
 * Two readings, both in nanoseconds:
 *   monotonic: since an arbitrary fixed point; never goes backwards; for timeouts and
 *              latencies.
 *   realtime:  since the Unix epoch; may jump either way; for timestamps shown to people.
 *
 * A clock holds no locks: the system clock is safe from any thread; a fake clock belongs
 * to the one thread that drives it (the simulator or a test).
 */
#ifndef RUNNEL_LIB_CLOCK_H
#define RUNNEL_LIB_CLOCK_H

#include <stdint.h>

struct clock {
    /* Returns nanoseconds on the monotonic clock. */
    uint64_t (*monotonic_ns)(const struct clock *clock);
    /* Returns nanoseconds since the Unix epoch. */
    uint64_t (*realtime_ns)(const struct clock *clock);
};

/* A clock whose time moves only when its owner says so. Pass &fake->clock to callers. */
struct clock_fake {
    struct clock clock;
    uint64_t now_monotonic_ns; /* current monotonic reading */
    uint64_t now_realtime_ns;  /* current wall-clock reading, since the Unix epoch */
};

/* Sets clock up to read CLOCK_MONOTONIC and CLOCK_REALTIME. */
void clock_system_init(struct clock *clock);

/* Sets fake up to read the given times until advanced or set. */
void clock_fake_init(struct clock_fake *fake, uint64_t monotonic_ns, uint64_t realtime_ns);

/* Moves both readings forward by delta_ns (asserts they do not overflow). */
void clock_fake_advance_ns(struct clock_fake *fake, uint64_t delta_ns);

/* Sets the wall clock alone, forwards or backwards, as an NTP step would. */
void clock_fake_set_realtime_ns(struct clock_fake *fake, uint64_t realtime_ns);

/* Reads clock's monotonic time in nanoseconds. */
uint64_t clock_monotonic_ns(const struct clock *clock);

/* Reads clock's wall-clock time in nanoseconds since the Unix epoch. */
uint64_t clock_realtime_ns(const struct clock *clock);

#endif
