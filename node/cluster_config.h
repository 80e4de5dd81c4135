/*
 * The [cluster] settings of runneld read into what the replica bus and formation need
 * (DESIGN.md §10.2, §10.10): the peer list ("a.b.c.d:port,...", one entry per replica, in
 * replica order), the cluster id (hex) and the cluster key (a file of 64 hex digits, the
 * 32-byte libsodium crypto_auth key every node of the cluster shares). Everything here
 * runs on the main thread at start-up; errors are one line naming the key and the fix.
 */
#ifndef RUNNEL_NODE_CLUSTER_CONFIG_H
#define RUNNEL_NODE_CLUSTER_CONFIG_H

#include "lib/config.h"
#include "node/node_config.h"
#include "proto/vsr_header.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    CLUSTER_KEY_SIZE_BYTES = 32, /* crypto_auth_KEYBYTES */
    CLUSTER_ADDRESS_SIZE_MAX = 16,
};

struct cluster_peer {
    char address[CLUSTER_ADDRESS_SIZE_MAX]; /* dotted IPv4 */
    uint32_t port;
};

/*
 * Parses cluster.peers into peers[0, replica_count): exactly replica_count entries, each
 * an IPv4 address and a port. Returns 0 or -RUNNEL_ECONFIG with error set.
 */
int cluster_config_peers(const struct node_config *config, struct cluster_peer *peers,
                         uint32_t peers_max, struct config_error *error);

/*
 * Parses a cluster id (1 to 32 hex digits) into *cluster_out (never 0). Returns 0 or
 * -RUNNEL_ECONFIG with error set.
 */
int cluster_config_id_parse(const char *text, u128 *cluster_out, struct config_error *error);

/* Formats cluster as 32 lowercase hex digits into text (>= 33 bytes). */
void cluster_config_id_format(u128 cluster, char *text, size_t text_size_bytes);

/*
 * Reads the key file at path: 64 hex digits, optionally followed by whitespace. Refuses
 * anything else. A file others may read is accepted with a warning logged. Returns 0 or
 * -RUNNEL_ECONFIG with error set (the key bytes are never put in the error).
 */
int cluster_config_key_load(const char *path, uint8_t key[CLUSTER_KEY_SIZE_BYTES],
                            struct config_error *error);

/*
 * Cross-key checks for a cluster: with replica_count > 1, peers parse, cluster.id and
 * cluster.key_file are set and the key file is valid. Returns 0 or -RUNNEL_ECONFIG.
 */
int cluster_config_validate(const struct node_config *config, struct config_error *error);

#endif
