"""A taken port stops the demo before anything starts, saying how to choose others."""

from __future__ import annotations

import socket

from click.testing import CliRunner

from app.demo.cli import demo_command


def test_a_taken_port_is_named_with_the_options_to_choose_others(tmp_path):
    with socket.socket() as taken, socket.socket() as free:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        free.bind(("127.0.0.1", 0))
        busy, other = taken.getsockname()[1], free.getsockname()[1]
        free.close()
        result = CliRunner().invoke(
            demo_command,
            ["--port", str(busy), "--rp-port", str(other), "--instance", str(tmp_path)],
        )
    assert result.exit_code == 1
    assert f"port {busy} already in use on 127.0.0.1" in result.output
    assert "--port 5010 --rp-port 5011" in result.output
    assert not any(tmp_path.iterdir())  # nothing seeded
