"""Private redis-servers beyond the plain one of tests/redisproc.py: TLS (with a throwaway CA
made with `cryptography`) and a three-master Redis Cluster, all on loopback."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.redisproc import RedisProcess, find_redis_server, free_port


@dataclass(frozen=True)
class Certs:
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA that did not
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(common_name))
            .issuer_name(_name(common_name)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_certs(directory: Path) -> Certs:
    """A CA, a server certificate for 127.0.0.1 / localhost signed by it, and another CA."""
    ca_cert, ca_key = _ca("queuecore test CA")
    other_cert, _ = _ca("queuecore other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1"))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    paths = Certs(directory / "ca.pem", directory / "other-ca.pem", directory / "server.pem",
                  directory / "server.key")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.other_ca.write_bytes(other_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, paths.key)
    return paths


class TLSRedisProcess(RedisProcess):
    """redis-server that listens on a TLS port only (client certificates not required)."""

    def __init__(self, certs: Certs) -> None:
        super().__init__({"tls-cert-file": str(certs.cert), "tls-key-file": str(certs.key),
                          "tls-ca-cert-file": str(certs.ca), "tls-auth-clients": "no"})
        self.certs = certs

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def admin(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, ssl=True,
                           ssl_ca_certs=str(self.certs.ca), decode_responses=True,
                           socket_timeout=2)

    def start(self) -> TLSRedisProcess:
        args = [find_redis_server(), "--port", "0", "--tls-port", str(self.port),
                "--bind", "127.0.0.1", "--dir", str(self.dir), "--daemonize", "no",
                "--save", "", "--appendonly", "no"]
        for key, value in self.config.items():
            if key not in ("save", "appendonly"):
                args += [f"--{key}", value]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            client = self.admin()
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"TLS redis-server did not start on {self.port}") from None
                time.sleep(0.05)
            finally:
                client.close()


class RedisCluster:
    """Three masters on loopback, slots spread by `redis-cli --cluster create`, with
    ``replicas`` replicas per master (``replicas`` lists them; roles change after a
    failover: ``masters()`` asks the cluster)."""

    def __init__(self, replicas: int = 0, node_timeout_ms: int = 5000) -> None:
        # The cluster bus port is given explicitly: the default (port + 10000) may be taken
        # or above 65535.
        def node() -> RedisProcess:
            return RedisProcess({"cluster-enabled": "yes", "cluster-config-file": "nodes.conf",
                                 "cluster-port": str(free_port()),
                                 "cluster-node-timeout": str(node_timeout_ms)})
        self.nodes = [node() for _ in range(3)]
        self.replicas = [node() for _ in range(3 * replicas)]
        self._per_master = replicas

    def start(self) -> RedisCluster:
        everyone = self.nodes + self.replicas
        for node in everyone:
            node.start()
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        # redis-cli takes the first three addresses as masters, the rest as their replicas.
        subprocess.run([cli, "--cluster", "create",
                        *[f"127.0.0.1:{node.port}" for node in everyone],
                        "--cluster-replicas", str(self._per_master), "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=30)
        deadline = time.monotonic() + 30
        for node in everyone:
            client = redis.Redis(port=node.port, decode_responses=True)
            try:
                while client.cluster("info").get("cluster_state") != "ok" or (
                        node in self.replicas and client.info("replication").get(
                            "master_link_status") != "up"):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the cluster did not come up")
                    time.sleep(0.1)
            finally:
                client.close()
        return self

    def _all(self) -> list[RedisProcess]:
        return self.nodes + self.replicas

    def node_for(self, key: str) -> RedisProcess:
        """The master that serves ``key``'s slot (asked from a live node)."""
        for asked in self._all():
            if asked.proc is None or asked.proc.poll() is not None:
                continue
            client = redis.Redis(port=asked.port, decode_responses=True, socket_timeout=2)
            try:
                slot = client.cluster("keyslot", key)
                for start, end, master, *_ in client.cluster("slots"):
                    if start <= slot <= end:
                        return next(n for n in self._all() if n.port == master[1])
            except redis.ConnectionError:
                continue
            finally:
                client.close()
        raise RuntimeError(f"no node serves {key}")

    def replica_of(self, master: RedisProcess) -> RedisProcess:
        """A replica of ``master`` whose link to it is up (waits up to 20 s for one)."""
        deadline = time.monotonic() + 20
        while True:
            client = redis.Redis(port=master.port, decode_responses=True)
            try:
                info = client.info("replication")
            finally:
                client.close()
            ports = {int(v["port"]) for k, v in info.items() if k.startswith("slave")
                     and isinstance(v, dict) and v.get("state") == "online"}
            found = [n for n in self._all() if n.port in ports]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise RuntimeError(f"no replica of {master.port} is online: {info}")
            time.sleep(0.1)

    def close(self) -> None:
        for node in self._all():
            node.close()


__all__ = ["Certs", "RedisCluster", "TLSRedisProcess", "free_port", "make_certs"]
