/* tl_clock.c — see tl_clock.h. */
#include "tl_clock.h"

#include <time.h>

#define TL_NS_PER_MS 1000000u
#define TL_NS_PER_S  1000000000u
#define TL_MS_PER_S  1000u

uint64_t tl_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * TL_NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t tl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * TL_MS_PER_S + (uint64_t)ts.tv_nsec / TL_NS_PER_MS;
}

void tl_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / TL_MS_PER_S,
                          .tv_nsec = (long)(ms % TL_MS_PER_S) * 1000000L};
    nanosleep(&ts, NULL);
}
