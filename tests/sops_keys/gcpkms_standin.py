"""A STAND-IN for Google Cloud KMS, for tests only: not an emulator, not Google's service.

GCP KMS has no emulator, so this module serves the two RPCs sops uses,
`/google.cloud.kms.v1.KeyManagementService/Encrypt` and `/Decrypt`, over real gRPC on
127.0.0.1, with the request/response messages of the `google-cloud-kms` package (so the
wire format is Google's). What it models of the real service:

- keys are addressed by CryptoKey resource name
  (`projects/P/locations/L/keyRings/R/cryptoKeys/K`); an unknown key is NOT_FOUND, a
  malformed name INVALID_ARGUMENT;
- ciphertexts are opaque, authenticated (AES-256-GCM under the key's own material, with the
  key name and the request's additional_authenticated_data as AAD), and name the key
  version that made them (`EncryptResponse.name`);
- decrypting with another key, another AAD or a modified ciphertext is INVALID_ARGUMENT
  "Decryption failed", as the real service answers;
- with `token` set, every call needs the metadata `authorization: Bearer <token>`, else
  UNAUTHENTICATED (the real service also wants an OAuth token).

What it does not model: IAM, key rotation, CRC32C integrity fields, protection levels.

Two transports: `start(tls=None)` listens in plaintext (for a client built with an insecure
channel); `start(tls=StandInCA)` listens with TLS, which is what the real sops needs (its gRPC
client refuses to send an OAuth token over plaintext); point it at the CA with
SSL_CERT_FILE.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import secrets
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from google.cloud.kms_v1 import types

SERVICE = "google.cloud.kms.v1.KeyManagementService"
KEY_NAME = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
MAGIC = b"SKIT-STANDIN\x01"


@dataclass
class StandInCA:
    """A throwaway CA and a serving certificate for localhost / 127.0.0.1."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def create(cls) -> StandInCA:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secrets-kit test CA (gcpkms stand-in)")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        return cls(
            ca_pem=ca_cert.public_bytes(pem),
            cert_pem=cert.public_bytes(pem),
            key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        )

    def write_ca(self, path: Path) -> Path:
        path.write_bytes(self.ca_pem)
        return path


@dataclass
class KmsStandIn:
    """The key store and the two RPC handlers; `start()` serves them on 127.0.0.1."""

    token: str | None = None
    keys: dict[str, bytes] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, key name), for assertions
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create_key(self, project: str = "test-project", location: str = "global", ring: str = "sops",
                   name: str | None = None) -> str:
        resource = f"projects/{project}/locations/{location}/keyRings/{ring}/cryptoKeys/{name or secrets.token_hex(4)}"
        with self._lock:
            self.keys[resource] = AESGCM.generate_key(256)
        return resource

    # ------------------------------------------------------------------------- handlers

    def _authorise(self, context: grpc.ServicerContext) -> None:
        if self.token is None:
            return
        metadata = dict(context.invocation_metadata())
        if metadata.get("authorization") != f"Bearer {self.token}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "Request had invalid authentication credentials.")

    def _material(self, name: str, context: grpc.ServicerContext) -> bytes:
        if not KEY_NAME.match(name):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Resource name [{name}] does not match a CryptoKey.")
        with self._lock:
            material = self.keys.get(name)
        if material is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"CryptoKey {name} not found.")
        assert material is not None
        return material

    def encrypt(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._authorise(context)
        self.calls.append(("Encrypt", request.name))
        material = self._material(request.name, context)
        nonce = secrets.token_bytes(12)
        aad = request.name.encode() + b"\0" + bytes(request.additional_authenticated_data)
        sealed = AESGCM(material).encrypt(nonce, bytes(request.plaintext), aad)
        return types.EncryptResponse(name=f"{request.name}/cryptoKeyVersions/1",
                                     ciphertext=MAGIC + nonce + sealed)

    def decrypt(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._authorise(context)
        self.calls.append(("Decrypt", request.name))
        material = self._material(request.name, context)
        blob = bytes(request.ciphertext)
        failed = "Decryption failed: verify that 'name' refers to the correct CryptoKey."
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 12 + 16:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, failed)
        nonce, sealed = blob[len(MAGIC):len(MAGIC) + 12], blob[len(MAGIC) + 12:]
        aad = request.name.encode() + b"\0" + bytes(request.additional_authenticated_data)
        try:
            plaintext = AESGCM(material).decrypt(nonce, sealed, aad)
        except InvalidTag:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, failed)
        return types.DecryptResponse(plaintext=plaintext, used_primary=True)

    # ---------------------------------------------------------------------------- serve

    def _handler(self) -> grpc.GenericRpcHandler:
        def unary(fn: Callable[[Any, grpc.ServicerContext], Any], request_type: Any,
                  response_type: Any) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=request_type.deserialize, response_serializer=response_type.serialize)

        return grpc.method_handlers_generic_handler(SERVICE, {
            "Encrypt": unary(self.encrypt, types.EncryptRequest, types.EncryptResponse),
            "Decrypt": unary(self.decrypt, types.DecryptRequest, types.DecryptResponse),
        })

    def start(self, tls: StandInCA | None = None) -> RunningStandIn:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        server.add_generic_rpc_handlers((self._handler(),))
        if tls is None:
            port = server.add_insecure_port("127.0.0.1:0")
        else:
            creds = grpc.ssl_server_credentials([(tls.key_pem, tls.cert_pem)])
            port = server.add_secure_port("127.0.0.1:0", creds)
        if not port:
            raise RuntimeError("the GCP KMS stand-in could not bind a port on 127.0.0.1")
        server.start()
        return RunningStandIn(self, server, port)


@dataclass
class RunningStandIn:
    standin: KmsStandIn
    server: grpc.Server
    port: int

    @property
    def endpoint(self) -> str:
        """host:port as both google-cloud-kms (api_endpoint) and sops (SOPS_GCP_KMS_ENDPOINT) take it."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(grace=None)
