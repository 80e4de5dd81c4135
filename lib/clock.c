/* The clock seam: the system clock (clock_gettime) and a fake clock for tests (clock.h). */
#include "lib/clock.h"

#include "lib/assert.h"

#include <stddef.h>
#include <time.h>

enum { CLOCK_NS_PER_S = 1000000000 };

static uint64_t clock_system_read_ns(clockid_t id)
{
    struct timespec now;
    int result = clock_gettime(id, &now);
    assert(result == 0);
    assert(now.tv_sec >= 0 && now.tv_nsec >= 0 && now.tv_nsec < CLOCK_NS_PER_S);
    return (uint64_t)now.tv_sec * CLOCK_NS_PER_S + (uint64_t)now.tv_nsec;
}

static uint64_t clock_system_monotonic_ns(const struct clock *clock)
{
    assert(clock != NULL);
    assert(clock->monotonic_ns == clock_system_monotonic_ns);
    return clock_system_read_ns(CLOCK_MONOTONIC);
}

static uint64_t clock_system_realtime_ns(const struct clock *clock)
{
    assert(clock != NULL);
    assert(clock->realtime_ns == clock_system_realtime_ns);
    return clock_system_read_ns(CLOCK_REALTIME);
}

void clock_system_init(struct clock *clock)
{
    assert(clock != NULL);
    clock->monotonic_ns = clock_system_monotonic_ns;
    clock->realtime_ns = clock_system_realtime_ns;
    assert(clock->monotonic_ns != NULL && clock->realtime_ns != NULL);
}

/* The clock is the first member of struct clock_fake, so the pointers convert. */
static const struct clock_fake *clock_fake_from(const struct clock *clock)
{
    assert(clock != NULL);
    assert(offsetof(struct clock_fake, clock) == 0);
    return (const struct clock_fake *)clock;
}

static uint64_t clock_fake_monotonic_ns(const struct clock *clock)
{
    assert(clock != NULL);
    assert(clock->monotonic_ns == clock_fake_monotonic_ns);
    return clock_fake_from(clock)->now_monotonic_ns;
}

static uint64_t clock_fake_realtime_ns(const struct clock *clock)
{
    assert(clock != NULL);
    assert(clock->realtime_ns == clock_fake_realtime_ns);
    return clock_fake_from(clock)->now_realtime_ns;
}

void clock_fake_init(struct clock_fake *fake, uint64_t monotonic_ns, uint64_t realtime_ns)
{
    assert(fake != NULL);
    fake->clock.monotonic_ns = clock_fake_monotonic_ns;
    fake->clock.realtime_ns = clock_fake_realtime_ns;
    fake->now_monotonic_ns = monotonic_ns;
    fake->now_realtime_ns = realtime_ns;
    assert(clock_monotonic_ns(&fake->clock) == monotonic_ns);
}

void clock_fake_advance_ns(struct clock_fake *fake, uint64_t delta_ns)
{
    assert(fake != NULL);
    assert(fake->clock.monotonic_ns == clock_fake_monotonic_ns);
    assert(fake->now_monotonic_ns <= UINT64_MAX - delta_ns);
    assert(fake->now_realtime_ns <= UINT64_MAX - delta_ns);
    fake->now_monotonic_ns += delta_ns;
    fake->now_realtime_ns += delta_ns;
}

void clock_fake_set_realtime_ns(struct clock_fake *fake, uint64_t realtime_ns)
{
    assert(fake != NULL);
    assert(fake->clock.realtime_ns == clock_fake_realtime_ns);
    fake->now_realtime_ns = realtime_ns;
}

uint64_t clock_monotonic_ns(const struct clock *clock)
{
    assert(clock != NULL);
    assert(clock->monotonic_ns != NULL);
    return clock->monotonic_ns(clock);
}

uint64_t clock_realtime_ns(const struct clock *clock)
{
    assert(clock != NULL);
    assert(clock->realtime_ns != NULL);
    return clock->realtime_ns(clock);
}
