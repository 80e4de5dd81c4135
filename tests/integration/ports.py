"""Free TCP ports on 127.0.0.1 for the integration tests."""
import socket


def free_ports(count):
    """count distinct free ports, held bound together so the kernel cannot hand one out
    twice (nemesis_test once got node 0's replica port again for node 2's, which exited at
    start-up: address in use)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            socks.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
