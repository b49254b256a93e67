"""``pqvote node``: one validator as a network service (aiohttp over mutual TLS).

The node holds only its own validator's algorithm key and attestation key (and its TLS
certificate); it answers :data:`network.protocol.VALIDATE` requests with attested votes
from a vote source of ``consensus.sources`` (``software``, ``golden`` or ``rtl``).
Validations run in a thread pool, in ``processes`` worker processes (the reference
implementations hold the GIL: only processes give one node several cores), or, for a source
that answers a batch at once (the RTL source: one simulation), in batches of whatever
arrived while the previous batch ran.

Limits, all answered at once with a one-line JSON error:

* request body at most :data:`network.protocol.MAX_BODY` bytes (``413``);
* at most ``max_inflight`` validations at a time: one more is answered ``503 busy`` instead
  of waiting in a queue (the collector's deadline is the only queue that matters);
* a request that is not read and answered within ``timeout`` seconds is answered
  ``503 timeout``.

Every request writes one JSON line to the log (time, peer, method, path, status,
milliseconds, nonce, vote). The first line of the log is ``{"event": "listening", …}``
with the bound address; a batching source adds ``{"event": "batch", "size", "ms"}``.

Fault drills (``misbehave``): a node can be told to misbehave the way a faulty core does,
so the collector's handling can be tested against real processes: ``byzantine``,
``corrupt`` (bad attestation) and ``equivocate`` (two different votes) as
``consensus.sources.inject`` makes them; ``garbage`` (an answer that is not a vote),
``drop`` (half an answer, then the connection is cut), ``split`` (its honest vote to the
first collector that asks for a nonce, the opposite, validly attested, to every later
one). A stopped (``SIGSTOP``) or killed process needs no option.
"""

import asyncio
import concurrent.futures
import contextlib
import datetime
import json
import multiprocessing
import signal
import socket
import sys
import threading
import time

from aiohttp import web

from consensus.sources import RtlSource, SoftwareSource, inject, software_attestation
from consensus.votes import Vote
from golden.proof import Status, check_key

from .protocol import (DEFAULT_INFLIGHT, DEFAULT_TIMEOUT, HEALTH, LINE_TYPE, MAX_BODY,
                       MISBEHAVIOURS, VALIDATE, RequestError, parse_request)
from .tls import key_exchange, peer_name

__all__ = ["Node", "MISBEHAVIOURS", "serve"]

#: The fields a request adds to its log line (nonce, vote, error).
_LOG = web.RequestKey("pqvote_log", dict)



class _KeyChecked:
    """A vote source for one fixed key: the key is checked once, when the node starts (as a
    core checks it when it is loaded), not on every request."""

    def __init__(self, source, vendor, key, *, key_ok=None):
        self._source, self._vendor, self._key = source, vendor, key
        self.key_ok = key is not None and check_key(vendor, key) if key_ok is None \
            else key_ok
        if self.key_ok and hasattr(source, "prepare"):
            source.prepare(vendor, key)     # per-key tables once, before the first request
        # One simulation at a time: the RTL source drives one Verilator model.
        self._serial = threading.Lock() if isinstance(source, RtlSource) else None

    def validate(self, k_att, descriptor, nonce, proof):
        if isinstance(self._source, SoftwareSource):
            return self._source.validate(self._vendor, self._key, k_att, descriptor, nonce,
                                         proof, key_ok=self.key_ok)
        if self._serial is not None:
            with self._serial:
                return self._source.validate(self._vendor, self._key, k_att, descriptor,
                                             nonce, proof)
        return self._source.validate(self._vendor, self._key, k_att, descriptor, nonce, proof)

    @property
    def batches(self) -> bool:
        """The source answers a batch at once (the RTL source: one simulation)."""
        return hasattr(self._source, "validate_batch")

    def validate_batch(self, items):
        """``items``: ``(k_att, descriptor, nonce, proof)`` each; one result each."""
        calls = [(self._vendor, self._key, *item) for item in items]
        with self._serial or contextlib.nullcontext():
            return self._source.validate_batch(calls)


_WORKER = None      # the _KeyChecked core of a validation worker process


def _worker_init(backend, vendor, key, key_ok):
    from consensus.sources import make_sources
    global _WORKER
    _WORKER = _KeyChecked(make_sources(backend)[vendor], vendor, key, key_ok=key_ok)


def _worker_validate(k_att, descriptor, nonce, proof):
    return _WORKER.validate(k_att, descriptor, nonce, proof)


class Node:
    """One validator as an aiohttp application.

    Parameters
    ----------
    name, vendor : str
        The validator (its entry in ``cluster.json``).
    key, k_att : bytes
        Its algorithm key and attestation key.
    source
        A vote source (``consensus.sources``).
    max_inflight : int
        Validations at a time; one more is answered ``503 busy``.
    timeout : float
        Seconds to read and answer one request.
    misbehave : str, optional
        A fault drill of :data:`MISBEHAVIOURS`.
    processes : int
        0: validations run in threads of this process; ``N``: in ``N`` worker processes
        (the reference implementations hold the GIL while they compute, so only processes
        let one node use several cores). ``max_inflight`` still bounds them.
    log : text stream
        Where the JSON log lines go.
    """

    def __init__(self, *, name, vendor, key, k_att, source, backend="software",
                 max_inflight=DEFAULT_INFLIGHT, timeout=DEFAULT_TIMEOUT, misbehave=None,
                 processes=0, log=None):
        if not isinstance(max_inflight, int) or max_inflight < 1:
            raise ValueError(f"max_inflight must be a positive integer, not {max_inflight!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        if misbehave is not None and misbehave not in MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {misbehave!r}; expected one of "
                             f"{', '.join(MISBEHAVIOURS)}")
        self.name, self.vendor, self.backend = name, vendor, backend
        self._k_att = k_att
        self._core = _KeyChecked(source, vendor, key)
        self._max, self._timeout, self._misbehave = max_inflight, timeout, misbehave
        self._inflight = 0
        self._asked = set()         # nonces already answered (the ``split`` drill)
        self._pending, self._draining = [], False
        self.batch_sizes = []       # requests per validate_batch call (batching sources)
        if not isinstance(processes, int) or processes < 0:
            raise ValueError(f"processes must be a non-negative integer, not {processes!r}")
        if processes and backend not in ("software", "golden"):
            raise ValueError(f"worker processes serve the software and golden backends, "
                             f"not {backend!r}")
        self._processes = processes
        if processes:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(backend, vendor, key, self._core.key_ok))
            self._run = _worker_validate
        else:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=max_inflight, thread_name_prefix=f"node-{name}")
            self._run = self._core.validate
        self._log = log or sys.stdout

    # -- logging ---------------------------------------------------------------------------

    def log(self, **fields):
        fields = {"ts": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="milliseconds"), "node": self.name, **fields}
        self._log.write(json.dumps(fields) + "\n")
        self._log.flush()

    @web.middleware
    async def _access(self, request, handler):
        t0 = time.perf_counter()
        request[_LOG] = {}
        try:
            response = await handler(request)
            status = response.status
        except web.HTTPException as e:
            response, status = e, e.status
            raise
        except (asyncio.CancelledError, ConnectionError):
            status = 499            # the client went away
            raise
        finally:
            self.log(peer=peer_name(request.transport), method=request.method,
                     path=request.path, status=status,
                     ms=round((time.perf_counter() - t0) * 1e3, 3), **request[_LOG])
        return response

    # -- handlers --------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._access])
        app.router.add_post(VALIDATE, self._validate)
        app.router.add_get(HEALTH, self._health)
        return app

    async def _health(self, request):
        key = "none" if self._core._key is None else ("ok" if self._core.key_ok else "bad_key")
        return web.json_response({"status": "ok", "validator": self.name, "vendor": self.vendor,
                                  "backend": self.backend, "key": key,
                                  "inflight": self._inflight, "max_inflight": self._max,
                                  "tls": key_exchange()})

    @staticmethod
    def _error(status, message):
        return web.json_response({"error": message}, status=status)

    async def _validate(self, request):
        if self._inflight >= self._max:
            request[_LOG]["error"] = "busy"
            return self._error(503, "busy")
        if request.content_length is not None and request.content_length > MAX_BODY:
            request[_LOG]["error"] = "too large"
            return self._error(413, f"body larger than {MAX_BODY} bytes")
        self._inflight += 1
        released = False
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._timeout
            try:
                body = await asyncio.wait_for(request.read(), self._timeout)
            except asyncio.TimeoutError:
                request[_LOG]["error"] = "timeout"
                return self._error(503, "timeout reading the request")
            except web.HTTPRequestEntityTooLarge:
                request[_LOG]["error"] = "too large"
                return self._error(413, f"body larger than {MAX_BODY} bytes")
            try:
                nonce, descriptor, proof = parse_request(body)
            except RequestError as e:
                request[_LOG]["error"] = str(e)
                return self._error(400, f"bad request: {e}")
            request[_LOG]["nonce"] = nonce
            if self._processes == 0 and self._core.batches:
                future = self._batched(loop, (self._k_att, descriptor, nonce, proof))
            else:
                future = loop.run_in_executor(self._pool, self._run, self._k_att,
                                              descriptor, nonce, proof)
            # The slot stays taken until the validation itself ends, even when the answer
            # has timed out: a busy core is busy.
            released = True
            future.add_done_callback(lambda _: self._release())
            try:
                r = await asyncio.wait_for(asyncio.shield(future),
                                           max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                request[_LOG]["error"] = "timeout"
                return self._error(503, "timeout validating the request")
            vote = Vote(self.name, nonce, descriptor, bool(r.vote), bytes(r.digest),
                        bytes(r.attestation))
            request[_LOG]["vote"] = vote.vote
            return await self._answer(request, vote, Status(int(r.status)).label, r.cycles)
        finally:
            if not released:
                self._release()

    def _release(self):
        self._inflight -= 1

    # -- batching (sources with validate_batch: the RTL source runs a batch in one
    # simulation, so requests that arrive while one runs share the next) -----------------

    def _batched(self, loop, item):
        future = loop.create_future()
        self._pending.append((item, future))
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return future

    async def _drain(self):
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                self.batch_sizes.append(len(batch))
                t0 = time.perf_counter()
                try:
                    results = await loop.run_in_executor(
                        self._pool, self._core.validate_batch, [item for item, _ in batch])
                except Exception as e:      # every request of the batch answers the error
                    results = [e] * len(batch)
                self.log(event="batch", size=len(batch),
                         ms=round((time.perf_counter() - t0) * 1e3, 3))
                for (_, future), r in zip(batch, results):
                    if future.done():
                        continue
                    if isinstance(r, Exception):
                        future.set_exception(r)
                    else:
                        future.set_result(r)
        finally:
            self._draining = False

    async def _answer(self, request, vote, status, cycles):
        def line(v):
            return (json.dumps({"vote": v.to_json(), "status": status, "cycles": cycles})
                    + "\n").encode()

        kind = self._misbehave
        if kind in ("byzantine", "corrupt", "equivocate"):
            msgs = [m.vote for m in inject(kind, vote, k_att=self._k_att, vendor=self.vendor,
                                           attest=software_attestation)]
            return web.Response(body=b"".join(line(v) for v in msgs), content_type=LINE_TYPE)
        if kind == "split":
            first = vote.nonce not in self._asked
            self._asked.add(vote.nonce)
            if not first:
                [m] = inject("byzantine", vote, k_att=self._k_att, vendor=self.vendor,
                             attest=software_attestation)
                vote = m.vote
            request[_LOG]["vote"] = vote.vote
            return web.Response(body=line(vote), content_type=LINE_TYPE)
        if kind == "garbage":
            return web.Response(body=b'{"vote": "not a vote", "status": 7}\n\x00\xff\n',
                                content_type=LINE_TYPE)
        if kind == "drop":
            resp = web.StreamResponse(headers={"Content-Type": LINE_TYPE})
            await resp.prepare(request)
            data = line(vote)
            await resp.write(data[:len(data) // 2])
            request.transport.abort()          # cut the connection mid-answer
            request[_LOG]["error"] = "dropped"
            return resp
        return web.Response(body=line(vote), content_type=LINE_TYPE)

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)


async def serve(node: Node, *, host: str, port: int, ssl_context, ready=None):
    """Serve ``node`` on ``host:port`` (``port`` 0: any free port) until SIGTERM / SIGINT."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    runner = web.AppRunner(node.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=ssl_context, backlog=256)
    await site.start()
    bound = sock.getsockname()
    if node._processes:         # start the workers before the first request pays for it
        await asyncio.gather(*(asyncio.get_running_loop().run_in_executor(
            node._pool, _worker_validate, bytes(32), bytes(24), 0, b"")
            for _ in range(node._processes)))
    node.log(event="listening", host=bound[0], port=bound[1], vendor=node.vendor,
             backend=node.backend, max_inflight=node._max, timeout=node._timeout,
             processes=node._processes,
             misbehave=node._misbehave, key="ok" if node._core.key_ok else "not ok",
             tls=key_exchange())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready(bound)
    try:
        await stop.wait()
    finally:
        node.log(event="stopping")
        await runner.cleanup()
        node.close()
