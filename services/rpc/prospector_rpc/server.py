"""One way to run a gRPC server in every Prospector service.

    server = serve_grpc([TrainerServicer(lambda: status)], port=50051)
    ...
    server.stop(grace=5).wait()

``serve_grpc`` adds the given servicers, the standard health service
(grpc.health.v1.Health: SERVING for "" and for each service added) and server
reflection, caps message sizes in both directions (an oversized message is
refused with RESOURCE_EXHAUSTED), binds the port exclusively (no
SO_REUSEPORT, so a port already taken is an error rather than a silently
shared socket) and starts the server. ``stop`` first turns every health
status to NOT_SERVING, so load balancers and Watch clients drain, then stops
the server with the given grace.

``serve_grpc_aio`` does the same for asyncio servicers (``async def``
methods) on a grpc.aio server in the running event loop: the API serves its
PlayService that way, on the loop uvicorn runs, so a call costs no thread hop.

A servicer may register itself: one with a ``registration()`` method is added
by the (add_fn, servicer, full_service_name) it returns. ``decoding_registration``
builds one for an asyncio servicer whose requests are decoded by the servicer's
side rather than by grpc: bytes that are not the method's message are answered
INVALID_ARGUMENT with one log line (grpc's own decoding answers UNKNOWN and logs
a traceback for each).

The thread-pool server of ``serve_grpc`` decodes every request itself too, for every
service it serves (prospector.proto's, health, reflection): a server interceptor takes
each method's deserializer out of grpc's hands (``DecodeRequests``), so undecodable bytes
are INVALID_ARGUMENT with one log line there as well, where grpc answers INTERNAL
("Exception deserializing request!") and logs a traceback.

``reuse_port=True`` (either function) sets SO_REUSEPORT instead: several
processes then share the port and the kernel spreads connections among them.
Only for the worker processes of one service whose parent has checked the
port is free (``prospector api --workers N``), never as a default.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from google.protobuf.message import DecodeError
from grpc_reflection.v1alpha import reflection

from .pb import pb2, pb2_grpc

log = logging.getLogger("prospector.rpc")

#: Largest message a server accepts or sends unless told otherwise. Requests of
#: these services are tiny; the largest reply (a render state) is tens of kB.
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024

#: One servicer registration spelled out: (add_XServicer_to_server, servicer,
#: full service name), for servicers of services outside prospector.proto.
Registration = tuple[Callable[[Any, grpc.Server], None], Any, str]


def _registrations(servicer: Any) -> list[Registration]:
    """How to add servicer: explicit tuple, or found from its generated base class."""
    if not isinstance(servicer, tuple) and callable(getattr(servicer, "registration", None)):
        servicer = servicer.registration()
    if isinstance(servicer, tuple):
        if len(servicer) != 3 or not callable(servicer[0]) or not isinstance(servicer[2], str):
            raise TypeError("a servicer tuple must be (add_fn, servicer, full_service_name)")
        return [servicer]
    found = []
    for service in pb2.DESCRIPTOR.services_by_name.values():
        base = getattr(pb2_grpc, f"{service.name}Servicer")
        if isinstance(servicer, base):
            found.append((getattr(pb2_grpc, f"add_{service.name}Servicer_to_server"), servicer, service.full_name))
    if not found:
        names = ", ".join(f"{s}Servicer" for s in pb2.DESCRIPTOR.services_by_name)
        raise TypeError(
            f"{type(servicer).__name__} is not a servicer of prospector.proto (subclass one of {names}) "
            "nor an (add_fn, servicer, full_service_name) tuple"
        )
    return found


class UndecodableRequest(ValueError):
    """Request bytes that are not the method's message (raised by a decoded request stream)."""


def _decode(message_class: Any, raw: bytes, method: str, context: Any) -> Any:
    return _decode_with(message_class.FromString, message_class.DESCRIPTOR.full_name, raw, method, context)


def _decode_with(deserialize: Callable[[bytes], Any], name: str, raw: bytes, method: str, context: Any) -> Any:
    """deserialize(raw), or UndecodableRequest after one warning line naming the method and peer."""
    try:
        return deserialize(raw)
    except Exception as exc:  # noqa: BLE001 - DecodeError, or whatever a foreign deserializer raises
        log.warning("%s from %s: %d bytes that are not a %s (%s); answered INVALID_ARGUMENT",
                    method, context.peer(), len(raw), name, exc or type(exc).__name__)
        raise UndecodableRequest(f"the request is not a valid {name}: {exc or type(exc).__name__}") from None


def _message_name(deserialize: Callable[[bytes], Any]) -> str:
    """The message a deserializer reads (Message.FromString is bound to its class), for messages."""
    owner = getattr(deserialize, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    return getattr(descriptor, "full_name", None) or "request message"


class DecodeRequests(grpc.ServerInterceptor):
    """For a thread-pool grpc.Server: every method's requests reach it as bytes and are decoded
    by the wrapper this installs, so bytes that are not the method's message are answered
    INVALID_ARGUMENT with one log line (grpc's own decoding answers INTERNAL with a traceback).
    In a request stream the bad message ends the call the same way. on_undecodable(method
    path) is called for each such request (metrics)."""

    def __init__(self, on_undecodable: Callable[[str], None] | None = None) -> None:
        self._noted = on_undecodable or (lambda _method: None)
        self._wrapped: dict[str, tuple[Any, Any]] = {}  # method path -> (grpc's handler, ours)
        self._lock = threading.Lock()

    def intercept_service(self, continuation: Callable, handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler  # unknown method (grpc answers UNIMPLEMENTED), or it takes bytes already
        method = handler_call_details.method
        held = self._wrapped.get(method)
        if held is not None and held[0] is handler:
            return held[1]
        wrapped = self._wrap(handler, method)
        with self._lock:
            self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: Any, method: str) -> Any:
        deserialize, name = handler.request_deserializer, _message_name(handler.request_deserializer)
        short = method.rsplit("/", 1)[-1]
        noted = self._noted

        def decoded(raw: bytes, context: Any) -> Any:
            try:
                return _decode_with(deserialize, name, raw, short, context)
            except UndecodableRequest as exc:
                noted(method)
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

        def decoded_stream(raw_iterator: Any, context: Any) -> Any:
            for raw in raw_iterator:
                yield decoded(raw, context)

        serializer = handler.response_serializer
        if handler.request_streaming and handler.response_streaming:
            behavior = handler.stream_stream
            return grpc.stream_stream_rpc_method_handler(
                lambda it, context: behavior(decoded_stream(it, context), context), None, serializer)
        if handler.request_streaming:
            behavior = handler.stream_unary
            return grpc.stream_unary_rpc_method_handler(
                lambda it, context: behavior(decoded_stream(it, context), context), None, serializer)
        if handler.response_streaming:
            behavior = handler.unary_stream
            return grpc.unary_stream_rpc_method_handler(
                lambda raw, context: behavior(decoded(raw, context), context), None, serializer)
        behavior = handler.unary_unary
        return grpc.unary_unary_rpc_method_handler(
            lambda raw, context: behavior(decoded(raw, context), context), None, serializer)


def decoding_registration(servicer: Any, service_name: str,
                          on_undecodable: Callable[[str], None] | None = None) -> Registration:
    """(add_fn, servicer, full service name) for an asyncio servicer of service_name (short or
    full name) whose requests reach grpc as bytes and are decoded here (see the module doc).

    A unary request that does not decode is answered INVALID_ARGUMENT before the servicer
    runs; in a request stream the iterator raises UndecodableRequest (a ValueError) where the
    message would be, for the servicer to answer (INVALID_ARGUMENT if it lets it through).
    on_undecodable(method name) is called for each such request (metrics)."""
    service = pb2.DESCRIPTOR.services_by_name[service_name.rsplit(".", 1)[-1]]
    noted = on_undecodable or (lambda _method: None)

    def unary(behavior: Callable, message_class: Any, name: str, streams_out: bool) -> Callable:
        async def decoded(raw: bytes, context: Any) -> Any:
            try:
                return _decode(message_class, raw, name, context)
            except UndecodableRequest as exc:
                noted(name)
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

        if streams_out:
            async def unary_stream(raw: bytes, context: Any) -> AsyncIterator[Any]:
                async for response in behavior(await decoded(raw, context), context):
                    yield response
            return unary_stream

        async def unary_unary(raw: bytes, context: Any) -> Any:
            return await behavior(await decoded(raw, context), context)
        return unary_unary

    def streaming(behavior: Callable, message_class: Any, name: str, streams_out: bool) -> Callable:
        async def requests(raw_iterator: AsyncIterator[bytes], context: Any) -> AsyncIterator[Any]:
            async for raw in raw_iterator:
                yield _decode(message_class, raw, name, context)

        async def refuse(exc: UndecodableRequest, context: Any) -> None:
            noted(name)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

        if streams_out:
            async def stream_stream(raw_iterator: AsyncIterator[bytes], context: Any) -> AsyncIterator[Any]:
                try:
                    async for response in behavior(requests(raw_iterator, context), context):
                        yield response
                except UndecodableRequest as exc:
                    await refuse(exc, context)
            return stream_stream

        async def stream_unary(raw_iterator: AsyncIterator[bytes], context: Any) -> Any:
            try:
                return await behavior(requests(raw_iterator, context), context)
            except UndecodableRequest as exc:
                await refuse(exc, context)
        return stream_unary

    def add(servicer: Any, server: Any) -> None:
        handlers = {}
        for method in service.methods:
            message_class = getattr(pb2, method.input_type.name)
            serializer = getattr(pb2, method.output_type.name).SerializeToString
            behavior = getattr(servicer, method.name)
            kind = (method.client_streaming, method.server_streaming)
            wrap = streaming if method.client_streaming else unary
            handler = wrap(behavior, message_class, method.name, method.server_streaming)
            make = {(False, False): grpc.unary_unary_rpc_method_handler,
                    (False, True): grpc.unary_stream_rpc_method_handler,
                    (True, False): grpc.stream_unary_rpc_method_handler,
                    (True, True): grpc.stream_stream_rpc_method_handler}[kind]
            handlers[method.name] = make(handler, request_deserializer=None, response_serializer=serializer)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
        server.add_registered_method_handlers(service.full_name, handlers)

    return add, servicer, service.full_name


def _address(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    return f"{host}:{port}"


class GrpcServer(grpc.Server):
    """A started grpc.Server with its health service; see the module doc.

    ``port`` is the bound port (the real one when asked for port 0),
    ``service_names`` the services added (health and reflection not included).
    """

    def __init__(self, server: grpc.Server, health_servicer: health.HealthServicer, port: int,
                 service_names: Sequence[str], pool: futures.ThreadPoolExecutor | None = None):
        self._server = server
        self._pool = pool
        self.health = health_servicer
        self.port = port
        self.service_names = tuple(service_names)
        self._stop_lock = threading.Lock()
        self._stopped: threading.Event | None = None

    # ---- health ----------------------------------------------------------------------

    def set_serving(self, service: str, serving: bool) -> None:
        """Report service ("" for the whole server) as SERVING or NOT_SERVING."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        self.health.set(service, status)

    # ---- grpc.Server -----------------------------------------------------------------

    def start(self) -> None:
        self._server.start()

    def stop(self, grace: float | None = None) -> threading.Event:
        """Health to NOT_SERVING for every service, then stop (new RPCs are refused at
        once; RPCs in flight get ``grace`` seconds). Returns an Event set when the
        server has stopped; calling stop again returns the first call's Event."""
        with self._stop_lock:
            if self._stopped is None:
                self.health.enter_graceful_shutdown()
                self._stopped = self._server.stop(grace)
                if self._pool is not None:  # grpc does not own the pool: free its threads after
                    stopped, pool = self._stopped, self._pool
                    threading.Thread(target=lambda: (stopped.wait(), pool.shutdown(wait=False)),
                                     name="grpc-pool-shutdown", daemon=True).start()
            return self._stopped

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return self._server.wait_for_termination(timeout)

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Iterable[Any]) -> None:
        self._server.add_generic_rpc_handlers(generic_rpc_handlers)

    def add_registered_method_handlers(self, service_name: str, method_handlers: Any) -> None:
        self._server.add_registered_method_handlers(service_name, method_handlers)

    def add_insecure_port(self, address: str) -> int:
        return self._server.add_insecure_port(address)

    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int:
        return self._server.add_secure_port(address, server_credentials)

    def __enter__(self) -> GrpcServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(grace=1.0).wait()


def _server_options(max_receive_message_bytes: int, max_send_message_bytes: int, reuse_port: bool,
                    options: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", int(max_receive_message_bytes)),
        ("grpc.max_send_message_length", int(max_send_message_bytes)),
        ("grpc.so_reuseport", 1 if reuse_port else 0),
        *options,
    ]


def _add_services(server: Any, servicers: Sequence[Any], health_servicer: Any) -> list[str]:
    """Servicers, health and reflection on server (sync or aio); returns the services' names."""
    registrations = [r for s in servicers for r in _registrations(s)]
    names = [name for _, _, name in registrations]
    if len(set(names)) != len(names):
        raise ValueError(f"a service was given twice: {names}")
    for add, servicer, _ in registrations:
        add(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    return names


def _bind(server: Any, host: str, port: int) -> int:
    """Bind host:port on server; RuntimeError when it cannot (the caller stops the server)."""
    address = _address(host, port)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise RuntimeError(f"gRPC server cannot bind {address}: {exc}") from exc
    if not bound:  # older grpcio returns 0 instead of raising
        raise RuntimeError(f"gRPC server cannot bind {address}")
    return bound


def serve_grpc(
    servicers: Sequence[Any],
    port: int,
    host: str = "127.0.0.1",
    *,
    max_workers: int = 32,
    max_receive_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_send_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    maximum_concurrent_rpcs: int | None = None,
    reuse_port: bool = False,
    options: Sequence[tuple[str, Any]] = (),
    on_undecodable: Callable[[str], None] | None = None,
) -> GrpcServer:
    """Start a gRPC server on host:port with servicers, health and reflection.

    servicers: instances of the generated ``*Servicer`` classes of
    prospector.proto (found by their base class), or explicit
    ``(add_fn, servicer, full_service_name)`` tuples. port 0 picks a free port
    (read it from ``server.port``). max_workers bounds the RPCs handled at once;
    each open bidirectional stream holds one worker. reuse_port: see the module
    doc. Requests are decoded by DecodeRequests: bytes that are not the method's message are
    INVALID_ARGUMENT with one log line, and on_undecodable(method path) is called (metrics).
    Raises RuntimeError when the address cannot be bound.
    """
    pool = futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc")
    server = grpc.server(pool, options=_server_options(max_receive_message_bytes, max_send_message_bytes,
                                                       reuse_port, options),
                         interceptors=(DecodeRequests(on_undecodable),),
                         maximum_concurrent_rpcs=maximum_concurrent_rpcs)
    health_servicer = health.HealthServicer()
    try:
        names = _add_services(server, servicers, health_servicer)
        for name in ("", *names):
            health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        bound = _bind(server, host, port)
    except BaseException:
        server.stop(None)
        pool.shutdown(wait=False)
        raise
    wrapped = GrpcServer(server, health_servicer, bound, names, pool)
    wrapped.start()
    return wrapped


class AioGrpcServer:
    """A started grpc.aio server with its health service (see serve_grpc_aio); use it from its loop.

    ``port`` is the bound port, ``service_names`` the services added,
    ``server`` the grpc.aio.Server itself.
    """

    def __init__(self, server: grpc.aio.Server, health_servicer: health_aio.HealthServicer, port: int,
                 service_names: Sequence[str]):
        self.server = server
        self.health = health_servicer
        self.port = port
        self.service_names = tuple(service_names)

    async def set_serving(self, service: str, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        await self.health.set(service, status)

    async def stop(self, grace: float | None = None) -> None:
        """Health to NOT_SERVING, then stop: new RPCs refused at once, those in flight get ``grace``."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        return await self.server.wait_for_termination(timeout)


async def serve_grpc_aio(
    servicers: Sequence[Any],
    port: int,
    host: str = "127.0.0.1",
    *,
    max_receive_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_send_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    maximum_concurrent_rpcs: int | None = None,
    reuse_port: bool = False,
    options: Sequence[tuple[str, Any]] = (),
) -> AioGrpcServer:
    """serve_grpc for asyncio servicers: a started grpc.aio server in the running event loop."""
    server = grpc.aio.server(options=_server_options(max_receive_message_bytes, max_send_message_bytes,
                                                     reuse_port, options),
                             maximum_concurrent_rpcs=maximum_concurrent_rpcs)
    health_servicer = health_aio.HealthServicer()
    try:
        names = _add_services(server, servicers, health_servicer)
        for name in ("", *names):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        bound = _bind(server, host, port)
    except BaseException:
        await server.stop(None)
        raise
    await server.start()
    return AioGrpcServer(server, health_servicer, bound, names)
