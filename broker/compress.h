/*
 * Payload compression of zstd stations: compressing on append (with the
 * station's trained dictionary once there is one), collecting samples
 * and training that dictionary in the writer, keeping dictionaries in the
 * metadata, and serving them to clients that need one to decompress.
 */
#ifndef TP_BROKER_COMPRESS_H
#define TP_BROKER_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/tupelo.pb-c.h"

struct conn;
struct record_payload;
struct station;
struct compress;
struct store;

int	compress_new(struct compress **);
void	compress_free(struct compress *);
/* Use dictionary id (len bytes, copied) from now on. */
int	compress_set_dict(struct compress *, uint32_t, const void *, size_t);
uint32_t compress_dict_id(struct compress *);
/*
 * Fill pls[i] for each message of p: compressed (malloc'd data) when the
 * station compresses and it helps, else the message's own payload.
 * Samples payloads for a dictionary and starts training when it can.
 */
int	compress_payloads(struct station *, const Tupelo__Produce *,
	    struct record_payload *);
/* Free what compress_payloads() allocated (pls itself too). */
void	compress_payloads_free(struct record_payload *, size_t);
/* Handle a DictGet request; replies on conn. */
void	compress_request_dict(struct conn *, uint64_t, const Tupelo__DictGet *);
/*
 * Decompress a stored zstd payload (its frame names the dictionary, read
 * from the metadata) into *out (malloc'd), at most max bytes. TP_OK,
 * TP_EPROTO (damaged or unknown dictionary), TP_ETOOBIG, TP_ENOMEM,
 * TP_EIO.
 */
int	compress_plain(struct store *, const void *, size_t, size_t, void **,
	    size_t *);
/* Free the decompression state. */
void	compress_stop(void);

#endif
