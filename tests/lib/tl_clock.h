/* tl_clock.h — the one clock of the test programs and benchmarks
 * (tests/lib): CLOCK_MONOTONIC in milliseconds and nanoseconds, and a
 * millisecond sleep.
 *
 * Owns: nothing.  Must not: be used by the product (tests and bench only).
 */
#ifndef DTLSGW_TL_CLOCK_H
#define DTLSGW_TL_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t tl_mono_ms(void);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t tl_mono_ns(void);

/* Sleeps ms milliseconds; a caught signal ends it early (so a stop flag
 * set by a handler is seen at once). */
void tl_sleep_ms(unsigned ms);

#endif
