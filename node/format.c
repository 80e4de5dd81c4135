/*
 * The data directory's identity file (see format.h): writing it once, reading and checking
 * it at every start. Owns no long-lived state; runs on the main thread before the shards.
 */
#include "node/format.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/cluster_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    FORMAT_PATH_SIZE_MAX = NODE_CONFIG_PATH_SIZE_MAX + 32,
    FORMAT_FILE_SIZE_MAX = 512,
    FORMAT_DIRECTORY_ENTRIES_MAX = 1 << 20,
};

static const char format_file_name[] = "cluster";
static const char format_recovering_name[] = "recovering";

__attribute__((format(printf, 4, 5))) static int
format_fail(int code, char *error_text, size_t error_size_bytes, const char *format, ...)
{
    assert(code < 0);
    assert(error_text != NULL && error_size_bytes > 0);
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error_text, error_size_bytes, format, arguments);
    va_end(arguments);
    return code;
}

static void format_path(const char *data_dir, const char *suffix, char *path)
{
    assert(data_dir != NULL && suffix != NULL);
    snprintf(path, FORMAT_PATH_SIZE_MAX, "%s/%s%s", data_dir, format_file_name, suffix);
}

bool format_is_formatted(const char *data_dir)
{
    assert(data_dir != NULL);
    char path[FORMAT_PATH_SIZE_MAX];
    format_path(data_dir, "", path);
    return access(path, F_OK) == 0;
}

int format_identity_from_config(const struct node_config *config, uint32_t shard_count,
                                struct format_identity *identity, char *error_text,
                                size_t error_size_bytes)
{
    assert(config != NULL && identity != NULL);
    assert(shard_count > 0 && config->replica_index < config->replica_count);
    memset(identity, 0, sizeof(*identity));
    identity->replica_index = config->replica_index;
    identity->replica_count = config->replica_count;
    identity->shard_count = shard_count;
    struct config_error error;
    if (config->cluster_id[0] != '\0') {
        if (cluster_config_id_parse(config->cluster_id, &identity->cluster, &error) != 0) {
            return format_fail(-RUNNEL_ECONFIG, error_text, error_size_bytes, "%s", error.text);
        }
        return 0;
    }
    if (config->replica_count > 1) {
        return format_fail(-RUNNEL_ECONFIG, error_text, error_size_bytes,
                           "cannot format a member of a %u-node cluster without cluster.id: set "
                           "the same cluster.id (hex) on every node",
                           config->replica_count);
    }
    for (uint32_t attempt = 0; attempt < 16 && identity->cluster == 0; attempt++) {
        randombytes_buf(&identity->cluster, sizeof(identity->cluster));
    }
    assert(identity->cluster != 0);
    return 0;
}

static void format_recovering_path(const char *data_dir, char *path)
{
    assert(data_dir != NULL);
    snprintf(path, FORMAT_PATH_SIZE_MAX, "%s/%s", data_dir, format_recovering_name);
}

/* True when directory holds no entry but . and .. and, when not NULL, one named ignored
 * (a missing directory is empty). */
static bool format_directory_is_empty(const char *data_dir, const char *ignored)
{
    DIR *directory = opendir(data_dir);
    if (directory == NULL) {
        return errno == ENOENT;
    }
    bool is_empty = true;
    for (uint32_t index = 0; index < FORMAT_DIRECTORY_ENTRIES_MAX && is_empty; index++) {
        struct dirent *entry = readdir(directory);
        if (entry == NULL) {
            break;
        }
        is_empty = strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0 ||
                   (ignored != NULL && strcmp(entry->d_name, ignored) == 0);
    }
    closedir(directory);
    return is_empty;
}

/* Writes text to path durably (create exclusive, write, fsync). 0 or -errno. */
static int format_file_write(const char *path, const char *text, size_t size_bytes)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    ssize_t written = write(fd, text, size_bytes);
    int result = written == (ssize_t)size_bytes ? 0 : (written < 0 ? -errno : -EIO);
    if (result == 0 && fsync(fd) != 0) {
        result = -errno;
    }
    if (close(fd) != 0 && result == 0) {
        result = -errno;
    }
    return result;
}

static int format_directory_sync(const char *data_dir)
{
    int fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int result = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return result;
}

int format_write(const char *data_dir, const struct format_identity *identity,
                 bool is_empty_required, char *error_text, size_t error_size_bytes)
{
    assert(data_dir != NULL && identity != NULL);
    assert(identity->cluster != 0 && identity->replica_index < identity->replica_count);
    assert(identity->shard_count > 0);
    if (format_is_formatted(data_dir)) {
        return format_fail(-RUNNEL_EEXISTS, error_text, error_size_bytes,
                           "%s is already formatted: refusing to format it again (use a new "
                           "directory, or remove this one to throw its data away)",
                           data_dir);
    }
    if (is_empty_required && !format_directory_is_empty(data_dir, NULL)) {
        return format_fail(-RUNNEL_EEXISTS, error_text, error_size_bytes,
                           "%s is not empty: refusing to format over existing files", data_dir);
    }
    if (mkdir(data_dir, 0755) != 0 && errno != EEXIST) {
        return format_fail(-errno, error_text, error_size_bytes, "cannot create %s: %s", data_dir,
                           strerror(errno));
    }
    char cluster_text[40];
    cluster_config_id_format(identity->cluster, cluster_text, sizeof(cluster_text));
    char text[FORMAT_FILE_SIZE_MAX];
    int size = snprintf(
        text, sizeof(text), "cluster=%s\nreplica_index=%u\nreplica_count=%u\nshard_count=%u\n",
        cluster_text, identity->replica_index, identity->replica_count, identity->shard_count);
    assert(size > 0 && (size_t)size < sizeof(text));
    char temporary[FORMAT_PATH_SIZE_MAX];
    char path[FORMAT_PATH_SIZE_MAX];
    format_path(data_dir, ".tmp", temporary);
    format_path(data_dir, "", path);
    int result = format_file_write(temporary, text, (size_t)size);
    if (result == 0 && rename(temporary, path) != 0) {
        result = -errno;
    }
    if (result == 0) {
        result = format_directory_sync(data_dir);
    }
    if (result != 0) {
        (void)unlink(temporary);
        return format_fail(result, error_text, error_size_bytes, "cannot format %s: %s", data_dir,
                           strerror(-result));
    }
    return 0;
}

/* Parses the file's text into identity. True when all four lines are there and valid. */
static bool format_parse(const char *text, struct format_identity *identity)
{
    char cluster_text[40] = {0};
    unsigned index = 0;
    unsigned count = 0;
    unsigned shards = 0;
    char tail = '\0';
    int matched = sscanf(text,
                         "cluster=%39[0-9a-fA-F]\nreplica_index=%u\nreplica_count=%u\n"
                         "shard_count=%u%c",
                         cluster_text, &index, &count, &shards, &tail);
    struct config_error error;
    if (matched != 5 || tail != '\n' ||
        cluster_config_id_parse(cluster_text, &identity->cluster, &error) != 0) {
        return false;
    }
    identity->replica_index = index;
    identity->replica_count = count;
    identity->shard_count = shards;
    return count >= 1 && count <= VSR_REPLICAS_MAX && index < count && shards >= 1 &&
           shards <= 65536;
}

int format_read(const char *data_dir, struct format_identity *identity, char *error_text,
                size_t error_size_bytes)
{
    assert(data_dir != NULL && identity != NULL);
    assert(error_text != NULL);
    memset(identity, 0, sizeof(*identity));
    char path[FORMAT_PATH_SIZE_MAX];
    format_path(data_dir, "", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int code = errno == ENOENT ? -RUNNEL_ENOTFOUND : -errno;
        return format_fail(code, error_text, error_size_bytes,
                           "%s is not formatted (%s): run `runneld format` first", data_dir,
                           strerror(errno));
    }
    char text[FORMAT_FILE_SIZE_MAX];
    ssize_t size = read(fd, text, sizeof(text) - 1);
    close(fd);
    text[size > 0 ? size : 0] = '\0';
    if (size <= 0 || !format_parse(text, identity)) {
        return format_fail(-RUNNEL_EFORMAT, error_text, error_size_bytes,
                           "%s is damaged (expected cluster=, replica_index=, replica_count= and "
                           "shard_count= lines): restore it or re-create the node",
                           path);
    }
    return 0;
}

int format_check(const struct format_identity *disk, const struct format_identity *expected,
                 const char *data_dir, char *error_text, size_t error_size_bytes)
{
    assert(disk != NULL && expected != NULL && data_dir != NULL);
    assert(error_text != NULL);
    const struct {
        const char *name;
        uint32_t on_disk;
        uint32_t configured;
        const char *fix;
    } fields[] = {
        {"replica index", disk->replica_index, expected->replica_index, "cluster.replica_index"},
        {"replica count", disk->replica_count, expected->replica_count, "cluster.replica_count"},
        {"shard count", disk->shard_count, expected->shard_count, "shards.count"},
    };
    if (expected->cluster != 0 && expected->cluster != disk->cluster) {
        char text[40];
        cluster_config_id_format(disk->cluster, text, sizeof(text));
        return format_fail(-RUNNEL_ECONFIG, error_text, error_size_bytes,
                           "%s belongs to cluster %s, not to cluster.id: fix cluster.id or the "
                           "data directory",
                           data_dir, text);
    }
    for (size_t index = 0; index < sizeof(fields) / sizeof(fields[0]); index++) {
        if (fields[index].on_disk != fields[index].configured) {
            return format_fail(-RUNNEL_ECONFIG, error_text, error_size_bytes,
                               "%s was formatted with %s %u, this start has %u: set %s=%u",
                               data_dir, fields[index].name, fields[index].on_disk,
                               fields[index].configured, fields[index].fix, fields[index].on_disk);
        }
    }
    return 0;
}

/* Reads and checks the formatted directory; notes (and logs) a recovery in progress. */
static int format_prepare_read(const struct node_config *config, struct format_identity *expected,
                               struct format_identity *identity, char *error_text,
                               size_t error_size_bytes)
{
    int result = format_read(config->data_dir, identity, error_text, error_size_bytes);
    if (result != 0) {
        return result;
    }
    if (config->cluster_id[0] == '\0') {
        expected->cluster = 0; /* a single node without cluster.id keeps whatever it has */
    }
    result = format_check(identity, expected, config->data_dir, error_text, error_size_bytes);
    if (result != 0) {
        return result;
    }
    char path[FORMAT_PATH_SIZE_MAX];
    format_recovering_path(config->data_dir, path);
    identity->is_recovering = identity->replica_count > 1 && access(path, F_OK) == 0;
    if (identity->is_recovering) {
        log_info("recovery_started",
                 "data_dir=%s replica=%u/%u (this node lost its data or is new: every group "
                 "catches up from its peers and votes only then)",
                 config->data_dir, identity->replica_index, identity->replica_count);
    }
    return 0;
}

/* A member of a larger cluster on an empty directory: the recovering marker (synced),
 * then the cluster file. A crash in between leaves the marker alone: still "empty". */
static int format_recovering(const char *data_dir, const struct format_identity *identity,
                             char *error_text, size_t error_size_bytes)
{
    assert(identity->replica_count > 1);
    if (!format_directory_is_empty(data_dir, format_recovering_name)) {
        return format_fail(-RUNNEL_EEXISTS, error_text, error_size_bytes,
                           "%s is not formatted but not empty: refusing to start over files this "
                           "node did not write (run `runneld format` on every node of a new "
                           "cluster; to replace this node's disk, empty the directory and start "
                           "it again: it recovers from its peers)",
                           data_dir);
    }
    if (mkdir(data_dir, 0755) != 0 && errno != EEXIST) {
        return format_fail(-errno, error_text, error_size_bytes, "cannot create %s: %s", data_dir,
                           strerror(errno));
    }
    char path[FORMAT_PATH_SIZE_MAX];
    format_recovering_path(data_dir, path);
    static const char text[] = "recovering from the cluster: this node does not vote yet\n";
    int result = format_file_write(path, text, sizeof(text) - 1);
    if (result == 0) {
        result = format_directory_sync(data_dir);
    }
    if (result != 0) {
        return format_fail(result, error_text, error_size_bytes, "cannot write %s: %s", path,
                           strerror(-result));
    }
    result = format_write(data_dir, identity, false, error_text, error_size_bytes);
    if (result == 0) {
        log_info("formatted_recovering", "data_dir=%s replica=%u/%u shards=%u", data_dir,
                 identity->replica_index, identity->replica_count, identity->shard_count);
    }
    return result;
}

int format_recovery_complete(const char *data_dir)
{
    assert(data_dir != NULL);
    char path[FORMAT_PATH_SIZE_MAX];
    format_recovering_path(data_dir, path);
    if (unlink(path) != 0 && errno != ENOENT) {
        return -errno;
    }
    return format_directory_sync(data_dir);
}

int format_prepare(const struct node_config *config, uint32_t shard_count,
                   struct format_identity *identity, char *error_text, size_t error_size_bytes)
{
    assert(config != NULL && identity != NULL);
    assert(shard_count > 0);
    struct format_identity expected;
    int result =
        format_identity_from_config(config, shard_count, &expected, error_text, error_size_bytes);
    if (result != 0) {
        return result;
    }
    if (!format_is_formatted(config->data_dir)) {
        if (config->replica_count > 1) {
            result = format_recovering(config->data_dir, &expected, error_text, error_size_bytes);
            if (result != 0) {
                return result;
            }
            return format_prepare_read(config, &expected, identity, error_text, error_size_bytes);
        }
        result = format_write(config->data_dir, &expected, false, error_text, error_size_bytes);
        if (result != 0) {
            return result;
        }
        log_info("formatted", "data_dir=%s replica=%u/%u shards=%u", config->data_dir,
                 expected.replica_index, expected.replica_count, expected.shard_count);
    }
    return format_prepare_read(config, &expected, identity, error_text, error_size_bytes);
}

int format_command(const struct node_config *config, uint32_t shard_count, char *error_text,
                   size_t error_size_bytes)
{
    assert(config != NULL && error_text != NULL);
    assert(shard_count > 0);
    struct format_identity identity;
    int result =
        format_identity_from_config(config, shard_count, &identity, error_text, error_size_bytes);
    if (result == 0) {
        result = format_write(config->data_dir, &identity, true, error_text, error_size_bytes);
    }
    if (result == 0) {
        char text[40];
        cluster_config_id_format(identity.cluster, text, sizeof(text));
        log_info("formatted", "data_dir=%s cluster=%s replica=%u/%u shards=%u", config->data_dir,
                 text, identity.replica_index, identity.replica_count, identity.shard_count);
    }
    return result;
}
