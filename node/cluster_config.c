/*
 * Parsing and validation of runneld's [cluster] settings (see cluster_config.h). Owns
 * nothing; runs on the main thread at start-up (and in tests).
 */
#include "node/cluster_config.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { CLUSTER_KEY_FILE_SIZE_MAX = 256, CLUSTER_ID_DIGITS_MAX = 32 };

__attribute__((format(printf, 2, 3))) static int cluster_config_fail(struct config_error *error,
                                                                     const char *format, ...)
{
    assert(error != NULL && format != NULL);
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error->text, sizeof(error->text), format, arguments);
    va_end(arguments);
    return -RUNNEL_ECONFIG;
}

static int cluster_hex_digit(char character)
{
    if (character >= '0' && character <= '9') {
        return character - '0';
    }
    if (character >= 'a' && character <= 'f') {
        return character - 'a' + 10;
    }
    if (character >= 'A' && character <= 'F') {
        return character - 'A' + 10;
    }
    return -1;
}

/* Parses one "a.b.c.d:port" of size_bytes characters into peer. True when valid. */
static bool cluster_peer_parse(const char *text, size_t size_bytes, struct cluster_peer *peer)
{
    assert(text != NULL && peer != NULL);
    const char *colon = memchr(text, ':', size_bytes);
    if (colon == NULL || colon == text || (size_t)(colon - text) >= sizeof(peer->address)) {
        return false;
    }
    size_t address_size = (size_t)(colon - text);
    memcpy(peer->address, text, address_size);
    peer->address[address_size] = '\0';
    struct in_addr parsed;
    if (inet_pton(AF_INET, peer->address, &parsed) != 1) {
        return false;
    }
    size_t digits = size_bytes - address_size - 1;
    if (digits == 0 || digits > 5) {
        return false;
    }
    uint32_t port = 0;
    for (size_t index = 0; index < digits; index++) {
        char character = colon[1 + index];
        if (character < '0' || character > '9') {
            return false;
        }
        port = port * 10 + (uint32_t)(character - '0');
    }
    peer->port = port;
    return port >= 1 && port <= 65535;
}

int cluster_config_peers(const struct node_config *config, struct cluster_peer *peers,
                         uint32_t peers_max, struct config_error *error)
{
    assert(config != NULL && peers != NULL && error != NULL);
    assert(peers_max >= config->replica_count);
    const char *cursor = config->peers;
    uint32_t count = 0;
    bool is_valid = *cursor != '\0';
    for (uint32_t round = 0; is_valid && round < NODE_CONFIG_PEERS_SIZE_MAX; round++) {
        const char *end = strchr(cursor, ',');
        size_t size = end != NULL ? (size_t)(end - cursor) : strlen(cursor);
        while (size > 0 && isspace((unsigned char)*cursor)) {
            cursor++;
            size--;
        }
        while (size > 0 && isspace((unsigned char)cursor[size - 1])) {
            size--;
        }
        is_valid = count < config->replica_count && cluster_peer_parse(cursor, size, &peers[count]);
        count += is_valid ? 1 : 0;
        if (end == NULL) {
            break;
        }
        cursor = end + 1;
    }
    if (!is_valid || count != config->replica_count) {
        return cluster_config_fail(
            error,
            "config: invalid value key=cluster.peers value=\"%s\" allowed=%u comma-separated "
            "IPv4:port entries, one per replica in replica order",
            config->peers, config->replica_count);
    }
    return 0;
}

int cluster_config_id_parse(const char *text, u128 *cluster_out, struct config_error *error)
{
    assert(text != NULL && cluster_out != NULL);
    assert(error != NULL);
    size_t size = strlen(text);
    u128 cluster = 0;
    bool is_valid = size >= 1 && size <= CLUSTER_ID_DIGITS_MAX;
    for (size_t index = 0; is_valid && index < size; index++) {
        int digit = cluster_hex_digit(text[index]);
        is_valid = digit >= 0;
        cluster = (cluster << 4) | (u128)(uint32_t)(digit >= 0 ? digit : 0);
    }
    if (!is_valid || cluster == 0) {
        return cluster_config_fail(error,
                                   "config: invalid value key=cluster.id value=\"%s\" allowed=1 to "
                                   "32 hex digits, not all zero",
                                   text);
    }
    *cluster_out = cluster;
    return 0;
}

void cluster_config_id_format(u128 cluster, char *text, size_t text_size_bytes)
{
    assert(text != NULL);
    assert(text_size_bytes > CLUSTER_ID_DIGITS_MAX);
    snprintf(text, text_size_bytes, "%016llx%016llx", (unsigned long long)(cluster >> 64),
             (unsigned long long)cluster);
}

/* Reads up to CLUSTER_KEY_FILE_SIZE_MAX - 1 bytes of path into text. Returns bytes or -errno. */
static int cluster_key_file_read(const char *path, char *text, bool *is_shared_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct stat status;
    *is_shared_out = fstat(fd, &status) == 0 && (status.st_mode & (S_IRWXG | S_IRWXO)) != 0;
    ssize_t size = read(fd, text, CLUSTER_KEY_FILE_SIZE_MAX - 1);
    int error = errno;
    close(fd);
    if (size < 0) {
        return -error;
    }
    text[size] = '\0';
    return (int)size;
}

int cluster_config_key_load(const char *path, uint8_t key[CLUSTER_KEY_SIZE_BYTES],
                            struct config_error *error)
{
    assert(path != NULL && key != NULL);
    assert(error != NULL);
    char text[CLUSTER_KEY_FILE_SIZE_MAX];
    bool is_shared = false;
    int size = cluster_key_file_read(path, text, &is_shared);
    if (size < 0) {
        return cluster_config_fail(error,
                                   "config: cannot read key=cluster.key_file value=\"%s\" "
                                   "(%s): create it with scripts or see docs/OPERATIONS.md",
                                   path, strerror(-size));
    }
    bool is_valid = size >= 2 * CLUSTER_KEY_SIZE_BYTES;
    for (int index = 0; is_valid && index < 2 * CLUSTER_KEY_SIZE_BYTES; index += 2) {
        int high = cluster_hex_digit(text[index]);
        int low = cluster_hex_digit(text[index + 1]);
        is_valid = high >= 0 && low >= 0;
        key[index / 2] = (uint8_t)((high << 4) | (low & 0xf));
    }
    for (int index = 2 * CLUSTER_KEY_SIZE_BYTES; is_valid && index < size; index++) {
        is_valid = isspace((unsigned char)text[index]) != 0;
    }
    memset(text, 0, sizeof(text));
    if (!is_valid) {
        memset(key, 0, CLUSTER_KEY_SIZE_BYTES);
        return cluster_config_fail(error,
                                   "config: invalid key=cluster.key_file value=\"%s\" allowed=a "
                                   "file of exactly 64 hex digits (openssl rand -hex 32)",
                                   path);
    }
    if (is_shared) {
        log_warn("cluster_key_file_shared", "path=\"%s\" advice=\"chmod 600\"", path);
    }
    return 0;
}

int cluster_config_validate(const struct node_config *config, struct config_error *error)
{
    assert(config != NULL && error != NULL);
    assert(config->replica_count >= 1 && config->replica_count <= VSR_REPLICAS_MAX);
    u128 cluster = 0;
    if (config->cluster_id[0] != '\0' &&
        cluster_config_id_parse(config->cluster_id, &cluster, error) != 0) {
        return -RUNNEL_ECONFIG;
    }
    if (config->replica_count == 1) {
        return 0;
    }
    struct cluster_peer peers[VSR_REPLICAS_MAX];
    if (cluster_config_peers(config, peers, VSR_REPLICAS_MAX, error) != 0) {
        return -RUNNEL_ECONFIG;
    }
    if (config->cluster_id[0] == '\0') {
        return cluster_config_fail(error, "config: missing key=cluster.id allowed=the same 1 to "
                                          "32 hex digits on every node of a cluster");
    }
    if (config->cluster_key_file[0] == '\0') {
        return cluster_config_fail(error, "config: missing key=cluster.key_file allowed=a file "
                                          "of 64 hex digits, the same on every node");
    }
    uint8_t key[CLUSTER_KEY_SIZE_BYTES];
    int result = cluster_config_key_load(config->cluster_key_file, key, error);
    memset(key, 0, sizeof(key));
    return result;
}
