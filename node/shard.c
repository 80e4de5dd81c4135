/*
 * The shard threads and their loop (see shard.h). Owns the shard array, the cross-shard
 * matrix, the listeners until shard 0 takes them, and the start and exit barriers.
 * shard_set_start/stop/join run on the starting (main) thread; everything else here runs
 * on the shard it names.
 */
#include "node/shard.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum {
    SHARD_XSHARD_BATCH_MAX = 256,
    SHARD_TIMERS_FIRED_MAX = 1024,
    SHARD_SWEEP_NS = 1000 * 1000 * 1000,
    SHARD_WAIT_NS_MAX = 1000 * 1000 * 1000,
};

static void shard_options_common(struct shard_set_options *options)
{
    runtime_uring_options_default(&options->uring);
    options->uring.iowq_workers_max = 2;
    /* A pass can hand one connection every posted buffer: its input must hold them all. */
    options->uring.recv_buffers_posted_max = NET_INPUT_SEGMENTS_MAX;
    options->timers_max = 1024;
    options->xshard_entries_max = 1024;
    options->tick_ns = 10 * 1000 * 1000;
    options->drain_timeout_ns = 5ull * 1000 * 1000 * 1000;
    options->net.reassembly_slots_max = 8;
    options->net.requests_in_flight_max = 64;
}

void shard_set_options_default(struct shard_set_options *options)
{
    assert(options != NULL);
    memset(options, 0, sizeof(*options));
    shard_options_common(options);
    options->shard_count = 2;
    options->is_pinned = false;
    options->has_listeners = true;
    strcpy(options->client_address, "127.0.0.1");
    strcpy(options->replica_address, "127.0.0.1");
    options->connections_max = 64;
    options->net.send_buffer_size_bytes = 16384;
    options->net.frame_size_max = 1u << 20;
    options->net.idle_timeout_ns = 0;
    assert(options->uring.cq_entries >= options->uring.sq_entries);
}

void shard_set_options_from_config(const struct node_config *config,
                                   struct shard_set_options *options)
{
    assert(config != NULL && options != NULL);
    memset(options, 0, sizeof(*options));
    shard_options_common(options);
    options->shard_count = config->shard_count;
    options->is_pinned = config->pin_threads;
    options->has_listeners = true;
    snprintf(options->client_address, sizeof(options->client_address), "%s",
             config->client_address);
    snprintf(options->replica_address, sizeof(options->replica_address), "%s",
             config->replica_address);
    options->client_port = config->client_port;
    options->replica_port = config->replica_port;
    options->connections_max = config->connections_max;
    options->uring.sq_entries = config->ring_entries;
    options->uring.cq_entries = config->ring_entries * 8;
    options->uring.recv_buffer_count = config->recv_buffer_count;
    options->uring.recv_buffer_size_bytes = config->recv_buffer_size_bytes;
    options->uring.fixed_buffer_size_bytes = config->fixed_buffer_size_bytes;
    options->uring.iowq_workers_max = config->iowq_workers_max;
    /* Each open partition group (and the metadata group) may write its log and its index
     * at once: two files each; a write beyond io_files_max fails (-RUNNEL_EFULL) and
     * fails its partition, so size it from the partitions a shard may hold (capped: the
     * table is scanned per write). */
    uint64_t io_files = 2ull * config->partitions_max + 8;
    options->uring.io_files_max = io_files < 1024 ? (uint32_t)io_files : 1024;
    options->net.send_buffer_size_bytes = config->send_buffer_size_bytes;
    options->net.send_zc_min_bytes = config->send_zc_min_bytes;
    options->net.frame_size_max = (uint32_t)config->frame_size_bytes_max;
    options->net.reassembly_slots_max = config->reassembly_slots_max;
    options->net.requests_in_flight_max = config->requests_in_flight_max;
    options->net.idle_timeout_ns = (uint64_t)config->idle_timeout_ms * 1000 * 1000;
    options->timers_max = config->timers_max;
    options->xshard_entries_max = config->xshard_queue_entries_max;
    options->tick_ns = (uint64_t)config->tick_ms * 1000 * 1000;
    options->drain_timeout_ns = (uint64_t)config->drain_timeout_ms * 1000 * 1000;
    assert(options->uring.cq_entries >= options->uring.sq_entries);
}

/* ---------------------------------------------------------------------------------------
 * The loop (shard thread). */

/*
 * One tick per tick_ns while the loop keeps up. After a stall (the thread starved of CPU,
 * a slow pass) the missed ticks are skipped, not fired in a burst: a burst ran out VSR
 * timeouts (a backup's 40-tick normal timeout) in one pass, before the heartbeats waiting
 * in the bus inbox were handed over (on_pass), so a starved node deposed a healthy
 * primary. Tick-counted durations stretch across a stall instead.
 */
static void shard_tick(struct timer *timer, void *context)
{
    struct shard *shard = context;
    shard->ticks++;
    struct node_handler *handler = shard->set->handler;
    if (handler->on_tick != NULL) {
        handler->on_tick(handler, shard->index);
    }
    uint64_t tick_ns = shard->set->options.tick_ns;
    uint64_t next_ns = timer->deadline_ns + tick_ns;
    uint64_t now_ns = clock_monotonic_ns(&shard->clock);
    if (next_ns <= now_ns) {
        shard->ticks_skipped += (now_ns - next_ns) / tick_ns + 1;
        next_ns = now_ns + tick_ns;
    }
    int result = timer_heap_add(&shard->timers, timer, next_ns, shard_tick, shard);
    assert(result == 0);
}

static void shard_sweep(struct timer *timer, void *context)
{
    struct shard *shard = context;
    uint64_t now_ns = clock_monotonic_ns(&shard->clock);
    net_sweep_idle(&shard->net, now_ns);
    int result = timer_heap_add(&shard->timers, timer, now_ns + SHARD_SWEEP_NS, shard_sweep, shard);
    assert(result == 0);
}

static void shard_drain_expired(struct timer *timer, void *context)
{
    struct shard *shard = context;
    (void)timer;
    assert(shard->is_draining);
    struct node_handler *handler = shard->set->handler;
    bool is_handler_drained =
        handler->is_drained == NULL || handler->is_drained(handler, shard->index);
    log_warn("drain_timeout", "shard=%u connections=%u handler_drained=%s", shard->index,
             net_connections_open(&shard->net), is_handler_drained ? "true" : "false");
    shard->is_drain_expired = true;
    net_close_all(&shard->net);
}

static void shard_on_xshard(const struct xshard_entry *entry, void *context)
{
    struct shard *shard = context;
    assert(entry->source_shard != shard->index);
    switch (entry->operation) {
    case NET_XSHARD_ADOPT:
        net_on_xshard(&shard->net, entry);
        break;
    default: {
        struct node_handler *handler = shard->set->handler;
        assert(handler->on_xshard != NULL);
        handler->on_xshard(handler, shard->index, entry);
        break;
    }
    }
}

static void shard_drain_begin(struct shard *shard, uint64_t now_ns)
{
    assert(!shard->is_draining);
    shard->is_draining = true;
    log_info("shard_drain", "shard=%u connections=%u", shard->index,
             net_connections_open(&shard->net));
    net_drain_begin(&shard->net);
    timer_heap_cancel(&shard->timers, &shard->sweep_timer);
    int result =
        timer_heap_add(&shard->timers, &shard->drain_timer,
                       now_ns + shard->set->options.drain_timeout_ns, shard_drain_expired, shard);
    assert(result == 0);
    struct node_handler *handler = shard->set->handler;
    if (handler->on_drain != NULL) {
        handler->on_drain(handler, shard->index);
    }
}

static bool shard_is_done(const struct shard *shard)
{
    assert(shard != NULL);
    if (!shard->is_draining) {
        return false;
    }
    if (shard->is_drain_expired) {
        return true;
    }
    struct node_handler *handler = shard->set->handler;
    bool is_quiet = net_is_drained(&shard->net) && runtime_uring_in_flight(shard->uring) == 0 &&
                    io_pending_count(runtime_uring_io(shard->uring)) == 0;
    return is_quiet && (handler->is_drained == NULL || handler->is_drained(handler, shard->index));
}

static uint64_t shard_wait_ns(struct shard *shard, uint64_t now_ns)
{
    if (runtime_uring_has_ready(shard->uring)) {
        return 0;
    }
    uint64_t deadline_ns = 0;
    if (!timer_heap_has_next(&shard->timers, &deadline_ns)) {
        return SHARD_WAIT_NS_MAX;
    }
    if (deadline_ns <= now_ns) {
        return 0;
    }
    uint64_t wait_ns = deadline_ns - now_ns;
    return wait_ns < SHARD_WAIT_NS_MAX ? wait_ns : SHARD_WAIT_NS_MAX;
}

/* The shard's event loop: runs until shutdown, so it is the one loop without a count
 * bound; each pass is bounded (batches, timer and callback limits). */
static void shard_loop(struct shard *shard)
{
    struct shard_set *set = shard->set;
    for (;;) {
        shard->passes++;
        runtime_uring_dispatch(shard->uring);
        xshard_drain(&set->xshard, shard->index, SHARD_XSHARD_BATCH_MAX, shard_on_xshard, shard);
        uint64_t now_ns = clock_monotonic_ns(&shard->clock);
        timer_heap_expire(&shard->timers, now_ns, SHARD_TIMERS_FIRED_MAX);
        if (!shard->is_draining && atomic_load(&set->is_stop_requested)) {
            shard_drain_begin(shard, now_ns);
        }
        if (set->handler->on_pass != NULL) {
            set->handler->on_pass(set->handler, shard->index);
        }
        net_flush(&shard->net, now_ns);
        if (shard_is_done(shard)) {
            break;
        }
        xshard_flush(&set->xshard, shard->index, shard->uring);
        uint64_t wait_ns = shard_wait_ns(shard, now_ns);
        if (wait_ns > 0 && !xshard_sleep_begin(&set->xshard, shard->index)) {
            wait_ns = 0; /* entries arrived since the drain */
        }
        int result = runtime_uring_submit_and_wait(shard->uring, wait_ns);
        xshard_sleep_end(&set->xshard, shard->index);
        if (result < 0) {
            log_error("shard_ring_failed", "shard=%u error=\"%s\"", shard->index,
                      strerror(-result));
            atomic_store(&set->is_stop_requested, true);
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * Shard set-up and teardown (shard thread). */

static int shard_pin(struct shard *shard)
{
    if (shard->cpu < 0) {
        return 0;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((size_t)shard->cpu, &set);
    int result = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (result != 0) {
        snprintf(shard->init_error, sizeof(shard->init_error),
                 "cannot pin shard %u to cpu %d (%s): set runtime.pin_threads=false", shard->index,
                 shard->cpu, strerror(result));
        return -result;
    }
    return 0;
}

static int shard_init(struct shard *shard)
{
    struct shard_set *set = shard->set;
    int result = shard_pin(shard);
    if (result != 0) {
        return result;
    }
    struct runtime_uring_options uring_options = set->options.uring;
    uring_options.cpu = shard->cpu;
    uring_options.files_max = set->options.net.connections_max;
    result = runtime_uring_create(&uring_options, &shard->uring, shard->init_error,
                                  sizeof(shard->init_error));
    if (result != 0) {
        return result;
    }
    xshard_ring_fd_set(&set->xshard, shard->index, runtime_uring_ring_fd(shard->uring));
    shard->timer_memory = calloc(set->options.timers_max, sizeof(struct timer *));
    result = shard->timer_memory == NULL
                 ? -ENOMEM
                 : net_init(&shard->net, &set->options.net, shard->uring, &set->xshard,
                            shard->index, set->shard_count, set->handler);
    if (result != 0) {
        snprintf(shard->init_error, sizeof(shard->init_error),
                 "out of memory for shard %u (lower limits.connections_max or "
                 "runtime.reassembly_slots_max)",
                 shard->index);
        return result;
    }
    shard->has_net = true;
    clock_system_init(&shard->clock);
    timer_heap_init(&shard->timers, shard->timer_memory, set->options.timers_max);
    timer_init(&shard->tick_timer);
    timer_init(&shard->sweep_timer);
    timer_init(&shard->drain_timer);
    uint64_t now_ns = clock_monotonic_ns(&shard->clock);
    result = timer_heap_add(&shard->timers, &shard->tick_timer, now_ns + set->options.tick_ns,
                            shard_tick, shard);
    assert(result == 0);
    result = timer_heap_add(&shard->timers, &shard->sweep_timer, now_ns + SHARD_SWEEP_NS,
                            shard_sweep, shard);
    assert(result == 0);
    return 0;
}

static bool shard_set_is_ready(const struct shard_set *set)
{
    for (uint32_t index = 0; index < set->shard_count; index++) {
        if (set->shards[index].init_result != 0) {
            return false;
        }
    }
    return true;
}

static void *shard_main(void *argument)
{
    struct shard *shard = argument;
    struct shard_set *set = shard->set;
    char name[16];
    snprintf(name, sizeof(name), "shard-%u", shard->index);
    (void)pthread_setname_np(pthread_self(), name); /* for top, perf and /proc */
    shard->init_result = shard_init(shard);
    if (shard->init_result == 0 && set->handler->on_start != NULL) {
        shard->init_result = set->handler->on_start(set->handler, shard->index, shard->init_error,
                                                    sizeof(shard->init_error));
    }
    pthread_barrier_wait(&set->start_barrier);
    if (shard_set_is_ready(set)) {
        if (shard->index == 0) {
            for (uint32_t kind = 0; kind < 2; kind++) {
                if (set->listeners[kind] >= 0) {
                    net_listen(&shard->net, set->listeners[kind], (enum net_peer_kind)kind);
                    set->listeners[kind] = -1; /* net owns it now */
                }
            }
        }
        log_info("shard_started", "shard=%u cpu=%d defer_taskrun=%s", shard->index, shard->cpu,
                 runtime_uring_is_defer_taskrun(shard->uring) ? "true" : "false");
        shard_loop(shard);
        if (set->handler->on_exit != NULL) {
            set->handler->on_exit(set->handler, shard->index); /* closes its files */
        }
        log_info("shard_stopped", "shard=%u passes=%llu ticks=%llu ticks_skipped=%llu",
                 shard->index, (unsigned long long)shard->passes, (unsigned long long)shard->ticks,
                 (unsigned long long)shard->ticks_skipped);
    }
    /* Rings stay open until every loop has ended: no doorbell targets a closed ring. */
    pthread_barrier_wait(&set->exit_barrier);
    if (shard->has_net) {
        net_deinit(&shard->net);
    }
    runtime_uring_destroy(shard->uring);
    free(shard->timer_memory);
    atomic_fetch_sub(&set->shards_running, 1);
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * The set (main thread). */

static uint32_t shard_set_cpus(int32_t *cpus, uint32_t cpus_max)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    uint32_t count = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (size_t cpu = 0; cpu < CPU_SETSIZE && count < cpus_max; cpu++) {
            if (CPU_ISSET(cpu, &set)) {
                cpus[count++] = (int32_t)cpu;
            }
        }
    }
    if (count == 0) {
        cpus[count++] = 0;
    }
    return count;
}

static int shard_set_listen(struct shard_set *set, char *error_text, size_t error_size_bytes)
{
    const char *addresses[2] = {set->options.client_address, set->options.replica_address};
    uint32_t ports[2] = {set->options.client_port, set->options.replica_port};
    const char *names[2] = {"server.client_port", "server.replica_port"};
    for (uint32_t kind = 0; kind < 2; kind++) {
        int fd = net_listener_open(addresses[kind], ports[kind], &set->ports[kind]);
        if (fd < 0) {
            snprintf(error_text, error_size_bytes,
                     "cannot listen on %s:%u (%s): free the port or change %s", addresses[kind],
                     ports[kind], strerror(-fd), names[kind]);
            return fd;
        }
        set->listeners[kind] = fd;
    }
    return 0;
}

static void shard_set_raise_nofile(const struct shard_set *set)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return;
    }
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < set->options.connections_max + 64u) {
        log_warn("nofile_limit_low", "limit=%llu connections_max=%u advice=\"ulimit -n\"",
                 (unsigned long long)limit.rlim_max, set->options.connections_max);
    }
}

static int shard_set_prepare(struct shard_set *set, const struct shard_set_options *options,
                             char *error_text, size_t error_size_bytes)
{
    static int32_t cpus[CPU_SETSIZE];
    uint32_t cpu_count = shard_set_cpus(cpus, CPU_SETSIZE);
    set->shard_count = options->shard_count != 0 ? options->shard_count : cpu_count;
    set->options.net.connections_max =
        (options->connections_max + set->shard_count - 1) / set->shard_count;
    uint64_t registered_bytes = set->shard_count * options->uring.fixed_buffer_size_bytes;
    int result = runtime_uring_check_environment(registered_bytes, error_text, error_size_bytes);
    if (result != 0) {
        return result;
    }
    shard_set_raise_nofile(set);
    set->shards = calloc(set->shard_count, sizeof(set->shards[0]));
    if (set->shards == NULL ||
        xshard_init(&set->xshard, set->shard_count, options->xshard_entries_max) != 0) {
        snprintf(error_text, error_size_bytes, "out of memory for %u shards", set->shard_count);
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < set->shard_count; index++) {
        set->shards[index].set = set;
        set->shards[index].index = index;
        set->shards[index].cpu = options->is_pinned ? cpus[index % cpu_count] : -1;
    }
    if (options->has_listeners) {
        return shard_set_listen(set, error_text, error_size_bytes);
    }
    return 0;
}

static void shard_set_free(struct shard_set *set)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        if (set->listeners[kind] >= 0) {
            close(set->listeners[kind]);
            set->listeners[kind] = -1;
        }
    }
    if (set->xshard.queues != NULL) {
        xshard_deinit(&set->xshard);
    }
    free(set->shards);
    set->shards = NULL;
}

int shard_set_start(struct shard_set *set, const struct shard_set_options *options,
                    struct node_handler *handler, char *error_text, size_t error_size_bytes)
{
    assert(set != NULL && options != NULL && handler != NULL && handler->on_frame != NULL);
    assert(error_text != NULL && error_size_bytes > 0);
    memset(set, 0, sizeof(*set));
    set->options = *options;
    set->handler = handler;
    set->listeners[0] = -1;
    set->listeners[1] = -1;
    atomic_init(&set->is_stop_requested, false);
    int result = shard_set_prepare(set, options, error_text, error_size_bytes);
    if (result != 0) {
        shard_set_free(set);
        return result;
    }
    pthread_barrier_init(&set->start_barrier, NULL, set->shard_count + 1);
    pthread_barrier_init(&set->exit_barrier, NULL, set->shard_count);
    atomic_init(&set->shards_running, set->shard_count);
    for (uint32_t index = 0; index < set->shard_count; index++) {
        result = pthread_create(&set->shards[index].thread, NULL, shard_main, &set->shards[index]);
        assert_msg(result == 0, "cannot start a shard thread");
    }
    pthread_barrier_wait(&set->start_barrier);
    for (uint32_t index = 0; index < set->shard_count; index++) {
        if (set->shards[index].init_result != 0) {
            snprintf(error_text, error_size_bytes, "%s", set->shards[index].init_error);
            result = set->shards[index].init_result;
            break;
        }
    }
    if (result != 0) {
        shard_set_join(set);
    }
    return result;
}

void shard_set_stop(struct shard_set *set)
{
    assert(set != NULL);
    assert(set->shards != NULL);
    atomic_store(&set->is_stop_requested, true);
}

bool shard_set_is_running(const struct shard_set *set)
{
    assert(set != NULL);
    return atomic_load(&set->shards_running) > 0;
}

void shard_set_join(struct shard_set *set)
{
    assert(set != NULL);
    assert(set->shards != NULL);
    atomic_store(&set->is_stop_requested, true);
    for (uint32_t index = 0; index < set->shard_count; index++) {
        pthread_join(set->shards[index].thread, NULL);
    }
    assert(atomic_load(&set->shards_running) == 0);
    pthread_barrier_destroy(&set->start_barrier);
    pthread_barrier_destroy(&set->exit_barrier);
    shard_set_free(set);
}

uint32_t shard_set_port(const struct shard_set *set, enum net_peer_kind kind)
{
    assert(set != NULL);
    assert(kind == NET_PEER_CLIENT || kind == NET_PEER_REPLICA);
    return set->ports[kind];
}
