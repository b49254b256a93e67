"""The collector's side of the network: validator nodes as one concurrent vote source.

:class:`NetworkSource` is a vote source with ``gather`` (``consensus.cluster``): every
item (validator, nonce, descriptor, proof, deadline) is sent to its validator's node at
once, over one pooled mutual-TLS connection set, and each answer comes back as a
``consensus.cluster.Delivered`` — the messages as they arrived with their times, and the
fault kind the link showed. The collector state machine then treats them as it treats
in-process cores:

================================  =========  ========================================
what the node did                  fault      what the collector sees
================================  =========  ========================================
answered                           —          one vote
not listening (down, killed)       silent     nothing (``missed``)
answered 503 busy / timeout        silent     nothing (``missed``)
dropped the connection mid-answer  silent     nothing whole (``missed``)
no answer by the deadline          late       nothing before the deadline (``missed``)
(slow, stopped)
an answer that is not a vote       corrupt    the payload, refused ``malformed``
a vote with a bad attestation      —          refused ``invalid_attestation``
two different votes                equivocate evidence, the validator excluded
================================  =========  ========================================

The loop runs in a thread of its own, so synchronous code (``consensus.cluster
.run_requests``) can call :meth:`gather` from any thread while connections stay pooled.
"""

import asyncio
import json
import threading

import aiohttp

from consensus.cluster import Delivered
from consensus.votes import Vote

from .protocol import HEALTH, LINE_TYPE, VALIDATE, request_body
from .tls import TlsFiles, client_context

__all__ = ["NetworkSource", "parse_address", "DEFAULT_PER_NODE"]

#: Requests in flight to one node at a time (the rest wait their turn at the collector,
#: their deadline running): at most the node's ``max_inflight``, so it never answers busy
#: to a collector alone.
DEFAULT_PER_NODE = 4
#: The longest answer line kept from a node (a vote line is about 400 bytes), and the most
#: messages read from one answer (a correct node sends one; two make equivocation).
MAX_LINE = 4096
MAX_MESSAGES = 4


def parse_address(text, *, allow_any_port=False) -> tuple:
    """``"host:port"`` (``"[::1]:port"`` for IPv6) → ``(host, port)``; ``ValueError``
    naming what is wrong. ``allow_any_port``: port 0 (a listener's "any free port")."""
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"address {text!r}: expected HOST:PORT")
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError(f"address {text!r}: no host")
    low = 0 if allow_any_port else 1
    if not port.isdigit() or not low <= int(port) < 65536:
        raise ValueError(f"address {text!r}: port must be {low}..65535")
    return host, int(port)


def _url(host, port, path):
    h = f"[{host}]" if ":" in host else host
    return f"https://{h}:{port}{path}"


def _message(line: bytes):
    """A received line as a :class:`Vote`, or the raw line when it is not one."""
    try:
        obj = json.loads(line)
        vote = Vote.from_json(obj["vote"])
        return vote, obj.get("status"), obj.get("cycles")
    except (ValueError, KeyError, TypeError):
        return line, None, None


class NetworkSource:
    """Validator nodes at ``addresses`` (validator name → ``"host:port"``), reached with
    the collector's TLS files ``tls``.

    Use as a context manager (or :meth:`start` / :meth:`close`).
    """
    name = "network"

    def __init__(self, addresses: dict, tls: TlsFiles, *, per_node=DEFAULT_PER_NODE):
        self._addresses = {name: parse_address(a) for name, a in addresses.items()}
        self._ssl = client_context(tls)
        self._per_node = per_node
        self._loop = None
        self._thread = None
        self._session = None
        self._slots = {}

    # -- lifetime --------------------------------------------------------------------------

    def start(self):
        if self._loop is not None:
            return self
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self._loop)
            ready.set()
            self._loop.run_forever()
        self._thread = threading.Thread(target=run, name="pqvote-network", daemon=True)
        self._thread.start()
        ready.wait()
        self._call(self._open())
        return self

    async def _open(self):
        connector = aiohttp.TCPConnector(ssl=self._ssl, limit=0, limit_per_host=0)
        self._session = aiohttp.ClientSession(connector=connector)
        self._slots = {name: asyncio.Semaphore(self._per_node) for name in self._addresses}

    def close(self):
        if self._loop is None:
            return
        self._call(self._session.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    # -- the vote-source protocol ----------------------------------------------------------

    def gather(self, items) -> list:
        """``items``: ``(validator, nonce, descriptor, proof, deadline)``; one
        ``Delivered`` each, all asked at once, each within its deadline (seconds from now)."""
        if self._loop is None:
            raise RuntimeError("NetworkSource is not started")
        return self._call(self.gather_async(items))

    async def gather_async(self, items) -> list:
        t0 = asyncio.get_running_loop().time()
        return await asyncio.gather(*(self.ask(v.name, n, d, p, deadline, t0=t0)
                                      for v, n, d, p, deadline in items))

    async def ask(self, name, nonce, descriptor, proof, deadline, *, t0=None) -> Delivered:
        """One request to validator ``name``'s node (in this source's loop)."""
        loop = asyncio.get_running_loop()
        t0 = loop.time() if t0 is None else t0
        if name not in self._addresses:
            return Delivered(fault="silent", link="no address")
        host, port = self._addresses[name]
        messages, got = [], {"status": None, "cycles": None, "link": None}

        async def exchange():
            async with self._slots[name]:
                async with self._session.post(
                        _url(host, port, VALIDATE), data=request_body(nonce, descriptor, proof),
                        server_hostname=name,
                        headers={"Content-Type": "application/json"}) as resp:
                    if resp.status != 200:
                        try:
                            why = (await resp.json()).get("error", "")
                        except (ValueError, aiohttp.ClientError, AttributeError):
                            why = ""
                        got["link"] = "busy" if resp.status == 503 and why == "busy" else \
                            "timeout" if resp.status == 503 else f"http {resp.status}"
                    elif resp.content_type != LINE_TYPE:
                        messages.append((loop.time() - t0, await resp.read()))
                    else:
                        while len(messages) < MAX_MESSAGES:
                            try:
                                line = await resp.content.readline()
                            except ValueError:          # a line past aiohttp's limit
                                messages.append((loop.time() - t0, b"line too long"))
                                return
                            if not line:
                                return
                            if not line.endswith(b"\n"):
                                got["link"] = "dropped"
                                return
                            msg, st, cy = _message(line[:MAX_LINE])
                            if isinstance(msg, Vote) and got["status"] is None:
                                got["status"], got["cycles"] = st, cy
                            messages.append((loop.time() - t0, msg))

        try:
            await asyncio.wait_for(exchange(), deadline - (loop.time() - t0))
        except asyncio.TimeoutError:
            got["link"] = got["link"] or "timeout"
        except aiohttp.ClientConnectorCertificateError as e:
            got["link"] = f"tls: {e.certificate_error}"
        except aiohttp.ClientConnectorError:
            got["link"] = "down"
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError,
                aiohttp.ClientOSError):
            got["link"] = "dropped"
        except aiohttp.ClientError as e:
            got["link"] = f"error: {type(e).__name__}"
        link, status, cycles = got["link"], got["status"], got["cycles"]
        return Delivered(messages=tuple(messages), fault=_fault(messages, link), link=link,
                         status=status, cycles=cycles)

    # -- health ----------------------------------------------------------------------------

    def health(self, timeout=2.0) -> dict:
        """``/health`` of every node: validator name → its answer, or ``{"error": …}``."""
        async def one(name):
            host, port = self._addresses[name]
            async def get():
                async with self._session.get(_url(host, port, HEALTH),
                                             server_hostname=name) as resp:
                    return await resp.json()
            try:
                return await asyncio.wait_for(get(), timeout)
            except (asyncio.TimeoutError, aiohttp.ClientError, ValueError) as e:
                return {"error": f"{type(e).__name__}: {e}"}

        async def every():
            names = sorted(self._addresses)
            return dict(zip(names, await asyncio.gather(*(one(n) for n in names))))
        return self._call(every())


def _fault(messages, link):
    votes = [m for _, m in messages if isinstance(m, Vote)]
    if any(not isinstance(m, Vote) for _, m in messages):
        return "corrupt"
    if len(set(votes)) > 1:
        return "equivocate"
    if votes:
        return None
    return "late" if link == "timeout" else "silent"
