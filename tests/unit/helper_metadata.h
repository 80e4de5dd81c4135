/*
 * Test helpers for node/metadata: applying a MetadataOperation, a state's snapshot bytes.
 */
#ifndef RUNNEL_TESTS_HELPER_METADATA_H
#define RUNNEL_TESTS_HELPER_METADATA_H

#include "node/metadata.h"
#include "proto/metadata.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* Packs operation and applies it in context, asserting apply succeeds; the reply goes to
 * reply (METADATA_REPLY_SIZE_MAX bytes) and *reply_size. Returns its status. */
uint32_t helper_metadata_apply(struct metadata *metadata,
                               const struct metadata_apply_context *context,
                               const Runnel__Metadata__MetadataOperation *operation, uint8_t *reply,
                               uint32_t *reply_size);

/* Encodes metadata's snapshot into a malloc'd buffer (*bytes_out, freed by the caller);
 * returns its size. */
size_t helper_metadata_snapshot(struct metadata *metadata, uint8_t **bytes_out);

#endif
