"""Load harness for SSAR against running ``ssar serve`` instances on loopback (issue #8).

    .venv/bin/python bench/load.py setup                     # database ssar_load, users, keys
    .venv/bin/python bench/load.py serve --instances 2 --workers 1 &
    .venv/bin/python bench/load.py signin --duration 20 --concurrency 16 --json
    .venv/bin/python bench/load.py tap --count 3000
    .venv/bin/python bench/load.py recovery --face --duration 30
    .venv/bin/python bench/load.py recovery --no-face --duration 20
    .venv/bin/python bench/load.py concurrent --count 1000

Every run is bounded by ``--duration`` seconds and ``--count`` operations, and reports
throughput, p50/p95/p99 per request kind, errors by status, CPU seconds and RSS of every server
process (found by the ports of ``--base-url``, or ``--server-pid``) and the client's own CPU.
What is measured and the figures: docs/PERFORMANCE.md, section "Load"; how to run: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import signal
import ssl
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "src"))

import httpx  # noqa: E402
from bench._procs import ProcessWatch, pids_on_port, postgres_pids, with_children  # noqa: E402
from bench._stats import Recorder  # noqa: E402

DEFAULT_STATE = Path(os.environ.get("SSAR_LOAD_DIR", "/tmp/ssar-load")) / "state.json"  # noqa: S108
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOAD_DB = "ssar_load"
GIVEN = "Erika"
FACE_GROUP, NOFACE_GROUP, SIGNIN_GROUP = "Load Face", "Load NoFace", "Load Signin"
FLOW_LIMITS = {
    # the most the policy allows: a load from few addresses is what throttling refuses (R8)
    "SSAR_RECOVERY_ACCOUNT_FLOWS_PER_DAY": "100",
    "SSAR_RECOVERY_ADDRESS_FLOWS_PER_HOUR": "1000",
}


# --- state -------------------------------------------------------------------------------------


def load_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise SystemExit(f"no load state at {path}; run `bench/load.py setup` first")
    state: dict[str, Any] = json.loads(path.read_text())
    return state


def family_name(i: int) -> str:
    """A distinct letters-only family name per index (names alone must single out the account)."""
    letters = ""
    n = i
    for _ in range(5):
        letters = chr(ord("a") + n % 26) + letters
        n //= 26
    return "Load" + letters


def registry_for(state: dict[str, Any]) -> Any:
    from ssar.clock import SystemClock
    from ssar.config import Settings
    from ssar.registry import Registry

    settings = Settings(
        database_url=state["database_url"],
        var_dir=Path(state["var_dir"]),
        base_url=state["base_url"],
        demo=False,
    )
    return Registry(settings, clock=SystemClock())


# --- setup -------------------------------------------------------------------------------------


def _recreate_database(admin_url: str, name: str) -> None:
    import psycopg

    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing database name {name!r}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def cmd_setup(args: argparse.Namespace) -> dict[str, Any]:
    from bench._wallet import cose_public_key, key_to_hex
    from cryptography.hazmat.primitives.asymmetric import ec
    from sqlalchemy import insert, select
    from tests.support.faces import portrait_data_uri
    from tests.support.issuer import IdentityIssuer, holder_from
    from tests.unit.credentials.factory import Issuer, Key

    from ssar.directory.names import username_key
    from ssar.directory.repository import DirectoryRepository
    from ssar.store.tables import AuthMethodRow, GroupMemberRow, GroupRow, UserEmailRow, UserRow

    started = time.monotonic()
    state_path: Path = args.state
    state_path.parent.mkdir(parents=True, exist_ok=True)
    var_dir = state_path.parent / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    if args.database_url:  # an existing, empty database (the smoke test's)
        db_url = args.database_url
    else:
        db_url = args.admin_url.rsplit("/", 1)[0] + "/" + args.database
        _recreate_database(args.admin_url, args.database)
    state: dict[str, Any] = {
        "database_url": db_url,
        "var_dir": str(var_dir),
        "base_url": f"http://localhost:{args.port}",
        "port": args.port,
    }
    registry = registry_for(state)
    registry.migrate()
    _ = registry.secret_key, registry.signing_key
    directory = registry.directory
    for group in (FACE_GROUP, NOFACE_GROUP, SIGNIN_GROUP):
        directory.add_group(name=group, parent=None, actor="bench")
    with registry.database.transaction() as session:
        groups = {n: i for n, i in session.execute(select(GroupRow.name, GroupRow.id)).all()}

    issuer_key = Key(kid="load-issuer-1")
    issuer = IdentityIssuer(key=issuer_key, iss="https://idv.load.test")
    now = datetime.now(UTC)

    def add_users(prefix: str, count: int, group: str, offset: int) -> list[tuple[str, str, str]]:
        """Users straight into the directory tables, in batches (setup is not measured)."""
        made: list[tuple[str, str, str]] = []
        for start in range(0, count, 1000):
            with registry.database.transaction() as session:
                for i in range(start, min(count, start + 1000)):
                    username = f"{prefix}{i:06d}"
                    family = family_name(offset + i)
                    user = UserRow(
                        username=username,
                        username_key=username_key(username),
                        given_name=GIVEN,
                        family_name=family,
                        display_name=f"{GIVEN} {family}",
                        enabled=True,
                        privileged=False,
                        created_at=now,
                        updated_at=now,
                    )
                    session.add(user)
                    session.flush()
                    session.add(
                        UserEmailRow(
                            user_id=user.id,
                            address=f"{username}@load.test",
                            primary=True,
                            notify=True,
                        )
                    )
                    session.execute(
                        insert(GroupMemberRow).values(group_id=groups[group], user_id=user.id)
                    )
                    DirectoryRepository(session).replace_name_keys(user.id, family)
                    made.append((username, user.id, family))
        return made

    signin = add_users("sig", args.signin_users, SIGNIN_GROUP, 0)
    taps = add_users("tap", args.tap_users, SIGNIN_GROUP, 100_000)
    face = add_users("rf", args.face_users, FACE_GROUP, 200_000)
    noface = add_users("rn", args.noface_users, NOFACE_GROUP, 300_000)

    signin_state = []
    with registry.database.transaction() as session:
        for username, user_id, _ in signin:
            key = ec.generate_private_key(ec.SECP256R1())
            credential_id = os.urandom(32)
            session.add(
                AuthMethodRow(
                    user_id=user_id,
                    type="passkey",
                    label="Load key",
                    created_at=now,
                    credential_id=credential_id,
                    public_key=cose_public_key(key),
                    sign_count=0,
                    transports=["internal"],
                    backed_up=False,
                )
            )
            signin_state.append(
                {
                    "username": username,
                    "user_id": user_id,
                    "key": key_to_hex(key),
                    "credential_id": credential_id.hex(),
                }
            )

    portrait = portrait_data_uri()

    def wallets(users: list[tuple[str, str, str]], with_portrait: bool) -> list[dict[str, str]]:
        out = []
        t = int(now.timestamp())
        for username, user_id, family in users:
            holder = ec.generate_private_key(ec.SECP256R1())
            claims = {"given_name": GIVEN, "family_name": family, "birthdate": "1984-01-26"}
            if with_portrait:
                claims["portrait"] = portrait
            jwt, disclosures = Issuer(key=issuer.key, iss=issuer.iss).sd_jwt(
                disclosed=claims,
                holder=holder_from(holder),
                payload={"iat": t - 60, "exp": t + 30 * 86400, "vct": issuer.vct},
            )
            out.append(
                {
                    "username": username,
                    "user_id": user_id,
                    "holder": key_to_hex(holder),
                    "credential": "~".join([jwt, *disclosures]) + "~",
                }
            )
        return out

    trust = {"iss": issuer.iss, "jwks": {"keys": [issuer.key.jwk]}}

    def profile(name: str, group: str, priority: int, face_required: bool) -> dict[str, Any]:
        return {
            "name": name,
            "description": "load harness",
            "mode": "production",
            "priority": priority,
            "include_groups": [group],
            "exclude_groups": [],
            "allow_privileged": False,
            "provider": "openid4vp",
            "credentials": {"types": [issuer.vct], "issuers": [trust]},
            "validation": {
                "match": "exact",
                "claims": {"given_name": "given_name", "family_name": "family_name"},
            },
            "face_check": {"required": face_required, "threshold": 70},
            "tap": {"lifetime_minutes": 60, "one_time": True},
        }

    registry.profiles.apply(
        {
            "profiles": [
                profile("Load face", FACE_GROUP, 1, True),
                profile("Load no face", NOFACE_GROUP, 2, False),
            ]
        },
        actor="bench",
    )
    state.update(
        signin=signin_state,
        tap=[u for u, _, _ in taps],
        face=wallets(face, True),
        noface=wallets(noface, False),
        vct=issuer.vct,
        iss=issuer.iss,
    )
    registry.close()
    state_path.write_text(json.dumps(state))
    return {
        "scenario": "setup",
        "database": args.database,
        "state": str(state_path),
        "users": {
            "signin": len(signin),
            "tap": len(taps),
            "face": len(face),
            "noface": len(noface),
        },
        "seconds": round(time.monotonic() - started, 1),
    }


# --- serve -------------------------------------------------------------------------------------


def server_env(state: dict[str, Any], log_level: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSAR_")}
    env.update(
        SSAR_DATABASE_URL=state["database_url"],
        SSAR_VAR_DIR=state["var_dir"],
        SSAR_BASE_URL=state["base_url"],
        SSAR_DEMO="0",
        SSAR_LOG_LEVEL=log_level,
        **FLOW_LIMITS,
    )
    return env


def cmd_serve(args: argparse.Namespace) -> dict[str, Any]:
    """Start ``--instances`` servers on consecutive ports from the state's port, all with the
    same public base URL (as behind a load balancer); wait until they answer; keep them until
    SIGTERM/SIGINT (or return at once with ``--detach``)."""
    state = load_state(args.state)
    ssar = Path(sys.executable).parent / "ssar"
    env = server_env(state, args.log_level)
    log_dir = args.state.parent / "logs"
    log_dir.mkdir(exist_ok=True)
    processes = []
    urls = []
    for i in range(args.instances):
        port = int(state["port"]) + i
        out = (log_dir / f"serve-{port}.log").open("ab")
        command = [str(ssar), "serve", "--port", str(port), "--workers", str(args.workers)]
        process = subprocess.Popen(  # noqa: S603 - our own ssar
            command, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        processes.append(process)
        urls.append(f"http://127.0.0.1:{port}")
    if not args.detach:  # held for sigwait below (after the servers started: they inherit masks)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    deadline = time.monotonic() + 60
    for url, process in zip(urls, processes, strict=True):
        while True:
            if process.poll() is not None:
                raise SystemExit(f"ssar serve on {url} exited; see {log_dir}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"ssar serve on {url} did not start; see {log_dir}")
            time.sleep(0.2)
    info = {
        "scenario": "serve",
        "urls": urls,
        "pids": [p.pid for p in processes],
        "workers": args.workers,
    }
    print(json.dumps(info), flush=True)
    if args.detach:
        return {}
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return {}


# --- the load engine ---------------------------------------------------------------------------


class Run:
    """Shared by every worker of one run: the clock window, the recorder, the bounds."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rec = Recorder()
        self.count = args.count
        self.started_ops = 0
        self.t0 = time.monotonic()
        self.warmup_end = self.t0 + args.warmup
        self.deadline = self.warmup_end + args.duration
        self.rec.measure_from = self.warmup_end
        self.rec.measure_until = self.deadline
        self.retries: Counter[str] = Counter()
        self.retries_answered: Counter[str] = Counter()
        self.retries_failed: Counter[str] = Counter()

    def take(self) -> int | None:
        """The next operation's number, or None when the run is over (time or count)."""
        if time.monotonic() >= self.deadline or self.started_ops >= self.count:
            return None
        self.started_ops += 1
        return self.started_ops - 1

    async def send(
        self,
        client: httpx.AsyncClient,
        kind: str,
        method: str,
        url: str,
        *,
        expect: int = 200,
        accept: frozenset[int] = frozenset(),
        **kwargs: Any,
    ) -> httpx.Response | None:
        """One request, retried once when the failure proves the application never saw it
        (see ``never_reached``); never after a response. A status in ``accept`` is handed back
        (not counted as an error) for the caller to judge."""
        started = time.monotonic()
        for attempt in (0, 1):
            fresh: list[bool] = []

            async def trace(event: str, info: dict[str, Any], fresh: list[bool] = fresh) -> None:
                if event == "connection.connect_tcp.complete":
                    fresh.append(True)

            try:
                response = await client.request(method, url, extensions={"trace": trace}, **kwargs)
            except httpx.HTTPError as exc:
                reason = never_reached(exc, reused=not fresh)
                if attempt == 0 and reason is not None:
                    self.retries[f"{kind}:{reason}"] += 1
                    continue
                if attempt == 1:
                    self.retries_failed[f"{kind}:{type(exc).__name__}"] += 1
                self.rec.request(kind, started, type(exc).__name__, ok=False)
                return None
            if attempt == 1:
                self.retries_answered[f"{kind}:{response.status_code}"] += 1
                response.extensions["bench_retried"] = True
            ok = response.status_code == expect
            if response.status_code in accept:
                self.rec.request(kind, started, response.status_code, ok=True)
                return response
            self.rec.request(kind, started, response.status_code, ok=ok)
            return response if ok else None
        raise AssertionError("unreachable")

    def retry_report(self) -> dict[str, Any]:
        return {
            "policy": "once, only for a failure before any response that proves the request "
            "never reached the application: ConnectError/ConnectTimeout/PoolTimeout, or the "
            "server closing a reused keep-alive connection without a response",
            "retried": dict(self.retries),
            "answered_after_retry": dict(self.retries_answered),
            "failed_after_retry": dict(self.retries_failed),
        }


def never_reached(exc: httpx.HTTPError, *, reused: bool) -> str | None:
    """Why ``exc`` proves the request never reached the application, or None.

    A connection that could not be opened (or taken from the pool) carried nothing. A reused
    keep-alive connection the server had closed (idle timeout) ends with
    "Server disconnected without sending a response" before any byte of an answer: the
    server's HTTP layer closed it idle, so no application saw the request. On a fresh
    connection the same error could mean a worker died mid-request, and that is not retried."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return type(exc).__name__
    if (
        reused
        and isinstance(exc, httpx.RemoteProtocolError)
        and "without sending a response" in str(exc)
    ):
        return "stale_keepalive"
    return None


def base_urls(args: argparse.Namespace, state: dict[str, Any]) -> list[str]:
    if args.base_url:
        return [u.rstrip("/") for u in args.base_url]
    return [f"http://127.0.0.1:{state['port']}"]


def server_pids(args: argparse.Namespace, urls: list[str]) -> list[int]:
    pids = list(args.server_pid or [])
    if not pids:
        for url in urls:
            port = urlsplit(url).port or 80
            pids.extend(pids_on_port(port))
    return with_children(sorted(set(pids)))


#: below uvicorn's 5 s keep-alive timeout, so the client never reuses a connection the server
#: is about to close (the race that lost requests in the first 1,000-flow run)
KEEPALIVE_EXPIRY_S = 2.0
_TLS: ssl.SSLContext | None = None


def client_for(local_address: str | None = None, connections: int = 100) -> httpx.AsyncClient:
    global _TLS
    if _TLS is None:  # loopback HTTP only; one context instead of one per client (CPU)
        _TLS = ssl.create_default_context()
    transport = httpx.AsyncHTTPTransport(
        local_address=local_address,
        verify=_TLS,
        limits=httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=KEEPALIVE_EXPIRY_S,
        ),
    )
    return httpx.AsyncClient(transport=transport, verify=_TLS, timeout=60.0, follow_redirects=False)


def local_addresses(count: int) -> list[str]:
    """Distinct loopback client addresses (127.0.0.0/8 is all loopback on Linux): the service
    throttles recovery starts per address (R8), so a load of many people comes from many."""
    rng = random.Random()  # noqa: S311 - client addresses, not secrets
    picked: set[str] = set()
    while len(picked) < count:
        picked.add(f"127.{rng.randrange(2, 250)}.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}")
    return sorted(picked)


async def _drive(run: Run, workers: list[Callable[[], Awaitable[None]]]) -> None:
    await asyncio.gather(*(w() for w in workers))


def measure(
    args: argparse.Namespace,
    urls: list[str],
    scenario: str,
    body: Callable[[Run], Awaitable[None]],
) -> tuple[Run, dict[str, Any]]:
    """Run ``body`` with the server processes and the client watched over the measured window."""
    pids = server_pids(args, urls)
    loadavg = Path("/proc/loadavg").read_text().strip()
    run = Run(args)
    watch = ProcessWatch(pids)
    postgres = ProcessWatch(postgres_pids())
    client0: list[float] = []

    async def main() -> None:
        async def window() -> None:
            await asyncio.sleep(max(0.0, run.warmup_end - time.monotonic()))
            usage = resource.getrusage(resource.RUSAGE_SELF)
            client0.extend([usage.ru_utime + usage.ru_stime, time.monotonic()])
            watch.start()
            postgres.start()

        timer = asyncio.create_task(window())
        await body(run)
        await timer
        watch.stop()
        postgres.stop()

    asyncio.run(main())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ended = time.monotonic()
    window_s = min(ended, run.deadline) - run.warmup_end
    client_cpu = usage.ru_utime + usage.ru_stime - client0[0]
    report: dict[str, Any] = {
        "scenario": scenario,
        "base_urls": urls,
        "loadavg_before": loadavg,
        "concurrency": args.concurrency,
        "warmup_s": args.warmup,
        **run.rec.summary(max(window_s, 1e-9)),
        "client": {
            "cpu_s": round(client_cpu, 2),
            "cpu_pct": round(100 * client_cpu / max(ended - client0[1], 1e-9), 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        },
        "server_processes": watch.report(),
        "postgres": postgres.report_total(),
        "retries": run.retry_report(),
    }
    report["worker_cpu_pct"] = worker_balance(report["server_processes"])
    return run, report


def worker_balance(processes: list[dict[str, Any]]) -> list[float]:
    """CPU % of each uvicorn worker (spawned by multiprocessing) in the window, busiest first;
    with one process per instance, of every server process."""
    workers = [p for p in processes if "spawn_main" in str(p["command"])] or processes
    return sorted((float(p["cpu_pct"]) for p in workers), reverse=True)


# --- sign-in and TAP -------------------------------------------------------------------------


async def browser(run: Run, client: httpx.AsyncClient, base: str) -> tuple[str, str] | None:
    """A fresh browser's visit to the sign-in page: (browser cookie header, CSRF token)."""
    import re

    response = await run.send(client, "signin_page", "GET", f"{base}/signin")
    if response is None:
        return None
    match = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', response.text)
    cookie = "; ".join(f"{k}={v}" for k, v in response.cookies.items())
    client.cookies.clear()
    if match is None or not cookie:
        run.rec.error("signin_page", "no_csrf")
        return None
    return cookie, match.group(1)


def cmd_signin(args: argparse.Namespace) -> dict[str, Any]:
    from bench._wallet import Passkey

    state = load_state(args.state)
    urls = base_urls(args, state)
    origin = state["base_url"]
    users = state["signin"]
    passkeys = [
        Passkey(
            key_hex=u["key"],
            credential_id=bytes.fromhex(u["credential_id"]),
            user_id=u["user_id"],
            origin=origin,
        )
        for u in users
    ]
    names = [u["username"] for u in users]

    async def body(run: Run) -> None:
        client = client_for(connections=args.concurrency)

        async def worker(w: int) -> None:
            base = urls[w % len(urls)]
            visit = await browser(run, client, base)
            if visit is None:
                return
            cookie, csrf = visit
            headers = {
                "cookie": cookie,
                "x-csrf-token": csrf,
                "content-type": "application/json",
                "accept": "application/json",
            }
            i = w
            while (n := run.take()) is not None:
                started = time.monotonic()
                user = (i + n) % len(passkeys)
                options = await run.send(
                    client,
                    "passkey_options",
                    "POST",
                    f"{base}/signin/passkey/options",
                    content=json.dumps({"username": names[user]}),
                    headers=headers,
                )
                if options is None:
                    continue
                credential = passkeys[user].assertion(options.json()["publicKey"])
                done = await run.send(
                    client,
                    "passkey_verify",
                    "POST",
                    f"{base}/signin/passkey",
                    content=json.dumps({"credential": credential}),
                    headers=headers,
                )
                client.cookies.clear()  # the next sign-in is a new one, not a re-sign-in
                if done is not None:
                    run.rec.op("signin", started)

        try:
            await asyncio.gather(*(worker(w) for w in range(args.concurrency)))
        finally:
            await client.aclose()

    _, report = measure(args, urls, "signin", body)
    return report


def cmd_tap(args: argparse.Namespace) -> dict[str, Any]:
    state = load_state(args.state)
    urls = base_urls(args, state)
    usernames = state["tap"][: args.count]
    registry = registry_for(state)
    prepared = time.monotonic()
    taps = [(u, registry.signin.taps.issue(username=u, actor="bench").tap) for u in usernames]
    registry.close()
    prepare_s = time.monotonic() - prepared
    queue = iter(taps)

    async def body(run: Run) -> None:
        client = client_for(connections=args.concurrency)

        async def worker(w: int) -> None:
            base = urls[w % len(urls)]
            visit = await browser(run, client, base)
            if visit is None:
                return
            cookie, csrf = visit
            headers = {"cookie": cookie, "content-type": "application/x-www-form-urlencoded"}
            while run.take() is not None:
                pair = next(queue, None)
                if pair is None:
                    return
                started = time.monotonic()
                username, tap = pair
                from urllib.parse import urlencode

                done = await run.send(
                    client,
                    "tap_redeem",
                    "POST",
                    f"{base}/signin/tap",
                    expect=303,
                    content=urlencode({"username": username, "tap": tap, "csrf_token": csrf}),
                    headers=headers,
                )
                client.cookies.clear()
                if done is not None:
                    run.rec.op("tap_signin", started)

        try:
            await asyncio.gather(*(worker(w) for w in range(args.concurrency)))
        finally:
            await client.aclose()

    _, report = measure(args, urls, "tap", body)
    report["taps_prepared"] = len(taps)
    report["tap_issue_s_unmeasured"] = round(prepare_s, 1)
    return report


# --- recovery ----------------------------------------------------------------------------------


class Recovery:
    """Complete recovery flows: start -> wallet presentation -> (face frames) -> restored ->
    TAP, each flow for another account, and afterwards the database says what happened."""

    def __init__(self, args: argparse.Namespace, state: dict[str, Any], face: bool) -> None:
        from bench._wallet import FaceFrames

        self.args = args
        self.state = state
        self.face = face
        self.public = state["base_url"]
        self.users = list(state["face" if face else "noface"])
        random.shuffle(self.users)
        self.frames = FaceFrames() if face else None
        self.outcomes: list[dict[str, Any]] = []
        self.replays_refused = 0
        self.replay_accepted = 0
        self.replay_after_retry = 0

    @staticmethod
    def route(url: str, base: str) -> str:
        """A service URL sent to one instance (what a load balancer does)."""
        parts = urlsplit(url)
        return base + parts.path + (f"?{parts.query}" if parts.query else "")

    async def flow(
        self, run: Run, client: httpx.AsyncClient, user: dict[str, str], first: str, second: str
    ) -> None:
        from bench._wallet import MemoryWallet, presenter_for, response_form, wallet_metadata

        from ssar.openid4vp.links import parse_link

        started = time.monotonic()
        outcome: dict[str, Any] = {"user_id": user["user_id"], "ok": False}
        self.outcomes.append(outcome)
        response = await run.send(
            client,
            "flow_start",
            "POST",
            f"{first}/api/recovery/flows",
            json={"username": user["username"]},
            expect=201,
        )
        if response is None:
            return
        body = response.json()
        handle = body["id"]
        outcome["started"] = True
        try:
            link = parse_link(
                body["verification"]["link"], allowed_schemes=("openid4vp", "https", "http")
            )
            presenter = presenter_for(
                MemoryWallet(
                    key_hex=user["holder"],
                    credential=user["credential"],
                    vct=self.state["vct"],
                    iss=self.state["iss"],
                )
            )
            wallet_nonce = None
            request_uri = self.route(link.request_uri, second)
            if link.request_uri_method == "post":
                wallet_nonce = os.urandom(16).hex()
                response = await run.send(
                    client,
                    "request_object",
                    "POST",
                    request_uri,
                    data={"wallet_metadata": wallet_metadata(), "wallet_nonce": wallet_nonce},
                )
            else:
                response = await run.send(client, "request_object", "GET", request_uri)
            if response is None:
                return
            request = presenter.check_request(
                response.text.strip(),
                expected_client_id=link.client_id,
                wallet_nonce=wallet_nonce,
            )
            form = response_form(presenter, request)
        except Exception as exc:
            run.rec.error("wallet", type(exc).__name__)
            return
        response_uri = self.route(request.response_uri, second)
        response = await run.send(
            client, "presentation", "POST", response_uri, data=form, accept=frozenset({400})
        )
        if response is None:
            return
        if response.status_code == 400:
            # after a retried POST the first attempt may have been taken after all: the server
            # refuses the second one as a replay (and the flow goes on); anything else is an error
            replayed = "response_replayed" in response.text
            if not (replayed and response.extensions.get("bench_retried")):
                run.rec.error("presentation", "400")
                return
            self.replay_after_retry += 1
        flow_url = f"{second}/api/recovery/flows/{handle}"
        response = await run.send(client, "flow_status", "GET", flow_url)
        if response is None:
            return
        view = response.json()
        if self.args.check_once:
            # a wallet presentation is taken once: the same form again, at the other
            # instance, must be refused as a replay
            replay = self.route(request.response_uri, first)
            again = await run.send(
                client,
                "presentation_replay",
                "POST",
                replay,
                data=form,
                expect=400,
                accept=frozenset(range(200, 300)),
            )
            if again is not None and again.status_code < 300:
                self.replay_accepted += 1
                run.rec.error("presentation_replay", f"accepted_{again.status_code}")
            elif again is not None and "response_replayed" in again.text:
                self.replays_refused += 1
            elif again is not None:
                run.rec.error("presentation_replay", "400_not_replay")
        if self.face:
            assert self.frames is not None
            if view["state"] != "face_checking":
                run.rec.error("flow_status", f"state_{view['state']}")
                return
            challenge = view["next"]["challenge"]
            frames = self.frames.frames(challenge["poses"])
            response = await run.send(
                client,
                "face",
                "POST",
                self.route(view["next"]["submit"], second),
                data={"token": challenge["token"]},
                files=[("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)],
            )
            if response is None:
                return
            view = response.json()
        if view["state"] != "restored":
            run.rec.error("flow", f"state_{view['state']}")
            outcome["state"] = view["state"]
            return
        response = await run.send(client, "take_tap", "POST", f"{flow_url}/tap")
        if response is None:
            return
        outcome["ok"] = bool(response.json().get("tap"))
        run.rec.op("recovery", started)
        if self.args.check_once:
            # the pass is shown once, across instances: the other one answers 410
            await run.send(
                client,
                "take_tap_again",
                "POST",
                f"{first}/api/recovery/flows/{handle}/tap",
                expect=410,
            )

    async def drive(self, run: Run, urls: list[str], concurrency: int, cross: bool) -> None:
        """``concurrency`` people at once, from up to 200 loopback addresses. By default every
        flow is another person with its own connections (a new client, closed after the flow),
        as real phones and browsers are: many short connections, which the kernel spreads over
        the workers sharing the listening socket. ``--shared-connections`` keeps one
        keep-alive pool per address instead (few long connections, pinned to a worker)."""
        addresses = local_addresses(max(1, min(concurrency, 200)))
        per_flow = not self.args.shared_connections
        shared = (
            []
            if per_flow
            else [
                client_for(a, connections=max(4, concurrency // len(addresses) + 2))
                for a in addresses
            ]
        )
        users = itertools.cycle(self.users) if self.args.reuse_users else iter(self.users)

        async def worker(w: int) -> None:
            address = addresses[w % len(addresses)]
            while (n := run.take()) is not None:
                user = next(users, None)
                if user is None:
                    return
                first = urls[n % len(urls)]
                second = urls[(n + 1) % len(urls)] if cross else first
                if per_flow:
                    async with client_for(address, connections=4) as client:
                        await self.flow(run, client, user, first, second)
                else:
                    await self.flow(run, shared[w % len(shared)], user, first, second)

        try:
            await asyncio.gather(*(worker(w) for w in range(concurrency)))
        finally:
            for client in shared:
                await client.aclose()

    def replays_accepted(self) -> int:
        """Replayed presentations the server took (answered 2xx): must be 0."""
        return self.replay_accepted

    def verify(self, audit_seq: int) -> dict[str, Any]:
        """From the database: every flow of this run restored exactly once and its TAP taken
        once; no flow left between start and completion."""
        from sqlalchemy import func, select, text

        from ssar.store.tables import RecoveryFlowRow

        registry = registry_for(self.state)
        try:
            with registry.database.transaction() as session:
                rows = session.execute(
                    text(
                        "SELECT type, data FROM audit_events WHERE seq > :seq AND type IN "
                        "('recovery.started', 'recovery.restored', 'recovery.completed')"
                    ),
                    {"seq": audit_seq},
                ).all()
                per_flow: dict[str, dict[str, int]] = {}
                taps: dict[str, int] = {}
                for kind, data in rows:
                    data = data if isinstance(data, dict) else json.loads(data)
                    counts = per_flow.setdefault(data["flow_id"], {})
                    counts[kind] = counts.get(kind, 0) + 1
                    if kind == "recovery.restored":
                        tap_id = data.get("tap_method_id")
                        taps[tap_id] = taps.get(tap_id, 0) + 1
                flow_ids = list(per_flow)
                states: dict[str, int] = {}
                for start in range(0, len(flow_ids), 1000):
                    chunk = flow_ids[start : start + 1000]
                    for state, count in session.execute(
                        select(RecoveryFlowRow.state, func.count())
                        .where(RecoveryFlowRow.id.in_(chunk))
                        .group_by(RecoveryFlowRow.state)
                    ).all():
                        states[state] = states.get(state, 0) + int(count)
        finally:
            registry.close()
        started = sum(1 for c in per_flow.values() if c.get("recovery.started"))
        restored_once = sum(1 for c in per_flow.values() if c.get("recovery.restored") == 1)
        restored_twice = sum(1 for c in per_flow.values() if c.get("recovery.restored", 0) > 1)
        completed = sum(1 for c in per_flow.values() if c.get("recovery.completed") == 1)
        client_ok = sum(1 for o in self.outcomes if o["ok"])
        client_started = sum(1 for o in self.outcomes if o.get("started"))
        return {
            "client_flows_attempted": len(self.outcomes),
            "client_flows_started": client_started,
            "client_flows_with_tap": client_ok,
            "db_flows_started": started,
            "db_restored_exactly_once": restored_once,
            "db_restored_more_than_once": restored_twice,
            "db_taps_issued": len(taps),
            "db_tap_issued_twice": sum(1 for v in taps.values() if v > 1),
            "db_completed": completed,
            "db_flow_states": states,
            "lost": started - completed,
            "presentation_replays_refused": self.replays_refused,
            "presentation_replays_accepted": self.replays_accepted(),
            "presentation_retry_refused_as_replay": self.replay_after_retry,
            "ok": restored_twice == 0
            and self.replays_accepted() == 0
            and started == completed == restored_once == client_ok
            and client_started == client_ok,
        }


def _audit_seq(state: dict[str, Any]) -> int:
    from sqlalchemy import text

    registry = registry_for(state)
    try:
        with registry.database.transaction() as session:
            return int(
                session.execute(text("SELECT coalesce(max(seq), 0) FROM audit_events")).scalar_one()
            )
    finally:
        registry.close()


def cmd_recovery(args: argparse.Namespace, *, scenario: str = "recovery") -> dict[str, Any]:
    state = load_state(args.state)
    urls = base_urls(args, state)
    recovery = Recovery(args, state, args.face)
    seq = _audit_seq(state)
    cross = scenario == "concurrent" or args.cross
    _, report = measure(
        args,
        urls,
        scenario,
        lambda run: recovery.drive(run, urls, args.concurrency, cross),
    )
    report["face_check"] = args.face
    report["verification"] = recovery.verify(seq)
    if args.face:
        report["note_rss"] = "server rss_mb is after face checks ran, i.e. with the models loaded"
    return report


def cmd_concurrent(args: argparse.Namespace) -> dict[str, Any]:
    """``--count`` flows all in flight at once across the instances (start on one, finish on
    the next), none lost, none restored twice, no 5xx."""
    args.concurrency = args.count
    args.warmup = 0.0
    args.check_once = True
    report = cmd_recovery(args, scenario="concurrent")
    server_errors = {
        key: n
        for key, n in report["errors_including_warmup"].items()
        if key.rsplit(":", 1)[1].startswith("5")
    }
    report["server_errors_5xx"] = server_errors
    report["verification"]["ok"] = report["verification"]["ok"] and not server_errors
    return report


# --- command line ----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench/load.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, *, duration: float, count: int, conc: int) -> None:
        sp.add_argument("--state", type=Path, default=DEFAULT_STATE)
        sp.add_argument("--base-url", action="append", help="an instance (repeatable)")
        sp.add_argument(
            "--server-pid",
            action="append",
            type=int,
            help="a server process to watch (default: found by port)",
        )
        sp.add_argument("--duration", type=float, default=duration, help="measured seconds")
        sp.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
        sp.add_argument("--count", type=int, default=count, help="at most this many operations")
        sp.add_argument("--concurrency", type=int, default=conc)
        sp.add_argument("--json", action="store_true")

    s = sub.add_parser("setup", help="create database ssar_load with users, keys, profiles")
    s.add_argument("--state", type=Path, default=DEFAULT_STATE)
    s.add_argument("--admin-url", default=ADMIN_URL)
    s.add_argument("--database", default=LOAD_DB, help="dropped and created on --admin-url")
    s.add_argument("--database-url", help="use this existing database instead (no drop/create)")
    s.add_argument("--port", type=int, default=8100, help="first instance's port")
    s.add_argument("--signin-users", type=int, default=2000)
    s.add_argument("--tap-users", type=int, default=20000)
    s.add_argument("--face-users", type=int, default=400)
    s.add_argument("--noface-users", type=int, default=5000)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("serve", help="start ssar serve instances against the load database")
    s.add_argument("--state", type=Path, default=DEFAULT_STATE)
    s.add_argument("--instances", type=int, default=1)
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--log-level", default="WARNING")
    s.add_argument("--detach", action="store_true")
    s.add_argument("--json", action="store_true")

    common(sub.add_parser("signin", help="passkey sign-ins"), duration=20, count=10**9, conc=32)
    common(sub.add_parser("tap", help="TAP redemptions"), duration=20, count=5000, conc=16)
    r = sub.add_parser("recovery", help="complete recovery flows")
    common(r, duration=20, count=10**9, conc=16)
    shared = "one keep-alive pool per client address instead of new connections per flow"
    r.add_argument("--shared-connections", action="store_true", help=shared)
    r.add_argument("--face", action=argparse.BooleanOptionalAction, default=False)
    r.add_argument("--cross", action="store_true", help="finish each flow on the next instance")
    r.add_argument("--check-once", action="store_true", help="also ask for the TAP again")
    r.add_argument(
        "--reuse-users",
        action="store_true",
        help="cycle through the accounts (up to 100 flows a day each)",
    )
    c = sub.add_parser("concurrent", help="--count flows at once across the instances")
    common(c, duration=300, count=1000, conc=1000)
    c.add_argument("--face", action=argparse.BooleanOptionalAction, default=False)
    c.add_argument("--cross", action="store_true", default=True)
    c.add_argument("--reuse-users", action="store_true")
    c.add_argument("--shared-connections", action="store_true", help=shared)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
        "setup": cmd_setup,
        "serve": cmd_serve,
        "signin": cmd_signin,
        "tap": cmd_tap,
        "recovery": cmd_recovery,
        "concurrent": cmd_concurrent,
    }
    report = commands[args.command](args)
    if not report:
        return 0
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    verification = report.get("verification")
    if verification is not None and not verification.get("ok"):
        return 1
    return 0


def render(report: dict[str, Any]) -> str:
    lines = [f"== {report.get('scenario')} =="]
    for key in ("loadavg_before", "window_s", "completed", "throughput_per_s", "errors"):
        if key in report:
            lines.append(f"{key}: {report[key]}")
    for kind, lat in report.get("latency", {}).items():
        lines.append(
            f"  {kind:24} n={lat['count']:6} p50={lat['p50_ms']:7.1f} p95={lat['p95_ms']:7.1f} "
            f"p99={lat['p99_ms']:7.1f} ms"
        )
    if "client" in report:
        lines.append(f"client: {report['client']}")
    for proc in report.get("server_processes", []):
        lines.append(
            f"  pid {proc['pid']}: cpu {proc['cpu_s']} s ({proc['cpu_pct']}%), rss "
            f"{proc['rss_mb']} MB, peak {proc['peak_rss_mb_run']} MB  {proc['command'][:60]}"
        )
    for key, value in report.items():
        if key not in {
            "scenario",
            "loadavg_before",
            "window_s",
            "completed",
            "throughput_per_s",
            "errors",
            "latency",
            "client",
            "server_processes",
        }:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
