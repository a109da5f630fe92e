/*
 * Metadata records as protobuf messages under string keys. Values are
 * packed straight into LMDB's page with MDB_RESERVE.
 */
#include "storage/meta.h"

#include <stdio.h>
#include <string.h>

#include "client/tupelo/tupelo.h"
#include "storage/store.h"
#include "storage/wal.h"

#define META_KEY_MAX	(2 * TP_NAME_MAX + 16)

static int
meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key,
    const ProtobufCMessage *m)
{
	MDB_val	k, v;
	int	rc;

	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	v.mv_size = protobuf_c_message_get_packed_size(m);
	v.mv_data = NULL;
	if ((rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE)) != 0)
		return (rc);
	protobuf_c_message_pack(m, v.mv_data);
	wal_note_put(STORE_META_NAME, k.mv_data, k.mv_size, v.mv_data,
	    v.mv_size);
	return (0);
}

static int
meta_del(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
	MDB_val	k;
	int	rc;

	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	wal_note_del(STORE_META_NAME, k.mv_data, k.mv_size);
	rc = mdb_del(txn, dbi, &k, NULL);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* Visit keys starting with prefix; cb gets the rest of the key. */
static int
meta_scan(MDB_txn *txn, MDB_dbi dbi, const char *prefix,
    int (*cb)(void *, const char *, size_t, const MDB_val *), void *arg)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 plen = strlen(prefix);
	int		 rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return (rc);
	k.mv_data = (void *)prefix;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if ((rc = cb(arg, (const char *)k.mv_data + plen,
		    k.mv_size - plen, &v)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

int
meta_station_put(MDB_txn *txn, MDB_dbi dbi, const Tupelo__StationConfig *c)
{
	char	key[META_KEY_MAX];

	snprintf(key, sizeof key, "station/%s", c->name);
	return (meta_put(txn, dbi, key, &c->base));
}

int
meta_station_exists(MDB_txn *txn, MDB_dbi dbi, const char *name)
{
	char	key[META_KEY_MAX];
	MDB_val	k, v;

	snprintf(key, sizeof key, "station/%s", name);
	k.mv_data = key;
	k.mv_size = strlen(key);
	return (mdb_get(txn, dbi, &k, &v) == 0);
}

struct meta_collect {
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	const char	*station;
	meta_station_cb	 station_cb;
	meta_group_cb	 group_cb;
	void		*arg;
};

/* Delete every key starting with prefix. */
static int
meta_del_prefix(MDB_txn *txn, MDB_dbi dbi, const char *prefix)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 plen = strlen(prefix);
	int		 rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return (rc);
	k.mv_data = (void *)prefix;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		/* After a delete, MDB_NEXT lands on the following key. */
		wal_note_del(STORE_META_NAME, k.mv_data, k.mv_size);
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

int
meta_station_del(MDB_txn *txn, MDB_dbi dbi, const char *name)
{
	char	key[META_KEY_MAX];
	int	rc;

	snprintf(key, sizeof key, "station/%s", name);
	if ((rc = meta_del(txn, dbi, key)) != 0)
		return (rc);
	snprintf(key, sizeof key, "stats/%s", name);
	if ((rc = meta_del(txn, dbi, key)) != 0)
		return (rc);
	snprintf(key, sizeof key, "group/%s/", name);
	return (meta_del_prefix(txn, dbi, key));
}

static int
meta_station_load_cb(void *arg, const char *rest, size_t len,
    const MDB_val *v)
{
	struct meta_collect		*mc = arg;
	Tupelo__StationConfig		*c;
	int				 rc;

	c = tupelo__station_config__unpack(NULL, v->mv_size, v->mv_data);
	if (c == NULL)
		return (MDB_CORRUPTED);
	rc = mc->station_cb(mc->arg, c);
	tupelo__station_config__free_unpacked(c, NULL);
	return (rc);
}

int
meta_station_load(MDB_txn *txn, MDB_dbi dbi, meta_station_cb cb, void *arg)
{
	struct meta_collect	mc = { txn, dbi, NULL, cb, NULL, arg };

	return (meta_scan(txn, dbi, "station/", meta_station_load_cb, &mc));
}

int
meta_stats_get(MDB_txn *txn, MDB_dbi dbi, const char *name,
    Tupelo__StationStats *out)
{
	Tupelo__StationStats	*s;
	char			 key[META_KEY_MAX];
	MDB_val			 k, v;
	int			 rc;

	tupelo__station_stats__init(out);
	snprintf(key, sizeof key, "stats/%s", name);
	k.mv_data = key;
	k.mv_size = strlen(key);
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
		return (rc == MDB_NOTFOUND ? 0 : rc);
	s = tupelo__station_stats__unpack(NULL, v.mv_size, v.mv_data);
	if (s == NULL)
		return (MDB_CORRUPTED);
	out->last_seq = s->last_seq;
	out->bytes = s->bytes;
	out->removed = s->removed;
	out->logical_bytes = s->logical_bytes;
	out->dict_id = s->dict_id;
	tupelo__station_stats__free_unpacked(s, NULL);
	return (0);
}

int
meta_stats_put(MDB_txn *txn, MDB_dbi dbi, const char *name,
    const Tupelo__StationStats *s)
{
	char	key[META_KEY_MAX];

	snprintf(key, sizeof key, "stats/%s", name);
	return (meta_put(txn, dbi, key, &s->base));
}

int
meta_group_put(MDB_txn *txn, MDB_dbi dbi, const char *station,
    const char *group, const Tupelo__GroupState *g)
{
	char	key[META_KEY_MAX];

	snprintf(key, sizeof key, "group/%s/%s", station, group);
	return (meta_put(txn, dbi, key, &g->base));
}

int
meta_group_del(MDB_txn *txn, MDB_dbi dbi, const char *station,
    const char *group)
{
	char	key[META_KEY_MAX];

	snprintf(key, sizeof key, "group/%s/%s", station, group);
	return (meta_del(txn, dbi, key));
}

static int
meta_group_load_cb(void *arg, const char *rest, size_t len, const MDB_val *v)
{
	struct meta_collect	*mc = arg;
	Tupelo__GroupState	*g;
	char			 name[TP_NAME_MAX + 1];
	int			 rc;

	if (len > TP_NAME_MAX)
		return (MDB_CORRUPTED);
	memcpy(name, rest, len);
	name[len] = '\0';
	g = tupelo__group_state__unpack(NULL, v->mv_size, v->mv_data);
	if (g == NULL)
		return (MDB_CORRUPTED);
	rc = mc->group_cb(mc->arg, name, g);
	tupelo__group_state__free_unpacked(g, NULL);
	return (rc);
}

int
meta_group_load(MDB_txn *txn, MDB_dbi dbi, const char *station,
    meta_group_cb cb, void *arg)
{
	struct meta_collect	mc = { txn, dbi, station, NULL, cb, arg };
	char			prefix[META_KEY_MAX];

	snprintf(prefix, sizeof prefix, "group/%s/", station);
	return (meta_scan(txn, dbi, prefix, meta_group_load_cb, &mc));
}

int
meta_dict_put(MDB_txn *txn, MDB_dbi dbi, uint32_t id, const void *data,
    size_t len)
{
	char	key[META_KEY_MAX];
	MDB_val	k, v;

	snprintf(key, sizeof key, "dict/%08x", id);
	k.mv_data = key;
	k.mv_size = strlen(key);
	v.mv_data = (void *)data;
	v.mv_size = len;
	wal_note_put(STORE_META_NAME, k.mv_data, k.mv_size, v.mv_data,
	    v.mv_size);
	return (mdb_put(txn, dbi, &k, &v, 0));
}

int
meta_dict_get(MDB_txn *txn, MDB_dbi dbi, uint32_t id, MDB_val *out)
{
	char	key[META_KEY_MAX];
	MDB_val	k;

	snprintf(key, sizeof key, "dict/%08x", id);
	k.mv_data = key;
	k.mv_size = strlen(key);
	return (mdb_get(txn, dbi, &k, out));
}

int
meta_trigger_put(MDB_txn *txn, MDB_dbi dbi, const Tupelo__TriggerConfig *c)
{
	char	key[META_KEY_MAX];

	snprintf(key, sizeof key, "trigger/%s", c->name);
	return (meta_put(txn, dbi, key, &c->base));
}

int
meta_trigger_del(MDB_txn *txn, MDB_dbi dbi, const char *name)
{
	char	key[META_KEY_MAX];

	snprintf(key, sizeof key, "trigger/%s", name);
	return (meta_del(txn, dbi, key));
}

struct meta_triggers {
	meta_trigger_cb	 cb;
	void		*arg;
};

static int
meta_trigger_load_cb(void *arg, const char *rest, size_t len,
    const MDB_val *v)
{
	struct meta_triggers	*mt = arg;
	Tupelo__TriggerConfig	*c;
	int			 rc;

	(void)rest;
	if (len > TP_NAME_MAX)
		return (MDB_CORRUPTED);
	c = tupelo__trigger_config__unpack(NULL, v->mv_size, v->mv_data);
	if (c == NULL)
		return (MDB_CORRUPTED);
	rc = mt->cb(mt->arg, c);
	tupelo__trigger_config__free_unpacked(c, NULL);
	return (rc);
}

int
meta_trigger_load(MDB_txn *txn, MDB_dbi dbi, meta_trigger_cb cb, void *arg)
{
	struct meta_triggers	mt = { cb, arg };

	return (meta_scan(txn, dbi, "trigger/", meta_trigger_load_cb, &mt));
}
