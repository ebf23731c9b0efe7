import socket

from bot.measure import free_port, nearest_rank


def test_nearest_rank():
    values = [1.0, 2.0, 3.0, 4.0, 10.04]
    assert nearest_rank(values, 0.5) == 3.0
    assert nearest_rank(values, 1.0) == 10.0
    assert nearest_rank(values, 0.0) == 1.0
    assert nearest_rank([], 0.95) == 0.0


def test_free_port_is_bindable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
