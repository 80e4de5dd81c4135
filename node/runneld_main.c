/*
 * runneld: the runnel broker node. Parses the command line and configuration, formats the
 * data directory when it is new (or on `runneld format`), then runs the broker
 * (node/broker.h) on the shards (node/shard.h) until SIGINT or SIGTERM, drains them and
 * exits 0. Runs on the main thread, which only handles signals once the shards are up.
 *
 *   runneld [format] [--config FILE] [--set section.key=value ...]
 */
#include "lib/assert.h"
#include "lib/config.h"
#include "lib/log.h"
#include "node/broker.h"
#include "node/cluster.h"
#include "node/cluster_config.h"
#include "node/format.h"
#include "node/node_config.h"
#include "node/shard.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void runneld_usage(FILE *stream)
{
    fprintf(stream, "usage: runneld [format] [--config FILE] [--set section.key=value]...\n"
                    "       runneld --help | --help-config | --version\n"
                    "\n"
                    "Starts a runnel broker node. Without --config or --set it uses built-in\n"
                    "defaults: data in ./data, clients on 127.0.0.1:8090. A new data directory is\n"
                    "formatted on first start; `runneld format` only formats it and exits.\n"
                    "The root user comes from RUNNEL_ROOT_USERNAME / RUNNEL_ROOT_PASSWORD, else\n"
                    "\"iggy\" with a random password printed once.\n"
                    "\n"
                    "  --config FILE           load settings from an INI file\n"
                    "  --set section.key=value override one setting (repeatable, applied in order\n"
                    "                          after --config)\n"
                    "  --help-config           list every setting with its default and range\n"
                    "  --version               print the version\n");
}

static int runneld_configure(int argc, char **argv, struct node_config *config)
{
    const struct config_schema *schema = node_config_schema();
    struct config_error error = {{0}};
    node_config_defaults(config);
    const char *config_path = NULL;
    for (int index = 1; index < argc; index++) {
        if (index == 1 && strcmp(argv[index], "format") == 0) {
            continue;
        }
        if (strcmp(argv[index], "--config") == 0 && index + 1 < argc) {
            config_path = argv[++index];
        } else if (strcmp(argv[index], "--set") == 0 && index + 1 < argc) {
            index++;
        } else {
            fprintf(stderr, "runneld: unknown argument \"%s\" (see --help)\n", argv[index]);
            return 2;
        }
    }
    if (config_path != NULL && config_load_file(schema, config, config_path, &error) != 0) {
        fprintf(stderr, "runneld: %s\n", error.text);
        return 1;
    }
    for (int index = 1; index < argc; index++) {
        if (strcmp(argv[index], "--set") == 0) {
            if (config_set_assignment(schema, config, argv[index + 1], &error) != 0) {
                fprintf(stderr, "runneld: %s\n", error.text);
                return 1;
            }
            index++;
        } else if (strcmp(argv[index], "--config") == 0) {
            index++;
        }
    }
    if (node_config_validate(config, &error) != 0) {
        fprintf(stderr, "runneld: %s\n", error.text);
        return 1;
    }
    return 0;
}

static void runneld_signals_block(sigset_t *signals)
{
    sigemptyset(signals);
    sigaddset(signals, SIGINT);
    sigaddset(signals, SIGTERM);
    /* Blocked before the shards start, so they inherit the mask and only sigwait sees
     * the signals. */
    int result = pthread_sigmask(SIG_BLOCK, signals, NULL);
    assert(result == 0);
}

static const char *runneld_signal_name(int signal_number)
{
    return signal_number == SIGINT ? "SIGINT" : "SIGTERM";
}

/* The shard count the node runs with: configured, else one per CPU of the mask. */
static uint32_t runneld_shard_count(const struct node_config *config)
{
    if (config->shard_count > 0) {
        return config->shard_count;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    int count = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
    return count > 0 ? (uint32_t)count : 1;
}

/* Runs the broker until SIGINT or SIGTERM, then drains the shards; a second signal forces
 * the exit (status 1: requests in flight may be lost). */
enum { RUNNELD_FDS_TRACKED = 4096 };

/* Descriptors open before runneld opened any (inherited): not the node's to close. */
static uint64_t runneld_inherited_fds[RUNNELD_FDS_TRACKED / 64];

/* Calls visit for each open descriptor above stderr (the directory's own excluded). */
static void runneld_fds_walk(void (*visit)(int fd, uint32_t *count), uint32_t *count)
{
    DIR *directory = opendir("/proc/self/fd");
    for (uint32_t guard = 0; directory != NULL && guard < 1000000; guard++) {
        struct dirent *entry = readdir(directory);
        if (entry == NULL) {
            break;
        }
        int fd = atoi(entry->d_name);
        if (entry->d_name[0] != '.' && fd > 2 && fd != dirfd(directory)) {
            visit(fd, count);
        }
    }
    if (directory != NULL) {
        closedir(directory);
    }
}

static void runneld_fd_inherited(int fd, uint32_t *count)
{
    if (fd < RUNNELD_FDS_TRACKED) {
        runneld_inherited_fds[fd / 64] |= 1ull << (fd % 64);
        (*count)++;
    }
}

static void runneld_fd_left_open(int fd, uint32_t *count)
{
    if (fd < RUNNELD_FDS_TRACKED && (runneld_inherited_fds[fd / 64] >> (fd % 64)) & 1) {
        return;
    }
    char link[64], target[512] = {0};
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t size = readlink(link, target, sizeof(target) - 1);
    log_warn("file_left_open", "fd=%d target=\"%s\"", fd, size > 0 ? target : "?");
    (*count)++;
}

static int runneld_serve(const struct node_config *config, const sigset_t *signals,
                         uint32_t shard_count, const struct format_identity *identity)
{
    static struct broker broker;
    static struct shard_set set;
    static struct cluster_node cluster_node;
    u128 cluster = identity->cluster;
    struct shard_set_options options;
    shard_set_options_from_config(config, &options);
    options.shard_count = shard_count;
    options.net.requests_in_flight_max = 1; /* one request per connection (lockstep SDKs) */
    /* A client connection's ring holds a whole poll reply; a replica link takes a ring of
     * its own, sized for the largest prepare and forwarded request (node_config.h). */
    options.net.send_buffer_size_bytes = (uint32_t)node_config_client_ring_bytes(config);
    options.net.large_send_buffer_size_bytes = (uint32_t)node_config_link_ring_bytes(config);
    options.net.large_send_buffers_max = node_config_link_rings_max(config);
    char error_text[SHARD_ERROR_SIZE_MAX] = {0};
    int result =
        broker_init(&broker, config, &set, shard_count, cluster, error_text, sizeof(error_text));
    if (result == 0 && identity->is_recovering) {
        recovery_activate(&broker.recovery); /* every group starts recovering */
    }
    if (result == 0) {
        result = cluster_node_init(&cluster_node, config, identity, &set, &broker.handler, NULL,
                                   NULL, error_text, sizeof(error_text));
    }
    if (result == 0) {
        result = cluster_node_wire(&cluster_node, &broker); /* groups span the nodes */
        if (result != 0) {
            snprintf(error_text, sizeof(error_text), "out of memory for the cluster's tables");
        }
    }
    if (result == 0) {
        result = shard_set_start(&set, &options, cluster_node_handler(&cluster_node), error_text,
                                 sizeof(error_text));
    }
    if (result != 0) {
        fprintf(stderr, "runneld: %s\n", error_text);
        return 1;
    }
    log_info("listening", "shards=%u client_port=%u replica_port=%u", set.shard_count,
             shard_set_port(&set, NET_PEER_CLIENT), shard_set_port(&set, NET_PEER_REPLICA));
    int signal_number = 0;
    result = sigwait(signals, &signal_number);
    assert(result == 0);
    log_info("shutdown", "signal=%s", runneld_signal_name(signal_number));
    shard_set_stop(&set);
    struct timespec step = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
    /* Bounded by the shards' drain deadline; a second signal ends it sooner. */
    for (uint32_t guard = 0; guard < UINT32_MAX && shard_set_is_running(&set); guard++) {
        signal_number = sigtimedwait(signals, NULL, &step);
        if (signal_number > 0) {
            log_warn("shutdown_forced", "signal=%s", runneld_signal_name(signal_number));
            _exit(1);
        }
    }
    shard_set_join(&set);
    cluster_node_deinit(&cluster_node);
    broker_deinit(&broker);
    uint32_t left_open = 0; /* every file the node opened is closed by now (shutdown) */
    runneld_fds_walk(runneld_fd_left_open, &left_open);
    log_info("files_closed", "left_open=%u", left_open);
    return 0;
}

int main(int argc, char **argv)
{
    for (int index = 1; index < argc; index++) {
        if (strcmp(argv[index], "--help") == 0 || strcmp(argv[index], "-h") == 0) {
            runneld_usage(stdout);
            return 0;
        }
        if (strcmp(argv[index], "--version") == 0) {
            printf("runneld %s\n", RUNNEL_VERSION);
            return 0;
        }
        if (strcmp(argv[index], "--help-config") == 0) {
            config_print_help(node_config_schema(), stdout);
            return 0;
        }
    }
    uint32_t inherited = 0;
    runneld_fds_walk(runneld_fd_inherited, &inherited);
    sigset_t signals;
    runneld_signals_block(&signals);
    static struct node_config config;
    int result = runneld_configure(argc, argv, &config);
    if (result != 0) {
        return result;
    }
    log_level_set((enum log_level)config.log_level);
    log_info("startup", "version=%s", RUNNEL_VERSION);
    config_log(node_config_schema(), &config);
    if (mkdir(config.data_dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "runneld: cannot create data directory path=\"%s\" error=\"%s\"\n",
                config.data_dir, strerror(errno));
        return 1;
    }
    uint32_t shard_count = runneld_shard_count(&config);
    if (sodium_init() < 0) {
        fprintf(stderr, "runneld: libsodium failed to initialise\n");
        return 1;
    }
    struct config_error config_error;
    if (cluster_config_validate(&config, &config_error) != 0) {
        fprintf(stderr, "runneld: %s\n", config_error.text);
        return 1;
    }
    char error_text[FORMAT_ERROR_SIZE_MAX];
    struct format_identity identity;
    if (argc > 1 && strcmp(argv[1], "format") == 0) {
        result = format_command(&config, shard_count, error_text, sizeof(error_text));
    } else {
        result = format_prepare(&config, shard_count, &identity, error_text, sizeof(error_text));
    }
    if (result != 0) {
        fprintf(stderr, "runneld: %s\n", error_text);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "format") == 0) {
        return 0;
    }
    result = runneld_serve(&config, &signals, shard_count, &identity);
    if (result == 0) {
        log_info("stopped", NULL);
    }
    return result;
}
