/*
 * runnel CLI: user, pat, client, cluster, stats, ping and me commands. CLI process,
 * single thread.
 */
#include "client/cli_commands.h"

#include "client/cli_output.h"
#include "lib/assert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { CLI_ADMIN_LIST_MAX = 256 };

static void cli_print_users(const struct cli_context *context, const struct runnel_user *users,
                            uint32_t count)
{
    static const struct cli_column columns[] = {
        {"id", true}, {"username", false}, {"status", false}, {"created_at_us", true}};
    cli_output_begin(context->is_json, columns, 4);
    for (uint32_t index = 0; index < count; index++) {
        cli_output_row("%u\t%s\t%s\t%llu", users[index].id, users[index].username,
                       users[index].status == 1 ? "active" : "inactive",
                       (unsigned long long)users[index].created_at_us);
    }
    cli_output_end();
}

static int cli_user_change(struct cli_context *context, struct runnel_id user)
{
    struct runnel_client *client = context->client;
    if (cli_action(context, "delete")) {
        return runnel_user_delete(client, user);
    }
    if (cli_action(context, "name") && cli_word(context, 3) != NULL) {
        return runnel_user_update(client, user, cli_word(context, 3), 0);
    }
    if (cli_action(context, "status") && cli_word(context, 3) != NULL) {
        uint8_t status = strcmp(cli_word(context, 3), "active") == 0 ? 1 : 2;
        return runnel_user_update(client, user, NULL, status);
    }
    if (cli_action(context, "password") && cli_word(context, 4) != NULL) {
        return runnel_user_password(client, user, cli_word(context, 3), cli_word(context, 4));
    }
    if (cli_action(context, "permissions")) {
        bool all[10] = {true, true, true, true, true, true, true, true, true, true};
        return runnel_user_permissions(client, user, cli_option(context, "--all") ? all : NULL);
    }
    return cli_usage("user create <name> <password> [--inactive] [--all] | list | "
                     "get|delete <user> | name <user> <new> | status <user> active|inactive | "
                     "password <user> <current> <new> | permissions <user> [--all|--none]");
}

int cli_user(struct cli_context *context)
{
    static struct runnel_user users[CLI_ADMIN_LIST_MAX];
    struct runnel_id user;
    uint32_t count = 0;
    int result = 0;
    if (cli_action(context, "create") && cli_word(context, 3) != NULL) {
        bool all[10] = {true, true, true, true, true, true, true, true, true, true};
        result = runnel_user_create(context->client, cli_word(context, 2), cli_word(context, 3),
                                    cli_option(context, "--inactive") == NULL,
                                    cli_option(context, "--all") ? all : NULL, &users[0]);
        count = 1;
    } else if (cli_action(context, "list")) {
        result = runnel_user_list(context->client, users, CLI_ADMIN_LIST_MAX, &count);
        count = count < CLI_ADMIN_LIST_MAX ? count : CLI_ADMIN_LIST_MAX;
    } else if (cli_action(context, "get") && cli_id(context, 2, &user)) {
        result = runnel_user_get(context->client, user, &users[0]);
        count = 1;
    } else if (cli_id(context, 2, &user)) {
        result = cli_user_change(context, user);
        if (result == 0) {
            cli_output_ok(context->is_json, "ok");
        }
        return result;
    } else {
        return cli_usage("user create <name> <password> | list | get <user> | "
                         "delete|name|status|password|permissions <user> ...");
    }
    if (result == 0) {
        cli_print_users(context, users, count);
    }
    return result;
}

int cli_pat(struct cli_context *context)
{
    static struct runnel_pat pats[CLI_ADMIN_LIST_MAX];
    int result = -EINVAL;
    if (cli_action(context, "create") && cli_word(context, 2) != NULL) {
        uint64_t expiry = 0;
        (void)cli_number(cli_option(context, "--expiry-us"), &expiry);
        char token[256];
        result =
            runnel_pat_create(context->client, cli_word(context, 2), expiry, token, sizeof(token));
        if (result == 0) {
            static const struct cli_column columns[] = {{"name", false}, {"token", false}};
            cli_output_begin(context->is_json, columns, 2);
            cli_output_row("%s\t%s", cli_word(context, 2), token);
            cli_output_end();
        }
    } else if (cli_action(context, "delete") && cli_word(context, 2) != NULL) {
        result = runnel_pat_delete(context->client, cli_word(context, 2));
        if (result == 0) {
            cli_output_ok(context->is_json, "ok");
        }
    } else if (cli_action(context, "list")) {
        uint32_t count = 0;
        result = runnel_pat_list(context->client, pats, CLI_ADMIN_LIST_MAX, &count);
        static const struct cli_column columns[] = {{"name", false}, {"expiry_at_us", true}};
        cli_output_begin(context->is_json, columns, 2);
        for (uint32_t index = 0; result == 0 && index < count && index < CLI_ADMIN_LIST_MAX;
             index++) {
            cli_output_row("%s\t%llu", pats[index].name,
                           (unsigned long long)pats[index].expiry_at_us);
        }
        if (result == 0) {
            cli_output_end();
        }
    } else {
        return cli_usage("pat create <name> [--expiry-us N] | delete <name> | list");
    }
    return result;
}

static void cli_print_clients(const struct cli_context *context,
                              const struct runnel_client_info *infos, uint32_t count)
{
    static const struct cli_column columns[] = {{"client_id", true},
                                                {"user_id", true},
                                                {"transport", false},
                                                {"address", false},
                                                {"groups", true}};
    cli_output_begin(context->is_json, columns, 5);
    for (uint32_t index = 0; index < count; index++) {
        cli_output_row("%u\t%u\t%s\t%s\t%u", infos[index].client_id, infos[index].user_id,
                       infos[index].transport == 1 ? "tcp" : "other", infos[index].address,
                       infos[index].consumer_group_count);
    }
    cli_output_end();
}

int cli_clients(struct cli_context *context)
{
    static struct runnel_client_info infos[CLI_ADMIN_LIST_MAX];
    uint32_t count = 1;
    uint32_t client_id = 0;
    int result;
    if (cli_action(context, "list")) {
        result = runnel_client_list(context->client, infos, CLI_ADMIN_LIST_MAX, &count);
        count = count < CLI_ADMIN_LIST_MAX ? count : CLI_ADMIN_LIST_MAX;
    } else if (cli_action(context, "get") && cli_u32(context, 2, &client_id)) {
        result = runnel_client_get(context->client, client_id, &infos[0]);
    } else {
        return cli_usage("client get <id> | list");
    }
    if (result == 0) {
        cli_print_clients(context, infos, count);
    }
    return result;
}

static int cli_cluster(struct cli_context *context)
{
    static struct runnel_cluster_node nodes[64];
    char name[256];
    uint32_t count = 0;
    int result = runnel_cluster_metadata(context->client, name, sizeof(name), nodes, 64, &count);
    if (result != 0) {
        return result;
    }
    static const struct cli_column columns[] = {{"cluster", false}, {"node", false},
                                                {"ip", false},      {"tcp_port", true},
                                                {"role", false},    {"status", true}};
    cli_output_begin(context->is_json, columns, 6);
    for (uint32_t index = 0; index < count && index < 64; index++) {
        cli_output_row("%s\t%s\t%s\t%u\t%s\t%u", name, nodes[index].name, nodes[index].ip,
                       nodes[index].tcp_port, nodes[index].role == 0 ? "leader" : "follower",
                       nodes[index].status);
    }
    cli_output_end();
    return 0;
}

static const char *cli_group_status(uint8_t status)
{
    static const char *const names[] = {"closed", "normal", "view_change", "recovering_head"};
    return status < 4 ? names[status] : "unknown";
}

static void cli_print_roles(const struct cli_context *context,
                            const struct runnel_cluster_roles *roles)
{
    static const struct cli_column columns[] = {
        {"replica", true},        {"role", false},           {"self", false},
        {"partitions_led", true}, {"metadata_view", true},   {"metadata_status", false},
        {"shards", true},         {"connection_shard", true}};
    cli_output_begin(context->is_json, columns, 8);
    for (uint32_t index = 0; index < roles->node_count; index++) {
        bool is_self = roles->nodes[index].is_self;
        char shards[16] = "";
        char shard[16] = "";
        if (is_self) {
            snprintf(shards, sizeof(shards), "%u", roles->shard_count);
            snprintf(shard, sizeof(shard), "%u", roles->connection_shard);
        }
        cli_output_row("%u\t%s\t%s\t%u\t%u\t%s\t%s\t%s", roles->nodes[index].replica,
                       roles->nodes[index].role == RUNNEL_ROLE_PRIMARY ? "primary" : "backup",
                       is_self ? "yes" : "no", roles->nodes[index].partitions_led,
                       roles->metadata_view, cli_group_status(roles->metadata_status), shards,
                       shard);
    }
    cli_output_end();
}

static void cli_print_routes(const struct cli_context *context,
                             const struct runnel_partition_route *routes, uint32_t count)
{
    static const struct cli_column columns[] = {
        {"stream", true}, {"topic", true},   {"partition", true}, {"incarnation", true},
        {"view", true},   {"primary", true}, {"status", false},   {"shard", true}};
    cli_output_begin(context->is_json, columns, 8);
    for (uint32_t index = 0; index < count; index++) {
        const struct runnel_partition_route *route = &routes[index];
        cli_output_row("%u\t%u\t%u\t%llu\t%u\t%u\t%s\t%u", route->stream_id, route->topic_id,
                       route->partition_id, (unsigned long long)route->incarnation, route->view,
                       route->primary, cli_group_status(route->status), route->shard);
    }
    cli_output_end();
}

/* cluster [roles | map [<stream> <topic>]]: runneld's true roles and partition map. */
static int cli_cluster_roles(struct cli_context *context, const char *action)
{
    static struct runnel_partition_route routes[CLI_ROWS_MAX];
    struct runnel_cluster_roles roles;
    struct runnel_id ids[2];
    bool has_topic = action != NULL && cli_word(context, 3) != NULL;
    if (has_topic && (runnel_id_parse(cli_word(context, 2), &ids[0]) != 0 ||
                      runnel_id_parse(cli_word(context, 3), &ids[1]) != 0)) {
        return cli_usage("cluster map [<stream> <topic>]");
    }
    uint32_t count = 0;
    int result =
        runnel_cluster_map(context->client, has_topic ? &ids[0] : NULL, has_topic ? &ids[1] : NULL,
                           &roles, routes, CLI_ROWS_MAX, &count);
    if (result != 0) {
        return result;
    }
    count = count < CLI_ROWS_MAX ? count : CLI_ROWS_MAX;
    if (action == NULL) {
        cli_output_section(context->is_json, "roles", true);
        cli_print_roles(context, &roles);
        cli_output_section(context->is_json, "partitions", false);
        cli_print_routes(context, routes, count);
        cli_output_sections_end(context->is_json);
    } else if (strcmp(action, "roles") == 0) {
        cli_print_roles(context, &roles);
    } else {
        cli_print_routes(context, routes, count);
    }
    return 0;
}

static int cli_cluster_command(struct cli_context *context)
{
    const char *action = cli_word(context, 1);
    if (action == NULL) {
        return runnel_client_is_runneld(context->client) ? cli_cluster_roles(context, NULL)
                                                         : cli_cluster(context);
    }
    if (strcmp(action, "metadata") == 0) {
        return cli_cluster(context);
    }
    if (strcmp(action, "roles") == 0 || strcmp(action, "map") == 0) {
        return cli_cluster_roles(context, action);
    }
    return cli_usage("cluster [metadata | roles | map [<stream> <topic>]]");
}

static int cli_stats(struct cli_context *context)
{
    struct runnel_stats stats;
    int result = runnel_stats_get(context->client, &stats);
    if (result != 0) {
        return result;
    }
    static const struct cli_column columns[] = {{"metric", false}, {"value", false}};
    cli_output_begin(context->is_json, columns, 2);
    cli_output_row("server_version\t%s", stats.server_version);
    cli_output_row("hostname\t%s", stats.hostname);
    cli_output_row("os\t%s %s", stats.os_name, stats.os_version);
    cli_output_row("process_id\t%u", stats.process_id);
    cli_output_row("run_time_us\t%llu", (unsigned long long)stats.run_time_us);
    cli_output_row("memory_usage_bytes\t%llu", (unsigned long long)stats.memory_usage_bytes);
    cli_output_row("streams\t%u", stats.stream_count);
    cli_output_row("topics\t%u", stats.topic_count);
    cli_output_row("partitions\t%u", stats.partition_count);
    cli_output_row("segments\t%u", stats.segment_count);
    cli_output_row("messages\t%llu", (unsigned long long)stats.message_count);
    cli_output_row("messages_size_bytes\t%llu", (unsigned long long)stats.messages_size_bytes);
    cli_output_row("clients\t%u", stats.client_count);
    cli_output_row("consumer_groups\t%u", stats.consumer_group_count);
    cli_output_end();
    return 0;
}

static int cli_ping_me(struct cli_context *context)
{
    if (strcmp(context->words[0], "ping") == 0) {
        struct timespec start;
        struct timespec end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        int result = runnel_ping(context->client);
        clock_gettime(CLOCK_MONOTONIC, &end);
        if (result == 0) {
            static const struct cli_column columns[] = {{"ping_us", true}};
            cli_output_begin(context->is_json, columns, 1);
            cli_output_row("%lld", (long long)(end.tv_sec - start.tv_sec) * 1000000 +
                                       (end.tv_nsec - start.tv_nsec) / 1000);
            cli_output_end();
        }
        return result;
    }
    static struct runnel_client_info info;
    int result = runnel_me(context->client, &info);
    if (result == 0) {
        static const struct cli_column columns[] = {
            {"client_id", true}, {"user_id", true}, {"address", false}, {"server", false}};
        cli_output_begin(context->is_json, columns, 4);
        cli_output_row("%u\t%u\t%s\t%s", info.client_id, info.user_id, info.address,
                       runnel_client_server_version(context->client));
        cli_output_end();
    }
    return result;
}

int cli_system(struct cli_context *context)
{
    const char *command = context->words[0];
    if (strcmp(command, "cluster") == 0) {
        return cli_cluster_command(context);
    }
    if (strcmp(command, "stats") == 0) {
        return cli_stats(context);
    }
    return cli_ping_me(context);
}
