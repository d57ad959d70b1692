/* hs_sesscache.c — the bounded session-ID cache (hs_sesscache.h).
 *
 * Layout: ent[] holds max_entries pointers, each entry malloc'd the first
 * time its index is used and kept until the cache is freed (an evicted or
 * removed entry is wiped and reused: the memory never exceeds
 * max_entries entries).  slot[] is the open-addressing table, a power of
 * two at least twice max_entries (load <= 1/2), each slot 0 (empty) or an
 * entry index + 1.  Entries not in use are on a free list (through
 * lru_next).
 *
 * Owns: the entries and their secrets.  Must not: keep a master secret of
 * an entry no longer in the table (every removal wipes).
 */
#include "hs_sesscache.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define NIL UINT32_MAX

struct entry {
    uint8_t id[HS_SESSCACHE_ID_LEN];
    uint64_t expires_ms;
    uint32_t lru_prev, lru_next; /* lru: head most, tail least recently used */
    uint32_t age_prev, age_next; /* age: head oldest (stored first) */
    struct hs_ticket_state st;
};

struct list {
    uint32_t head, tail;
};

struct hs_sesscache {
    uint32_t max_entries;
    uint32_t n;        /* entries in the table */
    uint32_t n_alloc;  /* ent[0..n_alloc) allocated */
    uint32_t free_top; /* free list of allocated, unused entries (NIL: none) */
    uint32_t mask;     /* slot[] size - 1 */
    uint64_t lifetime_ms;
    struct entry **ent;
    uint32_t *slot;
    struct list lru, age;
    struct hs_sesscache_stats stats;
};

/* The ids are the server's own random bytes: any 8 of them are a uniform
 * hash.  Byte 0 may carry the caller's tag (hs_sesscache.h callers): the
 * hash starts after it. */
static uint32_t home(const struct hs_sesscache *c, const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id + 8, sizeof(h));
    return (uint32_t)(h ^ (h >> 32)) & c->mask;
}

/* ---- the two lists (indices into ent[]) ---------------------------------- */

static uint32_t *prev_of(struct hs_sesscache *c, uint32_t i, bool lru)
{
    return lru ? &c->ent[i]->lru_prev : &c->ent[i]->age_prev;
}

static uint32_t *next_of(struct hs_sesscache *c, uint32_t i, bool lru)
{
    return lru ? &c->ent[i]->lru_next : &c->ent[i]->age_next;
}

static void list_unlink(struct hs_sesscache *c, struct list *l, uint32_t i, bool lru)
{
    uint32_t p = *prev_of(c, i, lru), n = *next_of(c, i, lru);
    if (p == NIL)
        l->head = n;
    else
        *next_of(c, p, lru) = n;
    if (n == NIL)
        l->tail = p;
    else
        *prev_of(c, n, lru) = p;
    *prev_of(c, i, lru) = *next_of(c, i, lru) = NIL;
}

static void list_push_head(struct hs_sesscache *c, struct list *l, uint32_t i, bool lru)
{
    *prev_of(c, i, lru) = NIL;
    *next_of(c, i, lru) = l->head;
    if (l->head != NIL)
        *prev_of(c, l->head, lru) = i;
    l->head = i;
    if (l->tail == NIL)
        l->tail = i;
}

static void list_push_tail(struct hs_sesscache *c, struct list *l, uint32_t i, bool lru)
{
    *next_of(c, i, lru) = NIL;
    *prev_of(c, i, lru) = l->tail;
    if (l->tail != NIL)
        *next_of(c, l->tail, lru) = i;
    l->tail = i;
    if (l->head == NIL)
        l->head = i;
}

/* ---- the table ------------------------------------------------------------ */

/* The slot holding id, or NIL. */
static uint32_t find_slot(const struct hs_sesscache *c, const uint8_t *id)
{
    for (uint32_t s = home(c, id);; s = (s + 1) & c->mask) {
        uint32_t v = c->slot[s];
        if (v == 0)
            return NIL;
        if (CRYPTO_memcmp(c->ent[v - 1]->id, id, HS_SESSCACHE_ID_LEN) == 0)
            return s;
    }
}

/* Empties slot s, moving later entries of its probe run back so that every
 * entry stays reachable from its home slot (Knuth 6.4 Algorithm R). */
static void slot_delete(struct hs_sesscache *c, uint32_t s)
{
    uint32_t j = s;
    for (;;) {
        j = (j + 1) & c->mask;
        uint32_t v = c->slot[j];
        if (v == 0)
            break;
        uint32_t k = home(c, c->ent[v - 1]->id);
        /* the entry at j stays when its home k lies cyclically in (s, j] */
        bool stays = s <= j ? (s < k && k <= j) : (s < k || k <= j);
        if (stays)
            continue;
        c->slot[s] = v;
        s = j;
    }
    c->slot[s] = 0;
}

/* Takes entry i (in the table at slot s, NIL: not found there) out:
 * table, lists, secret. */
static void entry_drop(struct hs_sesscache *c, uint32_t s, uint32_t i)
{
    if (s != NIL)
        slot_delete(c, s);
    list_unlink(c, &c->lru, i, true);
    list_unlink(c, &c->age, i, false);
    OPENSSL_cleanse(c->ent[i], sizeof(*c->ent[i]));
    c->ent[i]->lru_next = c->free_top;
    c->free_top = i;
    c->n--;
}

static void entry_drop_index(struct hs_sesscache *c, uint32_t i)
{
    entry_drop(c, find_slot(c, c->ent[i]->id), i);
}

/* ---- API ------------------------------------------------------------------ */

struct hs_sesscache *hs_sesscache_new(uint32_t max_entries, uint64_t lifetime_ms)
{
    if (max_entries == 0 || max_entries > HS_SESSCACHE_MAX_ENTRIES || lifetime_ms == 0)
        return NULL;
    struct hs_sesscache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    uint32_t cap = 16;
    while (cap < 2 * max_entries)
        cap <<= 1;
    c->max_entries = max_entries;
    c->lifetime_ms = lifetime_ms;
    c->mask = cap - 1;
    c->free_top = NIL;
    c->lru.head = c->lru.tail = c->age.head = c->age.tail = NIL;
    c->ent = calloc(max_entries, sizeof(*c->ent));
    c->slot = calloc(cap, sizeof(*c->slot));
    if (c->ent == NULL || c->slot == NULL) {
        hs_sesscache_free(c);
        return NULL;
    }
    return c;
}

void hs_sesscache_free(struct hs_sesscache *c)
{
    if (c == NULL)
        return;
    for (uint32_t i = 0; c->ent != NULL && i < c->n_alloc; i++) {
        OPENSSL_cleanse(c->ent[i], sizeof(*c->ent[i]));
        free(c->ent[i]);
    }
    free(c->ent);
    free(c->slot);
    free(c);
}

/* A free entry index: the free list, a new allocation, or the least
 * recently used entry (an expired oldest one first). */
static int take_entry(struct hs_sesscache *c, uint64_t now_ms, uint32_t *out_i, bool *evicted)
{
    if (c->free_top != NIL) {
        *out_i = c->free_top;
        c->free_top = c->ent[*out_i]->lru_next;
        return 0;
    }
    if (c->n_alloc < c->max_entries) {
        struct entry *e = malloc(sizeof(*e));
        CR_ENSURE(e, CR_ERR_NOMEM);
        c->ent[c->n_alloc] = e;
        *out_i = c->n_alloc++;
        return 0;
    }
    /* full: the oldest when its life is over, else the least recently used */
    uint32_t victim = c->age.head;
    if (victim == NIL || c->ent[victim]->expires_ms > now_ms) {
        victim = c->lru.tail;
        *evicted = true;
        c->stats.evicted++;
    } else {
        c->stats.expired++;
    }
    CR_ENSURE(victim != NIL, CR_ERR_INVAL);
    entry_drop_index(c, victim);
    *out_i = c->free_top;
    c->free_top = c->ent[*out_i]->lru_next;
    return 0;
}

int hs_sesscache_put(struct hs_sesscache *c, const uint8_t *id, const struct hs_ticket_state *st,
                     uint64_t now_ms, bool *out_evicted)
{
    bool evicted = false;
    uint32_t i;

    if (out_evicted)
        *out_evicted = false;
    CR_ENSURE(c && id && st, CR_ERR_INVAL);
    /* RFC 7627 §5.3: a session without the extended master secret is
     * never resumed, so it is never cached. */
    CR_ENSURE((st->flags & HS_TICKET_FLAG_EMS) != 0, CR_ERR_INVAL);
    uint32_t s = find_slot(c, id);
    if (s != NIL)
        entry_drop(c, s, c->slot[s] - 1);
    CR_GUARD(take_entry(c, now_ms, &i, &evicted));
    struct entry *e = c->ent[i];
    memcpy(e->id, id, HS_SESSCACHE_ID_LEN);
    e->st = *st;
    e->expires_ms = now_ms + c->lifetime_ms;
    list_push_head(c, &c->lru, i, true);
    list_push_tail(c, &c->age, i, false);
    for (s = home(c, id); c->slot[s] != 0; s = (s + 1) & c->mask)
        ;
    c->slot[s] = i + 1;
    c->n++;
    c->stats.stored++;
    if (out_evicted)
        *out_evicted = evicted;
    return 0;
}

int hs_sesscache_get(struct hs_sesscache *c, const uint8_t *id, size_t id_len, uint64_t now_ms,
                     struct hs_ticket_state *out)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL || id == NULL || id_len != HS_SESSCACHE_ID_LEN || c->n == 0)
        return HS_SESSCACHE_MISS;
    uint32_t s = find_slot(c, id);
    if (s == NIL)
        return HS_SESSCACHE_MISS;
    uint32_t i = c->slot[s] - 1;
    if (c->ent[i]->expires_ms <= now_ms) {
        entry_drop(c, s, i);
        c->stats.expired++;
        return HS_SESSCACHE_EXPIRED;
    }
    list_unlink(c, &c->lru, i, true);
    list_push_head(c, &c->lru, i, true);
    *out = c->ent[i]->st;
    return HS_SESSCACHE_HIT;
}

bool hs_sesscache_remove(struct hs_sesscache *c, const uint8_t *id, size_t id_len)
{
    if (c == NULL || id == NULL || id_len != HS_SESSCACHE_ID_LEN || c->n == 0)
        return false;
    uint32_t s = find_slot(c, id);
    if (s == NIL)
        return false;
    entry_drop(c, s, c->slot[s] - 1);
    c->stats.removed++;
    return true;
}

unsigned hs_sesscache_expire(struct hs_sesscache *c, uint64_t now_ms)
{
    unsigned k = 0;
    /* one lifetime for all: the age list is in expiry order */
    while (c != NULL && c->age.head != NIL && c->ent[c->age.head]->expires_ms <= now_ms) {
        entry_drop_index(c, c->age.head);
        c->stats.expired++;
        k++;
    }
    return k;
}

uint32_t hs_sesscache_count(const struct hs_sesscache *c)
{
    return c ? c->n : 0;
}

uint32_t hs_sesscache_max(const struct hs_sesscache *c)
{
    return c ? c->max_entries : 0;
}

const struct hs_sesscache_stats *hs_sesscache_stats(const struct hs_sesscache *c)
{
    return c ? &c->stats : NULL;
}
