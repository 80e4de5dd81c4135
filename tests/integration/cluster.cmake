# A test of three runneld nodes (SCRIPT RUNNELD RUNNEL ARGS...): 77 means no io_uring.
# RUN_SERIAL: three nodes on a 2-core machine next to the simulator's seed batches starve
# each other's 10 ms ticks and the groups churn through view changes (seen once with an
# extra CPU hog: a send not acknowledged within 15 s); the tests check replication, not
# behaviour under CPU starvation, so each runs alone.
function(runnel_cluster_test name script timeout)
    add_test(NAME ${name}
        COMMAND ${RUNNEL_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/integration/${script}
            $<TARGET_FILE:runneld> $<TARGET_FILE:runnel> ${ARGN})
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT ${timeout}
        RUN_SERIAL TRUE)
endfunction()

# cluster: three runneld nodes on 127.0.0.1 (tests/integration/cluster_test.py): a stream and
# topic created through node 0, messages sent through node 1 (forwarded to the partition's
# primary over the replica bus) and polled from node 2.
runnel_cluster_test(integration.cluster cluster_test.py 120 --no-failover)
# cluster_failover: the same, then two librunnel exactly-once producers
# (runnel-nemesis-producer) send while the partition's primary is killed (-9); sends go on
# through the survivors (the producer connected to the killed node moves to a survivor and
# resends with the same sequence), the node restarts and catches up, every acknowledged
# message is present once at its acknowledged offset, and the stall is printed (p99.99,
# longest gap). The producers run 4 s (RUNNEL_TEST_LOAD_SECONDS), the kill comes after 3.
# 10 of 10 passed next to a nice busy loop (p99.99 = longest gap 0.48-1.46 s) once a
# restarted backup no longer read its journal inside completion dispatch (the crash) and
# learned the missing headers in batches (the catch-up); with 12 s of load the restarted
# node caught up ~5,000 ops. Run it by hand:
#   python3 tests/integration/cluster_test.py build/release/runneld build/release/runnel
runnel_cluster_test(integration.cluster_failover cluster_test.py 180)
# cluster_lease: a consumer-group member joined through each node; one node is killed (-9)
# and stays down; after cluster.member_lease_ms (3 s here) the metadata primary releases
# that node's members (ReleaseNodeMembers) and the group's partitions go to the members on
# the live nodes.
runnel_cluster_test(integration.cluster_lease cluster_test.py 120 --lease)
# cluster_takeover: first a login (RegisterClient) on node 0 while nodes 1 and 2 are stopped
# is answered 57/58 when its parking bound passes (before: the eviction of a wrong password,
# InvalidCredentials, which iggy-bench does not retry), and succeeds once they continue.
# Then a metadata request (CreateStream) sent through the node that leads the
# next metadata view while the current primary is stopped (SIGSTOP): the sender becomes
# primary and submits the request itself (answered OK; before, it stayed parked: 57). Then
# a backup's data directory is wiped (DESIGN.md §10.10): runneld refuses it while it holds
# a file but no identity; emptied, the node formats itself recovering; with the partition's
# primary stopped (SIGSTOP) the other node and the recovering one are two of three but a
# send is refused (the recovering node never votes), and the node has not completed its
# recovery; stopped and started again there it keeps its recovering marker and resumes (a
# clean shutdown, no file left open); once the primary continues it logs recovery_complete,
# knows the streams created
# before and after the wipe and returns every acknowledged message.
runnel_cluster_test(integration.cluster_takeover cluster_test.py 240 --takeover)
# cluster_big_batches: batches of 1000 messages of 1000 B (about 1 MB, iggy-bench's default)
# with default limits, sent through the partition's primary and through a backup (forwarded
# over the replica bus), are acknowledged and read back identical from all three nodes (a
# replica link takes a large output ring of its own, node_config_link_ring_bytes; before,
# such a frame never fitted a link's lanes and was answered 57/58); a batch over
# limits.batch_size_bytes_max is refused at once with status 4.
runnel_cluster_test(integration.cluster_big_batches cluster_test.py 120 --big-batches)
# cluster_resend: Iggy's client table (docs/NEMESIS.md bug 10): through a backup and
# through the metadata primary, a CreateStream resent with the same request number after
# its stream's delete gets the create's reply and does not recreate the stream (before,
# every resend was a new op: the stream came back); the same number with another body
# gets 59 and creates nothing; the next number and a send on the connection go on; a
# CreateTopic of 30 partitions resent gets its whole first reply (1,538 bytes, from the
# replies ring; before, 59) and the topic exists once.
runnel_cluster_test(integration.cluster_resend cluster_test.py 120 --resend)
# cluster_offsets: docs/NEMESIS.md bug 11. Consumer 1's offset is stored through the
# partition's primary, a backup is killed (-9), 300 more offsets are stored without it, it
# restarts and is read at once over a new connection each time (GetConsumerOffset, as the
# nemesis checker reads it): no answer may be below the last offset stored, and the
# connection that stored them reads the last one back. On main at 84c216f the restarted
# backup answered from its own copy while it caught up (1, 129, 257 before 301, within
# 1.2 s of its restart) and the node the stores went through, a backup after the view
# change the kill caused, answered 300 right after 301 was acknowledged; now only the
# primary, once it executed its view's head, answers consumer-offset reads.
runnel_cluster_test(integration.cluster_offsets cluster_test.py 120 --offsets)
# cluster_abandoned: docs/NEMESIS.md seed 501. A consumer-offset store the primary prepared
# but could not commit (its backups stopped), whose client gave up, while the primary is
# stopped past the forward bound and the others store a higher offset in a new view: once
# the old primary continues, the stored offset never goes back. Before the fix its data
# plane (tick-counted bound, stretched across the stop) re-sent the old write to the new
# primary, which executed it after the higher one.
runnel_cluster_test(integration.cluster_abandoned cluster_test.py 120 --abandoned)
# cluster_wrap: a partition of a 3-node cluster with a 1024-op log ring takes 1,500
# batches, a backup is killed (-9), 3,500 more (over three rings) are committed without it
# and none is answered 57/58 (a slot is reused below a checkpoint durable on a quorum), it
# restarts and catches up by state transfer (a peer's checkpoint after every record up to
# it), 1,500 more follow, and every node returns the identical partition
# (tests/integration/cluster_wrap_test.py; about 1.5 minutes).
runnel_cluster_test(integration.cluster_wrap cluster_wrap_test.py 400)
# retention: prefix truncation (issue 4 item 5, docs/OPERATIONS.md "Retention") on 3 nodes
# with 1 MiB segments and a 1024-op ring: DeleteSegments raises the log start everywhere
# (polls start there on every node); with a backup killed, the two live nodes (a
# replication quorum) remove the segment files below the new start past the next
# checkpoint; the backup restarts, catches up by state transfer (the records it lacks are
# gone on its peers) and polls on it start at the same offset and return the same messages;
# every node keeps the tail; a topic with a 4 s message expiry loses every sealed segment
# (polls and files) on every node, never the tail (tests/integration/retention_test.py).
runnel_cluster_test(integration.retention retention_test.py 240)
# wiped_retention: DeleteSegments removes the oldest segment files on every node (past the
# checkpoints of ops 512 and 1024 with a 1024-op ring), then a backup's data directory is
# emptied and it restarts: its partition pulls a peer's checkpoint and the records from the
# peer's first segment on (its log restarts there), logs recovery_complete, polls on it start
# at the same offset as on its peers and return the same messages, and with the third node
# stopped it is the second of the quorum for new sends (tests/integration/wiped_retention_test.py).
runnel_cluster_test(integration.wiped_retention wiped_retention_test.py 240)
# metadata_wrap: the same for the metadata group (limits.metadata_ops_max=1024): 1,500
# stream creates and deletes, a backup killed, 3,500 more without it, a restart that
# catches up by state transfer, 600 more through it (forwarded, four connections in
# parallel: docs/NEMESIS.md bug 10), every node lists the same streams,
# then again after every node restarts from its checkpoint
# (tests/integration/metadata_wrap_test.py; about 1.5 minutes).
runnel_cluster_test(integration.metadata_wrap metadata_wrap_test.py 300)
