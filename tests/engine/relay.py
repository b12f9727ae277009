"""A loopback TCP relay in front of the sandbox's apiserver that can stop answering.

A replica pointed at it reaches the real apiserver until :meth:`Relay.stop_answering`; from then on
connections are accepted and held silent, as behind a network partition, and those open are cut.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import yaml


class Relay:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._answering = True
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def kubeconfig(self, original: Path, path: Path) -> Path:
        """``original`` with its server pointed at this relay (the certificate names 127.0.0.1)."""
        config = yaml.safe_load(original.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        path.write_text(yaml.safe_dump(config))
        return path

    def stop_answering(self) -> None:
        with self._lock:
            self._answering = False
            for connection in self._open:
                connection.close()
            self._open.clear()

    def close(self) -> None:
        self.stop_answering()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if not self._answering:
                    self._open.append(client)  # held: the caller waits for its own timeout
                    continue
                upstream = socket.create_connection(self.target)
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        source.close()
        sink.close()
