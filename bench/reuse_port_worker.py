"""One benchmark server worker on its own SO_REUSEPORT socket of a shared port.

``python -m bench.reuse_port_worker FACTORY PORT [--timeout-keep-alive S]``

uvicorn's ``--workers`` share one listening socket, and a burst of keep-alive connections
opened at once can all land on one worker (seen with ``ss``: all 32 of the load
generator's connections on one of two workers, and that run at half speed). With a socket
each, the kernel spreads connections over the workers by their addresses, as a load
balancer in front of replicas would. (uvicorn's ``--fd`` takes the socket for a Unix one,
which loses the client's address that the rate limit needs.)
"""

from __future__ import annotations

import argparse
import socket

import uvicorn


def main() -> None:
    """Serve ``FACTORY`` on ``PORT`` of 127.0.0.1 until stopped."""
    parser = argparse.ArgumentParser()
    parser.add_argument("factory")
    parser.add_argument("port", type=int)
    parser.add_argument("--timeout-keep-alive", type=int, default=5)
    arguments = parser.parse_args()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", arguments.port))
    config = uvicorn.Config(
        arguments.factory,
        factory=True,
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        timeout_keep_alive=arguments.timeout_keep_alive,
    )
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
