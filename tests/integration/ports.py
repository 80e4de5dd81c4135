"""Free TCP ports on 127.0.0.1 for the integration tests."""
import os
import socket


def free_ports(count):
    """count distinct free ports, held bound together so the kernel cannot hand one out
    twice (nemesis_test once got node 0's replica port again for node 2's, which exited at
    start-up: address in use). RUNNEL_TEST_PORT_RANGE=LOW-HIGH takes them from that range
    (a run by hand next to others on a shared machine); otherwise the kernel picks."""
    low, high = 0, -1
    if os.environ.get("RUNNEL_TEST_PORT_RANGE"):
        low, high = (int(value) for value in os.environ["RUNNEL_TEST_PORT_RANGE"].split("-"))
    socks = []
    try:
        candidate = low
        while len(socks) < count:
            sock = socket.socket()
            if high < low:
                sock.bind(("127.0.0.1", 0))
                socks.append(sock)
                continue
            if candidate > high:
                sock.close()
                raise OSError("RUNNEL_TEST_PORT_RANGE %d-%d: fewer than %d free ports" % (
                    low, high, count))
            try:
                sock.bind(("127.0.0.1", candidate))
                socks.append(sock)
            except OSError:
                sock.close()
            candidate += 1
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
