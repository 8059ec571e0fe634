"""The embedded development chain: an anvil process on 127.0.0.1.

:class:`DevNode` starts anvil (from the npm package ``@foundry-rs/anvil``, run as its native
binary, never through ``npx``) with chain id 31337, keeps the chain's state in a file in the data
dir (``--state``: loaded at start, dumped on SIGTERM and every ``state_interval`` seconds), waits
until the node answers JSON-RPC, and stops it with SIGTERM so the state is written.

:func:`find_anvil` looks for the binary in this order: ``$HEXAVATAR_ANVIL_BIN``; the repo's
``node_modules`` (the platform package ``@foundry-rs/anvil-<os>-<arch>/bin/anvil``, then
``node_modules/.bin/anvil``), searched upward from the working directory and from this file; then
``anvil`` on ``PATH``.

:func:`chain_up` is what ``hexavatar chain up`` and the embedded service use: node started,
Multicall3 installed, HexavatarNFT deployed once (remembered in the data dir).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from .contract import ensure_deployed, install_multicall3
from .errors import AnvilNotFound, DevNodeError, quote
from .rpc import connect
from .signer import Signer

__all__ = [
    "ANVIL_BIN_ENV",
    "DEV_CHAIN_ID",
    "DEV_PRIVATE_KEYS",
    "ChainUp",
    "DevNode",
    "chain_up",
    "find_anvil",
    "free_port",
]

ANVIL_BIN_ENV = "HEXAVATAR_ANVIL_BIN"
DEV_CHAIN_ID = 31337
#: The first three accounts of anvil's default mnemonic ("test test ... junk"). Public test keys:
#: every Ethereum developer knows them; never use them on a real chain.
DEV_PRIVATE_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)
_STATE_FILE = "anvil-state.json"
_LOG_FILE = "anvil.log"
_LOOPBACK = "127.0.0.1"
_LISTENING = re.compile(r"Listening on 127\.0\.0\.1:(\d+)")
_NPM_PLATFORMS = {
    ("linux", "x86_64"): "linux-amd64",
    ("linux", "aarch64"): "linux-arm64",
    ("darwin", "x86_64"): "darwin-amd64",
    ("darwin", "arm64"): "darwin-arm64",
}


def free_port(host: str = _LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _node_modules_candidates(root: Path) -> Iterator[Path]:
    key = (platform.system().lower(), platform.machine().lower())
    suffix = _NPM_PLATFORMS.get(key)
    modules = root / "node_modules"
    if suffix is not None:
        yield modules / "@foundry-rs" / f"anvil-{suffix}" / "bin" / "anvil"
    yield modules / ".bin" / "anvil"


def _search_roots(start_dirs: Sequence[Path]) -> Iterator[Path]:
    seen: set[Path] = set()
    for start in start_dirs:
        for directory in (start, *start.parents):
            if directory not in seen:
                seen.add(directory)
                yield directory


def find_anvil(
    *, env: Mapping[str, str] | None = None, start_dirs: Sequence[Path] | None = None
) -> Path:
    """Locate the anvil binary (see the module docstring for the search order)."""
    env = os.environ if env is None else env
    explicit = env.get(ANVIL_BIN_ENV)
    if explicit:
        path = Path(explicit)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise AnvilNotFound(
            f"${ANVIL_BIN_ENV} should name an executable file, found {quote(explicit)}"
        )
    starts = list(start_dirs) if start_dirs is not None else [Path.cwd(), Path(__file__).parent]
    for root in _search_roots([s.resolve() for s in starts]):
        for candidate in _node_modules_candidates(root):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    on_path = shutil.which("anvil", path=env.get("PATH"))
    if on_path:
        return Path(on_path)
    raise AnvilNotFound(
        f"expected anvil in ${ANVIL_BIN_ENV}, node_modules (run `npm ci`) or PATH; found none"
    )


class DevNode:
    """An anvil process on 127.0.0.1 whose state lives in ``data_dir``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``port=None`` picks a free
    port at each start. State survives restarts: tokens minted before :meth:`stop` are there after
    the next :meth:`start` with the same ``data_dir``.
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        port: int | None = None,
        chain_id: int = DEV_CHAIN_ID,
        anvil_bin: Path | None = None,
        state_interval: float | None = 5.0,
        block_time: float | None = None,
        startup_timeout: float = 30.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.chain_id = chain_id
        self._anvil_bin = anvil_bin
        self._state_interval = state_interval
        self._block_time = block_time
        self._startup_timeout = startup_timeout
        self._extra_args = tuple(extra_args)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._rpc_url: str | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"DevNode(data_dir={str(self.data_dir)!r}, rpc_url={self._rpc_url!r}, {state})"

    @property
    def state_file(self) -> Path:
        return self.data_dir / _STATE_FILE

    @property
    def log_file(self) -> Path:
        return self.data_dir / _LOG_FILE

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def rpc_url(self) -> str:
        """The node's HTTP JSON-RPC URL (only while started)."""
        if self._rpc_url is None or not self.running:
            raise DevNodeError("expected a started DevNode, found it stopped")
        return self._rpc_url

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _argv(self) -> list[str]:
        binary = self._anvil_bin or find_anvil()
        # port 0: anvil binds a free port itself and prints it, so no other process can take it
        # between our choice and its bind (as with a port picked here and handed over)
        port = self.port if self.port is not None else 0
        argv = [
            str(binary),
            "--host",
            _LOOPBACK,
            "--port",
            str(port),
            "--chain-id",
            str(self.chain_id),
            "--state",
            str(self.state_file),
        ]
        if self._state_interval is not None:
            argv += ["--state-interval", str(max(1, round(self._state_interval)))]
        if self._block_time is not None:
            argv += ["--block-time", str(self._block_time)]
        return argv + list(self._extra_args)

    def start(self) -> Self:
        """Start anvil and wait until it answers ``eth_chainId`` with the expected id."""
        if self.running:
            return self
        self._terminate(timeout=1.0)  # reap a process that died by itself, close its log
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = self._argv()
        self._log = self.log_file.open("wb")  # this run's output only
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self._terminate(timeout=5.0)
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                tail = self._log_tail()
                raise DevNodeError(f"expected anvil to keep running, it exited with {code}: {tail}")
            if self._rpc_url is None:
                self._rpc_url = self._listening_url()
            found = _rpc_chain_id(self._rpc_url) if self._rpc_url else None
            if found is not None:
                if found != self.chain_id:
                    raise DevNodeError(f"expected chain id {self.chain_id}, found {found}")
                return
            time.sleep(0.05)
        raise DevNodeError(f"expected anvil to answer within {self._startup_timeout}s, it did not")

    def _listening_url(self) -> str | None:
        """The URL from anvil's ``Listening on 127.0.0.1:PORT`` line, once it is printed."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return None
        match = _LISTENING.search(text)
        return f"http://{_LOOPBACK}:{match.group(1)}" if match else None

    def _log_tail(self, limit: int = 400) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return quote(text[-limit:], limit + 10)

    def stop(self, *, timeout: float = 15.0) -> None:
        """Stop anvil with SIGTERM (it dumps its state), SIGKILL only after ``timeout``."""
        killed = self._terminate(timeout=timeout)
        if killed:
            raise DevNodeError(
                f"expected anvil to exit within {timeout}s of SIGTERM, had to kill it "
                "(state since the last periodic dump may be lost)"
            )

    def _terminate(self, *, timeout: float) -> bool:
        process, self._process = self._process, None
        killed = False
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                killed = True
        if self._log is not None:
            self._log.close()
            self._log = None
        self._rpc_url = None
        return killed

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _rpc_chain_id(url: str) -> int | None:
    """``eth_chainId`` of the node at ``url``, or None while it does not answer yet."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    with (
        contextlib.suppress(OSError, ValueError, urllib.error.URLError),
        opener.open(request, timeout=1.0) as response,
    ):
        result = json.loads(response.read()).get("result")
        return int(result, 16) if isinstance(result, str) else None
    return None


@dataclass(frozen=True, slots=True)
class ChainUp:
    """A started dev chain with HexavatarNFT deployed; ``node`` must be stopped by the caller."""

    node: DevNode
    rpc_url: str
    chain_id: int
    contract: str
    multicall3: str

    def as_dict(self) -> dict[str, object]:
        """``{rpc_url, chain_id, contract}`` as ``hexavatar chain up --json`` prints it."""
        return {"rpc_url": self.rpc_url, "chain_id": self.chain_id, "contract": self.contract}


def chain_up(
    *,
    data_dir: Path,
    port: int | None = None,
    deployer_key: str = DEV_PRIVATE_KEYS[0],
    name: str = "Hexavatar",
    symbol: str = "HXA",
    anvil_bin: Path | None = None,
) -> ChainUp:
    """Start the dev chain in ``data_dir``, install Multicall3, deploy HexavatarNFT once.

    The deployer (anvil's first dev account by default) is the contract's admin and minter.
    """
    node = DevNode(data_dir=data_dir, port=port, anvil_bin=anvil_bin).start()
    try:
        w3 = connect(node.rpc_url)
        multicall = install_multicall3(w3)
        contract = ensure_deployed(
            w3, account=Signer.from_key(deployer_key), data_dir=data_dir, name=name, symbol=symbol
        )
    except BaseException:
        node.stop()
        raise
    return ChainUp(
        node=node,
        rpc_url=node.rpc_url,
        chain_id=node.chain_id,
        contract=contract,
        multicall3=multicall,
    )
