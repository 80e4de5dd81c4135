/*
 * Retiring stale partition incarnations (see data_plane_retire.h): the staleness test
 * against the current metadata version, closing idle stale groups, the start-up sweep of
 * {data_dir}/streams/{s}/topics/{t}/partitions/{p}.{incarnation}, and the removal queue.
 * Owns the queue and the listing buffer; runs on the data plane's shard.
 */
#include "node/data_plane_retire.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/control_plane.h"
#include "node/data_plane_internal.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int data_plane_retire_init(struct data_plane_retire *retire)
{
    assert(retire != NULL);
    memset(retire, 0, sizeof(*retire));
    retire->queue = calloc(DATA_PLANE_RETIRE_QUEUE_MAX, sizeof(retire->queue[0]));
    retire->names = malloc(DATA_PLANE_RETIRE_NAMES_SIZE);
    if (retire->queue == NULL || retire->names == NULL) {
        data_plane_retire_deinit(retire);
        return -ENOMEM;
    }
    return 0;
}

void data_plane_retire_deinit(struct data_plane_retire *retire)
{
    assert(retire != NULL);
    free(retire->queue);
    free(retire->names);
    retire->queue = NULL;
    retire->names = NULL;
    assert(retire->queue == NULL);
}

bool data_plane_retire_is_stale(struct data_plane *plane, const struct vsr_group *group)
{
    assert(plane != NULL && group != NULL);
    assert(group->kind == VSR_GROUP_KIND_PARTITION);
    struct control_plane *control = plane->broker->control_plane;
    const struct metadata *metadata = control_plane_read_begin(control, plane->shard_index);
    const struct metadata_partition *partition =
        metadata_partition_get(metadata, group->stream_id, group->topic_id, group->partition_id);
    bool is_stale = group->incarnation <= metadata->op &&
                    (partition == NULL || partition->incarnation != group->incarnation);
    control_plane_read_end(control, plane->shard_index);
    return is_stale;
}

/* Queues directory for removal; false when the queue is full (a later sweep finds it). */
static bool data_plane_retire_queue(struct data_plane_retire *retire, const char *directory)
{
    assert(directory != NULL && directory[0] != '\0');
    assert(retire->queue_count <= DATA_PLANE_RETIRE_QUEUE_MAX);
    for (uint32_t index = 0; index < retire->queue_count; index++) {
        if (strcmp(retire->queue[index], directory) == 0) {
            return true;
        }
    }
    size_t size = strlen(directory);
    if (retire->queue_count == DATA_PLANE_RETIRE_QUEUE_MAX || size >= IO_PATH_SIZE_MAX) {
        return false;
    }
    memcpy(retire->queue[retire->queue_count++], directory, size + 1);
    return true;
}

/* Closes the open groups of stale incarnations that have nothing in flight. */
static void data_plane_retire_open(struct data_plane *plane)
{
    for (uint32_t index = 0; index < plane->partitions_end; index++) {
        struct data_partition *partition = &plane->partitions[index];
        if (!partition->is_used || partition->in_flight_count > 0 ||
            partition->queue_head != NULL || partition->poll_active != NULL ||
            partition->poll_head != NULL || partition->poll_forward_head != NULL ||
            journal_partition_is_busy(&partition->journal) ||
            checkpoint_store_is_busy(&partition->checkpoints) ||
            data_partition_truncate_is_busy(partition) ||
            !data_plane_retire_is_stale(plane, &partition->group)) {
            continue;
        }
        char directory[IO_PATH_SIZE_MAX];
        snprintf(directory, sizeof(directory), "%s", partition->directory);
        if (!data_plane_retire_queue(&plane->retire, directory)) {
            return; /* closed once its removal can be queued */
        }
        log_info("partition_retired", "directory=%s", directory);
        data_plane_partition_retire(partition);
        plane->retire.closed_count++;
    }
}

/* Parses "{p}.{incarnation}"; false for any other name. */
static bool data_plane_retire_name(const char *name, uint32_t *partition_id, uint64_t *incarnation)
{
    assert(name != NULL && partition_id != NULL && incarnation != NULL);
    char *end = NULL;
    errno = 0;
    unsigned long long id = strtoull(name, &end, 10);
    if (end == name || *end != '.' || id > UINT32_MAX || errno != 0) {
        return false;
    }
    const char *rest = end + 1;
    unsigned long long value = strtoull(rest, &end, 10);
    if (end == rest || *end != '\0' || value == 0 || errno != 0) {
        return false;
    }
    *partition_id = (uint32_t)id;
    *incarnation = (uint64_t)value;
    return true;
}

/* True when name is a decimal id that fits a u32. */
static bool data_plane_retire_id(const char *name, uint32_t *id)
{
    assert(name != NULL && id != NULL);
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(name, &end, 10);
    if (end == name || *end != '\0' || value > UINT32_MAX || errno != 0) {
        return false;
    }
    *id = (uint32_t)value;
    return true;
}

/* True when group is open on this shard (a stale one is closed by data_plane_retire_open
 * once idle; the sweep leaves it to that). */
static bool data_plane_retire_is_open(const struct data_plane *plane, const struct vsr_group *group)
{
    assert(group->kind == VSR_GROUP_KIND_PARTITION);
    assert(plane->partitions != NULL);
    for (uint32_t index = 0; index < plane->partitions_end; index++) {
        const struct data_partition *partition = &plane->partitions[index];
        if (partition->is_used && vsr_group_is_equal(&partition->group, group)) {
            return true;
        }
    }
    return false;
}

/* Sweeps {streams}/{s}/topics/{t}/partitions: queues the stale directories this shard
 * owns. False when something was left (queue full). */
static bool data_plane_retire_sweep_partitions(struct data_plane *plane, const char *path,
                                               uint32_t stream_id, uint32_t topic_id)
{
    DIR *directory = opendir(path);
    if (directory == NULL) {
        return true;
    }
    bool is_complete = true;
    for (uint32_t round = 0; round < DATA_PLANE_RETIRE_ENTRIES_MAX; round++) {
        struct dirent *entry = readdir(directory);
        if (entry == NULL) {
            break;
        }
        struct vsr_group group = {
            .stream_id = stream_id, .topic_id = topic_id, .kind = VSR_GROUP_KIND_PARTITION};
        if (!data_plane_retire_name(entry->d_name, &group.partition_id, &group.incarnation) ||
            data_plane_owner(stream_id, topic_id, group.partition_id, plane->broker->shard_count) !=
                plane->shard_index ||
            !data_plane_retire_is_stale(plane, &group) ||
            data_plane_retire_is_open(plane, &group)) {
            continue;
        }
        char stale[4 * IO_PATH_SIZE_MAX];
        int written = snprintf(stale, sizeof(stale), "%s/%s", path, entry->d_name);
        if (written > 0 && (size_t)written < IO_PATH_SIZE_MAX) {
            is_complete = data_plane_retire_queue(&plane->retire, stale) && is_complete;
        }
    }
    closedir(directory);
    return is_complete;
}

/* Lists the numeric entries of path into ids (at most ids_max); returns how many. */
static uint32_t data_plane_retire_list(const char *path, uint32_t *ids, uint32_t ids_max)
{
    assert(path != NULL && ids != NULL);
    assert(ids_max > 0);
    DIR *directory = opendir(path);
    uint32_t count = 0;
    for (uint32_t round = 0;
         directory != NULL && round < DATA_PLANE_RETIRE_ENTRIES_MAX && count < ids_max; round++) {
        struct dirent *entry = readdir(directory);
        if (entry == NULL) {
            break;
        }
        count += data_plane_retire_id(entry->d_name, &ids[count]) ? 1 : 0;
    }
    if (directory != NULL) {
        closedir(directory);
    }
    return count;
}

/* The start-up sweep over every stream and topic directory (bounded by the limits). */
static void data_plane_retire_sweep(struct data_plane *plane)
{
    enum { IDS_MAX = 4096 };
    static __thread uint32_t streams[IDS_MAX];
    static __thread uint32_t topics[IDS_MAX];
    char path[2 * IO_PATH_SIZE_MAX]; /* room for the data directory and the ids */
    const char *root = plane->broker->config->data_dir;
    snprintf(path, sizeof(path), "%s/streams", root);
    uint32_t stream_count = data_plane_retire_list(path, streams, IDS_MAX);
    bool is_complete = stream_count < IDS_MAX;
    for (uint32_t stream = 0; stream < stream_count; stream++) {
        snprintf(path, sizeof(path), "%s/streams/%" PRIu32 "/topics", root, streams[stream]);
        uint32_t topic_count = data_plane_retire_list(path, topics, IDS_MAX);
        is_complete = is_complete && topic_count < IDS_MAX;
        for (uint32_t topic = 0; topic < topic_count; topic++) {
            snprintf(path, sizeof(path), "%s/streams/%" PRIu32 "/topics/%" PRIu32 "/partitions",
                     root, streams[stream], topics[topic]);
            is_complete =
                data_plane_retire_sweep_partitions(plane, path, streams[stream], topics[topic]) &&
                is_complete;
        }
    }
    plane->retire.is_swept = is_complete;
}

static void data_plane_retire_callback(struct atomic_file *file, int result, void *context)
{
    struct data_plane *plane = context;
    assert(plane != NULL && file == &plane->retire.file);
    assert(plane->retire.is_removing && plane->retire.queue_count > 0);
    const char *directory = plane->retire.queue[plane->retire.queue_count - 1];
    if (result == 0) {
        plane->retire.removed_count++;
        log_info("partition_directory_removed", "directory=%s", directory);
    } else {
        plane->retire.failed_count++;
        log_warn("partition_directory_not_removed", "directory=%s error=\"%s\"", directory,
                 error_text(result));
    }
    plane->retire.queue_count--;
    plane->retire.is_removing = false;
}

void data_plane_retire_tick(struct data_plane *plane)
{
    assert(plane != NULL);
    struct data_plane_retire *retire = &plane->retire;
    assert(retire->queue != NULL);
    if (!plane->has_superblock || retire->ticks++ % DATA_PLANE_RETIRE_INTERVAL_TICKS != 0) {
        return;
    }
    data_plane_retire_open(plane);
    if (!retire->is_swept && retire->queue_count == 0 && !retire->is_removing) {
        data_plane_retire_sweep(plane);
    }
    if (retire->is_removing || retire->queue_count == 0) {
        return;
    }
    const char *directory = retire->queue[retire->queue_count - 1];
    int result = atomic_file_remove_directory(&retire->file, plane->io, directory, retire->names,
                                              DATA_PLANE_RETIRE_NAMES_SIZE,
                                              data_plane_retire_callback, plane);
    if (result == 0) {
        retire->is_removing = true;
    } else {
        log_warn("partition_directory_not_removed", "directory=%s error=\"%s\"", directory,
                 error_text(result));
        retire->failed_count++;
        retire->queue_count--;
    }
}
