/*
 * librunnel: typed calls for the system commands: stats (10), cluster metadata (12), me
 * (20), client get and list (21, 22). Caller's thread.
 */
#include "client/client.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_command.h"
#include "proto/iggy_system.h"

#include <errno.h>
#include <string.h>

static void system_copy_client(struct runnel_client_info *out, const struct iggy_client_info *in)
{
    out->client_id = in->client_id;
    out->user_id = in->user_id;
    out->transport = in->transport;
    client_copy_text(out->address, sizeof(out->address), in->address);
    out->consumer_group_count = in->consumer_group_count;
}

/* A client_entry_decode for ClientInfo entries without details (struct runnel_client_info). */
static int system_client_entry(struct iggy_reader *reader, void *entry_out)
{
    struct iggy_client_info info;
    int result = iggy_system_client_decode(reader, &info, false);
    if (result == 0 && entry_out != NULL) {
        system_copy_client(entry_out, &info);
    }
    return result;
}

static int system_client_details(struct runnel_client *client, uint32_t code,
                                 const struct iggy_writer *writer,
                                 struct runnel_client_info *info_out)
{
    struct iggy_reader reader;
    int result = client_call_found(client, code, writer, &reader);
    if (result != 0) {
        return result;
    }
    struct iggy_client_info info;
    if (iggy_system_client_decode(&reader, &info, true) != 0) {
        return reader.error;
    }
    system_copy_client(info_out, &info);
    return iggy_reader_finish(&reader);
}

int runnel_me(struct runnel_client *client, struct runnel_client_info *info_out)
{
    if (client == NULL || info_out == NULL) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    return system_client_details(client, IGGY_COMMAND_ME, &writer, info_out);
}

int runnel_client_get(struct runnel_client *client, uint32_t client_id,
                      struct runnel_client_info *info_out)
{
    if (client == NULL || info_out == NULL) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_system_client_get_encode(&writer, client_id);
    return system_client_details(client, IGGY_COMMAND_CLIENT_GET, &writer, info_out);
}

int runnel_client_list(struct runnel_client *client, struct runnel_client_info *infos,
                       uint32_t infos_max, uint32_t *count_out)
{
    if (client == NULL || count_out == NULL || (infos == NULL && infos_max > 0)) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    struct client_list list = {.entries = infos,
                               .entry_size_bytes = sizeof(*infos),
                               .entries_max = infos_max,
                               .decode = system_client_entry};
    return client_call_list(client, IGGY_COMMAND_CLIENT_LIST, &writer, &list, count_out);
}

static void system_copy_stats(struct runnel_stats *out, const struct iggy_stats *in)
{
    memset(out, 0, sizeof(*out));
    out->process_id = in->process_id;
    out->cpu_usage = in->cpu_usage;
    out->total_cpu_usage = in->total_cpu_usage;
    out->memory_usage_bytes = in->memory_usage_bytes;
    out->total_memory_bytes = in->total_memory_bytes;
    out->available_memory_bytes = in->available_memory_bytes;
    out->run_time_us = in->run_time_us;
    out->start_time_us = in->start_time_us;
    out->read_bytes = in->read_bytes;
    out->written_bytes = in->written_bytes;
    out->messages_size_bytes = in->messages_size_bytes;
    out->stream_count = in->stream_count;
    out->topic_count = in->topic_count;
    out->partition_count = in->partition_count;
    out->segment_count = in->segment_count;
    out->message_count = in->message_count;
    out->client_count = in->client_count;
    out->consumer_group_count = in->consumer_group_count;
    out->thread_count = in->thread_count;
    out->free_disk_space_bytes = in->free_disk_space_bytes;
    out->total_disk_space_bytes = in->total_disk_space_bytes;
    client_copy_text(out->hostname, sizeof(out->hostname), in->hostname);
    client_copy_text(out->os_name, sizeof(out->os_name), in->os_name);
    client_copy_text(out->os_version, sizeof(out->os_version), in->os_version);
    client_copy_text(out->kernel_version, sizeof(out->kernel_version), in->kernel_version);
    client_copy_text(out->server_version, sizeof(out->server_version), in->server_version);
}

int runnel_stats_get(struct runnel_client *client, struct runnel_stats *stats_out)
{
    if (client == NULL || stats_out == NULL) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    struct iggy_reader reader;
    int result = client_call_reader(client, IGGY_COMMAND_STATS, &writer, &reader);
    if (result != 0) {
        return result;
    }
    struct iggy_stats stats;
    if (iggy_system_stats_decode(&reader, &stats) != 0) {
        return reader.error;
    }
    system_copy_stats(stats_out, &stats);
    return 0;
}

int runnel_cluster_metadata(struct runnel_client *client, char *name_out, size_t name_size,
                            struct runnel_cluster_node *nodes, uint32_t nodes_max,
                            uint32_t *count_out)
{
    if (client == NULL || count_out == NULL || (nodes == NULL && nodes_max > 0) ||
        (name_out != NULL && name_size == 0)) {
        return -EINVAL;
    }
    *count_out = 0;
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    struct iggy_reader reader;
    int result = client_call_reader(client, IGGY_COMMAND_CLUSTER_METADATA, &writer, &reader);
    if (result != 0) {
        return result;
    }
    struct iggy_cluster cluster;
    if (iggy_system_cluster_decode(&reader, &cluster) != 0) {
        return reader.error;
    }
    if (cluster.node_count > reader.size / 8) {
        return -RUNNEL_EFORMAT;
    }
    for (uint32_t index = 0; index < cluster.node_count; index++) {
        struct iggy_cluster_node node;
        if (iggy_system_node_decode(&reader, &node) != 0) {
            return reader.error;
        }
        if (index < nodes_max) {
            client_copy_text(nodes[index].name, sizeof(nodes[index].name), node.name);
            client_copy_text(nodes[index].ip, sizeof(nodes[index].ip), node.ip);
            nodes[index].tcp_port = node.tcp_port;
            nodes[index].quic_port = node.quic_port;
            nodes[index].http_port = node.http_port;
            nodes[index].websocket_port = node.websocket_port;
            nodes[index].role = node.role;
            nodes[index].status = node.status;
        }
    }
    if (name_out != NULL) {
        client_copy_text(name_out, name_size, cluster.name);
    }
    *count_out = cluster.node_count;
    return 0;
}
