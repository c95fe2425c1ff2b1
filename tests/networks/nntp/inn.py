"""A throwaway INN (Debian's `inn2`) in a temporary directory, for the Usenet adapter's tests.

INN is the news server most of Usenet runs, so the tests post to the real thing. One `innd` (the server
that stores articles) listens on a free port of 127.0.0.1 in transit mode and hands readers to `nnrpd` on
MODE READER, as a production INN does; beside it two `nnrpd` daemons read other configurations: one where
every command needs AUTHINFO (RFC 4643) and one speaking TLS from the first byte (RFC 8143). All three
offer STARTTLS (RFC 4642) with a certificate for 127.0.0.1 of the test's own authority.

innd must run as the `news` user (it checks at start), so the tree is owned by news and the daemons are
started as news: that needs root, as the tests run here and in CI. Everything INN reads is written here,
nothing of /etc/news is used: `INNCONF` points the programs at this tree's inn.conf.

    with ThrowawayInn.start() as inn:
        inn.port, inn.auth_port, inn.tls_port, inn.client_tls  # where to connect, and whom to trust
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

INN_BIN = Path("/usr/lib/news/bin")
GROUP = "local.crier.test"
OTHER_GROUP = "local.crier.other"
USERNAME = "crier"
PASSWORD = "s3cret-pass"
DOMAIN = "crier.test"
STARTUP_SECONDS = 20.0


def missing() -> str | None:
    """Why INN cannot run here; None when it can."""
    if not (INN_BIN / "innd").exists():
        return (
            "INN is not installed: the Usenet adapter is tested against a real INN. Install Debian's inn2 "
            "(apt-get install -y inn2; scripts/test does it as root)."
        )
    if os.geteuid() != 0:
        return (
            "INN's innd must run as the news user: the Usenet tests start it as root (as scripts/test runs)."
        )
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ThrowawayInn:
    """A running INN: innd on `port`, nnrpd requiring AUTHINFO on `auth_port`, nnrpd over TLS on
    `tls_port`, with the groups GROUP and OTHER_GROUP."""

    root: Path
    port: int
    auth_port: int
    tls_port: int
    client_tls: ssl.SSLContext
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    @contextlib.contextmanager
    def start(cls) -> Iterator[ThrowawayInn]:
        """INN in a new temporary directory (removed after): one of its own, since the news user must
        reach it and pytest's are private to the user running the tests."""
        problem = missing()
        if problem:
            raise RuntimeError(problem)
        root = Path(tempfile.mkdtemp(prefix="crier-inn-"))
        try:
            inn = cls(root, free_port(), free_port(), free_port(), _write_tree(root))
            try:
                inn._launch()
                yield inn
            finally:
                inn.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _env(self) -> dict[str, str]:
        return {**os.environ, "INNCONF": str(self.root / "etc" / "inn.conf")}

    def _run_as_news(self, *command: str) -> subprocess.Popen[bytes]:
        log = (self.root / "log" / f"{Path(command[0]).name}-{len(self.processes)}.out").open("wb")
        process = subprocess.Popen(
            command,
            env=self._env(),
            user="news",
            group="news",
            extra_groups=[],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def _launch(self) -> None:
        _write_inn_conf(self.root, self.port)
        made = subprocess.run(
            [str(INN_BIN / "makedbz"), "-i", "-o", "-f", str(self.root / "db" / "history")],
            env=self._env(),
            user="news",
            group="news",
            capture_output=True,
            text=True,
        )
        if made.returncode:
            raise RuntimeError(f"makedbz could not make INN's history: {made.stdout}{made.stderr}")
        self._run_as_news(str(INN_BIN / "innd"), "-f", "-c", "0")
        self._wait_for(self.port)
        nnrpd = str(INN_BIN / "nnrpd")
        self._run_as_news(
            nnrpd, "-D", "-f", "-b", "127.0.0.1", "-p", str(self.auth_port), "-c", "readers-auth.conf"
        )
        self._run_as_news(nnrpd, "-D", "-f", "-b", "127.0.0.1", "-p", str(self.tls_port), "-S")
        self._wait_for(self.auth_port)
        self._wait_for(self.tls_port, greets=False)

    def _wait_for(self, port: int, *, greets: bool = True) -> None:
        """Until the port answers: with a greeting, or (TLS first) by accepting the connection."""
        ends_at = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < ends_at:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"INN stopped at start ({process.args}): {self.logs()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1) as probe,
            ):
                probe.settimeout(2)
                if not greets or probe.recv(3).isdigit():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"INN did not answer on port {port} within {STARTUP_SECONDS} s: {self.logs()}")

    def logs(self) -> str:
        texts = []
        for path in sorted((self.root / "log").glob("*")):
            if path.is_file():
                texts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}")
        return "\n".join(texts)

    def stop(self) -> None:
        ctlinnd = [str(INN_BIN / "ctlinnd"), "-t", "5", "shutdown", "tests over"]
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ctlinnd, env=self._env(), user="news", group="news", capture_output=True, timeout=10
            )
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        self.processes.clear()


def _write_tree(root: Path) -> ssl.SSLContext:
    """INN's directories and configuration, owned by news; the client context that trusts its TLS."""
    for folder in ("etc", "db", "spool/articles", "spool/overview", "spool/incoming/tmp", "spool/outgoing",
                   "spool/archive", "log", "run", "tmp", "http", "filter"):  # fmt: skip
        (root / folder).mkdir(parents=True, exist_ok=True)
    etc = root / "etc"
    (etc / "newsfeeds").write_text("ME:*::\n")
    # Connections from here are the local peer's (innd's transit mode) until MODE READER hands them to nnrpd.
    (etc / "incoming.conf").write_text('peer ME {\n  hostname: "localhost, 127.0.0.1, ::1"\n}\n')
    (etc / "readers.conf").write_text(
        'auth "here" {\n  hosts: "localhost, 127.0.0.1, ::1, stdin"\n  default: "<here>"\n}\n'
        'access "here" {\n  users: "<here>"\n  newsgroups: "*"\n  access: RPA\n}\n'
    )
    # Every command but AUTHINFO needs a login; a login may read and post anywhere.
    (etc / "readers-auth.conf").write_text(
        f'auth "members" {{\n  hosts: "*"\n  auth: "ckpasswd -f {etc / "passwd.nntp"}"\n}}\n'
        'access "members" {\n  users: "' + USERNAME + '"\n  newsgroups: "*"\n  access: RPA\n}\n'
    )
    (etc / "passwd.nntp").write_text(f"{USERNAME}:{_crypt(PASSWORD)}\n")
    (etc / "storage.conf").write_text("method tradspool {\n  newsgroups: *\n  class: 0\n}\n")
    (etc / "expire.ctl").write_text("/remember/:11\n*:A:1:10:never\n")
    (etc / "inn-secrets.conf").write_text("cancels {\n  canlockuser: [ ]\n  canlockadmin: [ ]\n}\n")
    for name in ("control.ctl", "control.ctl.local", "moderators", "distrib.pats", "distributions"):
        (etc / name).write_text("")
    (root / "db" / "active").write_text(
        "control 0000000000 0000000001 n\ncontrol.cancel 0000000000 0000000001 n\n"
        "junk 0000000000 0000000001 n\n"
        f"{GROUP} 0000000000 0000000001 y\n{OTHER_GROUP} 0000000000 0000000001 y\n"
    )
    (root / "db" / "newsgroups").write_text(f"{GROUP}\tCrier's tests\n{OTHER_GROUP}\tCrier's other tests\n")
    (root / "db" / "active.times").write_text("")
    (root / "db" / "history").write_text("")
    client = _certificate(etc)
    news = pwd.getpwnam("news")
    for path in [root, *root.rglob("*")]:
        os.chown(path, news.pw_uid, news.pw_gid)
    (etc / "key.pem").chmod(0o600)
    return client


def _write_inn_conf(root: Path, port: int) -> None:
    paths = {
        "pathnews": root,
        "pathbin": INN_BIN,
        "pathcontrol": INN_BIN / "control",
        "pathfilter": root / "filter",
        "pathdb": root / "db",
        "pathetc": root / "etc",
        "pathrun": root / "run",
        "pathlog": root / "log",
        "pathhttp": root / "http",
        "pathtmp": root / "tmp",
        "pathspool": root / "spool",
        "patharticles": root / "spool" / "articles",
        "pathoverview": root / "spool" / "overview",
        "pathincoming": root / "spool" / "incoming",
        "pathoutgoing": root / "spool" / "outgoing",
        "patharchive": root / "spool" / "archive",
    }
    settings = {
        "mta": '"/bin/true %s"',
        "organization": '"Crier tests"',
        "ovmethod": "tradindexed",
        "hismethod": "hisv6",
        "pathhost": f"news.{DOMAIN}",
        "domain": DOMAIN,
        "fromhost": DOMAIN,
        "server": "127.0.0.1",
        "bindaddress": "127.0.0.1",
        "port": str(port),
        "nnrpdpostport": str(port),
        "enableoverview": "true",
        "wireformat": "true",
        "artcutoff": "0",
        # INN's default: a cancel is acted on only for an article locked with Cancel-Lock, and only when
        # the cancel carries its key (RFC 8315).
        "docancels": "require-auth",
        "pgpverify": "false",
        "doinnwatch": "false",
        "status": "0",
        "timer": "0",
        "noreader": "false",
        "readerswhenstopped": "false",
        "tlscertfile": str(root / "etc" / "cert.pem"),
        "tlskeyfile": str(root / "etc" / "key.pem"),
        **{name: str(path) for name, path in paths.items()},
    }
    text = "".join(f"{name}: {value}\n" for name, value in settings.items())
    (root / "etc" / "inn.conf").write_text(text)
    news = pwd.getpwnam("news")
    os.chown(root / "etc" / "inn.conf", news.pw_uid, news.pw_gid)


def _certificate(etc: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 in etc/cert.pem and etc/key.pem; a context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    (etc / "cert.pem").write_bytes(pem)
    (etc / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ssl.create_default_context(cadata=pem.decode())


def _crypt(password: str) -> str:
    """The password as ckpasswd reads it from a file: a crypt(3) hash (SHA-512), made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is needed to write INN's password file")
    made = subprocess.run([openssl, "passwd", "-6", password], check=True, capture_output=True, text=True)
    return made.stdout.strip()
