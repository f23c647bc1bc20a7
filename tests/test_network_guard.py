"""The suite itself: no test may leave the machine (pytest-socket, loopback only)."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketConnectBlockedError


def test_connections_beyond_loopback_are_blocked() -> None:
    # 192.0.2.1 is reserved for documentation (TEST-NET-1); the guard refuses before connecting,
    # with a warning that the suite's "warnings are errors" setting would also turn into a failure.
    with pytest.warns(UserWarning, match="192.0.2.1"), pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("192.0.2.1", 80), timeout=1)


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=1):
            pass
