"""Switchboard wire protocol v1 for Python: a caller and a worker over NATS (nats-py), msgpack bodies, JSON Schema checks."""

from .caller import Client, call, new_id, request
from .codec import MalformedBody, decode_body, encode_body
from .contract import Contract, ErrorSpec, MethodSpec, Schema
from .envelope import Envelope, decode_envelope, encode_error, encode_ok
from .errors import NOTHING, OK, SYSTEM_CODES, RpcError
from .worker import CallContext, Worker, serve

__all__ = [
    "CallContext", "Client", "Contract", "Envelope", "ErrorSpec", "MalformedBody", "MethodSpec", "NOTHING", "OK",
    "RpcError", "SYSTEM_CODES", "Schema", "Worker", "call", "decode_body", "decode_envelope", "encode_body",
    "encode_error", "encode_ok", "new_id", "request", "serve",
]
__version__ = "0.1.0"
