"""A hospital group's install in miniature: several ``clinphoto serve`` processes on one PostgreSQL and one
data folder (keys, objects, uploads), behind a real nginx terminating TLS for the ward's host name."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.support.nginx import Nginx
from tests.support.server import ServerProcess, free_port
from tests.support.waiting import wait_for

NAME = "clinphoto.ward.test"


class Ward:
    def __init__(self, data_dir: Path, database_url: str, processes: int = 3, **env: str) -> None:
        ports = [free_port() for _ in range(processes)]
        self.port = free_port()
        origin = f"https://{NAME}:{self.port}"
        common = {"CLINPHOTO_DATABASE_URL": database_url, "CLINPHOTO_PUBLIC_URL": origin,
                  "CLINPHOTO_FORWARDED_ALLOW_IPS": "127.0.0.1", **env}
        self.servers = [ServerProcess(data_dir, port=port, **common) for port in ports]
        self.nginx: Nginx | None = None
        try:
            for server in self.servers:  # all at once, as after a power cut of the whole ward
                server.spawn()
            for server in self.servers:
                server.wait_healthy(60)
            self.nginx = Nginx(NAME, ports, self.port)
        except BaseException:
            self.stop()
            raise

    def client(self, **kwargs: Any) -> httpx.Client:
        """What a phone on the ward talks to: nginx, by name, over TLS."""
        assert self.nginx is not None
        return self.nginx.client(**kwargs)

    def leaders(self) -> list[ServerProcess]:
        """The processes that say they lead (cluster.py): one, once the ward has settled."""
        alive = [s for s in self.servers if s.process is not None]
        return [s for s in alive if s.health()["checks"]["cluster"]["leader"]]  # type: ignore[index]

    def one_leader(self, timeout: float = 30.0) -> ServerProcess:
        found: list[ServerProcess] = []

        def settled() -> bool:
            found[:] = self.leaders()
            return len(found) == 1

        wait_for(settled, timeout, "exactly one leading server process")
        return found[0]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        if self.nginx is not None:
            self.nginx.stop()
