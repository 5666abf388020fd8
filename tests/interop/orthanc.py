"""A real Orthanc with its DICOMweb plugin, started by the tests in a temp folder and stopped after."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import httpx

from tests.support.waiting import wait_for
from tests.support.server import free_port

PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc")


def orthanc_binary() -> str | None:
    return shutil.which("Orthanc") or (("/usr/sbin/Orthanc") if os.path.exists("/usr/sbin/Orthanc") else None)


def dicomweb_plugin() -> str | None:
    for folder in PLUGIN_DIRS:
        for path in sorted(Path(folder).glob("libOrthancDicomWeb.so*")) if Path(folder).is_dir() else []:
            return str(path)
    return None


class Orthanc:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.http_port = free_port()
        self.dicom_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "orthanc.json"
        self.config.write_text(json.dumps({
            "Name": "CLINPHOTO-TEST", "StorageDirectory": str(folder / "storage"),
            "IndexDirectory": str(folder / "storage"), "HttpPort": self.http_port, "DicomPort": self.dicom_port,
            "DicomAet": "CLINPHOTOTEST", "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
            "Plugins": [dicomweb_plugin()], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "HttpDescribeErrors": True, "OverwriteInstances": False,
        }))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return self.url + "/dicom-web"

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.folder / "orthanc.log", "ab")
        self.process = subprocess.Popen([orthanc_binary() or "Orthanc", str(self.config)], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        def answering() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError("Orthanc exited: " + (self.folder / "orthanc.log").read_text()[-2000:])
            try:
                return httpx.get(self.url + "/dicom-web/studies", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answering, timeout, "Orthanc to answer DICOMweb", every=0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
