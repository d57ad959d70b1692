/* cp_hs_limit.c — handshake admission: a total and a per-source-address
 * count of handshakes in progress (cp_hs_limit.h).
 *
 * Owns: one table of (address, count) slots, sized to a power of two at
 * least twice max_handshakes: every source in it has a handshake in
 * progress, so at most max_handshakes slots are used and probing always
 * ends.  A slot with count 0 is empty; deletion shifts the following slots
 * of the run back, so there are no tombstones.
 * Must not: allocate after cp_hs_limit_new.
 */
#include "cp_hs_limit.h"

#include <stdlib.h>

struct src_slot {
    uint64_t ip;    /* the source key (cp_hs_limit.h) */
    uint32_t count; /* 0: empty */
};

struct cp_hs_limit {
    uint32_t max_total, max_per_source;
    uint32_t total;
    uint32_t mask; /* n_slots - 1 */
    uint64_t seed;
    struct src_slot slots[];
};

static uint32_t slot_of(const struct cp_hs_limit *l, uint64_t ip)
{
    /* Keyed multiply-xorshift (splitmix64 finaliser): a peer that cannot
     * predict the seed cannot aim many addresses at one run. */
    uint64_t x = (ip ^ l->seed) + 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (uint32_t)x & l->mask;
}

/* Index of ip's slot, or of the empty slot where it would go. */
static uint32_t find(const struct cp_hs_limit *l, uint64_t ip)
{
    uint32_t i = slot_of(l, ip);
    while (l->slots[i].count != 0 && l->slots[i].ip != ip)
        i = (i + 1) & l->mask;
    return i;
}

struct cp_hs_limit *cp_hs_limit_new(uint32_t max_handshakes, uint32_t max_per_source, uint64_t seed)
{
    if (max_handshakes == 0 || max_handshakes > CP_HS_LIMIT_MAX_HANDSHAKES || max_per_source == 0 ||
        max_per_source > max_handshakes)
        return NULL;
    uint32_t n = 2;
    while (n < 2 * max_handshakes)
        n *= 2;
    struct cp_hs_limit *l = calloc(1, sizeof(*l) + (size_t)n * sizeof(struct src_slot));
    if (l == NULL)
        return NULL;
    l->max_total = max_handshakes;
    l->max_per_source = max_per_source;
    l->mask = n - 1;
    l->seed = seed;
    return l;
}

void cp_hs_limit_free(struct cp_hs_limit *l)
{
    free(l);
}

enum cp_hs_verdict cp_hs_limit_admit(struct cp_hs_limit *l, uint64_t ip)
{
    if (l->total >= l->max_total)
        return CP_HS_REFUSE_TOTAL;
    struct src_slot *s = &l->slots[find(l, ip)];
    if (s->count >= l->max_per_source)
        return CP_HS_REFUSE_SOURCE;
    s->ip = ip;
    s->count++;
    l->total++;
    return CP_HS_ADMIT;
}

void cp_hs_limit_release(struct cp_hs_limit *l, uint64_t ip)
{
    uint32_t i = find(l, ip);
    if (l->slots[i].count == 0)
        return; /* not counted: nothing to give back */
    l->total--;
    if (--l->slots[i].count != 0)
        return;
    /* Backward-shift deletion: move later members of the run into the
     * hole when their home slot is not inside (hole, their slot]. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & l->mask; l->slots[j].count != 0; j = (j + 1) & l->mask) {
        uint32_t home = slot_of(l, l->slots[j].ip);
        /* distance home->j versus home->hole, both along the probe order */
        if (((j - home) & l->mask) >= ((j - hole) & l->mask)) {
            l->slots[hole] = l->slots[j];
            l->slots[j].count = 0;
            hole = j;
        }
    }
}

uint32_t cp_hs_limit_total(const struct cp_hs_limit *l)
{
    return l->total;
}

uint32_t cp_hs_limit_of_source(const struct cp_hs_limit *l, uint64_t ip)
{
    return l->slots[find(l, ip)].count;
}
