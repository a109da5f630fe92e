/*
 * A chained hash of message ids plus a list in insertion (time) order, so
 * expiry pops from the head. Memory is bounded by the window: entries
 * older than it are dropped on every produce.
 */
#include "broker/dedup.h"

#include <stdlib.h>
#include <string.h>

#include "proto/compat.h"
#include "proto/error.h"

struct dedup_entry {
	uint64_t			 seq;
	int64_t				 time_ns;
	size_t				 len;
	LIST_ENTRY(dedup_entry)		 chain;	/* hash bucket */
	TAILQ_ENTRY(dedup_entry)	 order;	/* by time */
	char				 id[];	/* len bytes, NUL after */
};
LIST_HEAD(dedup_bucket, dedup_entry);
TAILQ_HEAD(dedup_order, dedup_entry);

struct dedup {
	struct dedup_bucket	*buckets;	/* owned, nbuckets */
	size_t			 nbuckets;	/* power of two */
	size_t			 n;
	struct dedup_order	 order;
};

static uint64_t
dedup_hash(const char *id, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)id[i];
		h *= 1099511628211ULL;
	}
	return (h);
}

int
dedup_new(struct dedup **out)
{
	struct dedup	*d;

	if ((d = calloc(1, sizeof *d)) == NULL)
		return (TP_ENOMEM);
	d->nbuckets = 64;
	if ((d->buckets = calloc(d->nbuckets, sizeof *d->buckets)) == NULL) {
		free(d);
		return (TP_ENOMEM);
	}
	TAILQ_INIT(&d->order);
	*out = d;
	return (TP_OK);
}

void
dedup_free(struct dedup *d)
{
	struct dedup_entry	*e, *e1;

	if (d == NULL)
		return;
	TAILQ_FOREACH_SAFE(e, &d->order, order, e1)
		free(e);
	free(d->buckets);
	free(d);
}

static struct dedup_entry *
dedup_lookup(struct dedup *d, const char *id, size_t len)
{
	struct dedup_entry	*e;

	LIST_FOREACH(e, &d->buckets[dedup_hash(id, len) & (d->nbuckets - 1)],
	    chain) {
		if (e->len == len && memcmp(e->id, id, len) == 0)
			return (e);
	}
	return (NULL);
}

uint64_t
dedup_find(struct dedup *d, const char *id, size_t len, int64_t since_ns)
{
	struct dedup_entry	*e = dedup_lookup(d, id, len);

	return (e != NULL && e->time_ns >= since_ns ? e->seq : 0);
}

static void
dedup_grow(struct dedup *d)
{
	struct dedup_bucket	*b;
	struct dedup_entry	*e;
	size_t			 n = d->nbuckets * 2;

	if ((b = calloc(n, sizeof *b)) == NULL)
		return;		/* longer chains, still correct */
	TAILQ_FOREACH(e, &d->order, order)
		LIST_INSERT_HEAD(&b[dedup_hash(e->id, e->len) & (n - 1)], e,
		    chain);
	free(d->buckets);
	d->buckets = b;
	d->nbuckets = n;
}

static void
dedup_drop(struct dedup *d, struct dedup_entry *e)
{
	LIST_REMOVE(e, chain);
	TAILQ_REMOVE(&d->order, e, order);
	d->n--;
	free(e);
}

int
dedup_add(struct dedup *d, const char *id, size_t len, uint64_t seq,
    int64_t time_ns)
{
	struct dedup_entry	*e;

	if ((e = dedup_lookup(d, id, len)) != NULL)
		dedup_drop(d, e);
	if ((e = malloc(sizeof *e + len + 1)) == NULL)
		return (TP_ENOMEM);
	e->seq = seq;
	e->time_ns = time_ns;
	e->len = len;
	memcpy(e->id, id, len);
	e->id[len] = '\0';
	if (d->n >= d->nbuckets)
		dedup_grow(d);
	LIST_INSERT_HEAD(&d->buckets[dedup_hash(id, len) & (d->nbuckets - 1)],
	    e, chain);
	TAILQ_INSERT_TAIL(&d->order, e, order);
	d->n++;
	return (TP_OK);
}

void
dedup_remove(struct dedup *d, const char *id, size_t len, uint64_t seq)
{
	struct dedup_entry	*e = dedup_lookup(d, id, len);

	if (e != NULL && e->seq == seq)
		dedup_drop(d, e);
}

void
dedup_expire(struct dedup *d, int64_t before_ns)
{
	struct dedup_entry	*e;

	while ((e = TAILQ_FIRST(&d->order)) != NULL && e->time_ns < before_ns)
		dedup_drop(d, e);
}

size_t
dedup_count(struct dedup *d)
{
	return (d->n);
}
