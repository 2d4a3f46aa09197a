"""The outbox of emails: durable across a killed process, sent once by competing workers."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import typing as t

import pytest
import sqlalchemy as sa

from app.accounts.background import wait_for_background
from app.db import session
from app.db import utcnow
from app.mail import outbox
from app.mail.message import EmailMessage
from app.mail.models import OutgoingMail
from app.worker import worker_of
from e2e.mailbox import Mailbox
from e2e.mailbox import link_in

QUEUE_THEN_HANG = """
import sys, time
from app import create_app
from app.accounts.emails import send_password_reset
from app.accounts.models import User
from app.db import session
app = create_app()
with app.app_context():
    send_password_reset(session.get(User, sys.argv[1]))
    print("queued", flush=True)
    time.sleep(600)
"""
ANSWER_THEN_HANG = """
import sys, time
from app import create_app
from app.testing import host_client, submit_form
app = create_app()
with app.app_context():
    browser = host_client(app)
    page = browser.get("/password/reset")
    answer = submit_form(browser, page, "reset-request-form", email=sys.argv[1])
    print(answer.status_code, flush=True)
    time.sleep(600)
"""
FOYER = "from app.cli import main; main()"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox() -> t.Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    box = Mailbox()
    box.start(free_port())
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def env(foyer_app, foyer_config, mailbox) -> dict[str, str]:
    """What a separate Foyer process needs to share the test's database, keys and mail."""
    return {
        **os.environ,
        "PYTHONPATH": os.getcwd(),
        "FOYER_INSTANCE_PATH": foyer_config["instance_path"],
        "FOYER_DATABASE_URL": foyer_config["database_url"],
        "FOYER_PLUGINS_DIR": foyer_config["plugins_dir"],
        "FOYER_REDIS_URL": foyer_config["redis_url"],
        "FOYER_SMTP_URL": f"smtp://127.0.0.1:{mailbox.port}",
    }


def start(code: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


def rows() -> list[OutgoingMail]:
    session.expire_all()
    found = list(session.scalars(sa.select(OutgoingMail)))
    session.rollback()
    return found


def test_mail_queued_by_a_killed_process_is_sent_once_by_a_worker(env, user, mailbox):
    queuing = start(QUEUE_THEN_HANG, user.id, env={**env, "FOYER_WORKER_IN_PROCESS": "false"})
    try:
        assert queuing.stdout is not None
        assert queuing.stdout.readline().strip() == "queued", stop(queuing)
    finally:
        queuing.kill()  # SIGKILL: no clean-up, nothing flushed
        queuing.wait()
    (row,) = rows()
    assert (row.status, row.attempts, row.recipient) == ("queued", 0, user.email)
    assert mailbox.count() == 0

    worker = start(FOYER, "worker", "--poll", "0.2", env=env)
    try:
        message = mailbox.wait_for(user.email, "Reset", timeout=60)
        assert "token=" in link_in(message)
        time.sleep(1.5)  # several more polls: nothing is sent twice
        assert mailbox.count() == 1
    finally:
        output = stop(worker)
    assert worker.returncode == 0, output
    (row,) = rows()
    assert (row.status, row.attempts, row.body) == ("sent", 1, None)


def test_a_reset_answered_by_a_killed_process_is_still_sent(env, user, mailbox):
    """The page answered, then its process died before looking the account up: the job
    was already a row, and a worker finishes it."""
    page = start(ANSWER_THEN_HANG, user.email, env={**env, "FOYER_WORKER_IN_PROCESS": "false"})
    try:
        assert page.stdout is not None
        assert page.stdout.readline().strip() == "303", stop(page)
    finally:
        page.kill()
        page.wait()
    assert rows() == []  # no email yet: only the job
    worker = start(FOYER, "worker", "--once", env=env)
    try:
        assert "token=" in link_in(mailbox.wait_for(user.email, "Reset", timeout=60))
        worker.wait(timeout=60)  # --once ends by itself: the mail arrives before it exits
    finally:
        output = stop(worker)
    assert worker.returncode == 0, output
    time.sleep(0.5)
    assert mailbox.count() == 1


def test_competing_workers_send_each_mail_exactly_once(foyer_app, tenant, env, mailbox):
    worker_of(foyer_app).autostart = False  # this process only queues
    count = 30
    for n in range(count):
        outbox.queue_email(
            EmailMessage(to=f"user{n}@example.com", subject=f"Mail {n}", text="Hello"), tenant
        )
    session.commit()
    workers = [start(FOYER, "worker", "--poll", "0.1", env=env) for _ in range(3)]
    try:
        deadline = time.monotonic() + 90
        while mailbox.count() < count and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)
    finally:
        outputs = [stop(w) for w in workers]
    recipients = sorted(str(m["To"]) for m in mailbox.messages)
    assert recipients == sorted(f"user{n}@example.com" for n in range(count)), outputs
    assert {r.status for r in rows()} == {"sent"}


def test_a_claim_is_won_once_and_an_expired_lease_is_taken_over(foyer_app, tenant):
    worker_of(foyer_app).autostart = False
    row = outbox.queue_email(EmailMessage(to="a@example.com", subject="s", text="t"), tenant)
    session.commit()
    now = utcnow()
    assert outbox.claim(row.id, now)
    assert not outbox.claim(row.id, now)  # another worker finds it taken
    later = now + outbox.LEASE + dt.timedelta(seconds=1)
    assert outbox.claim(row.id, later)  # its worker died: the lease ran out


def test_backoff_doubles_with_jitter_and_a_cap():
    delays = [outbox.retry_delay(n, 30.0) for n in range(1, 6)]
    for n, delay in enumerate(delays, start=1):
        assert 30.0 * 2 ** (n - 1) <= delay <= 33.0 * 2 ** (n - 1)
    assert outbox.retry_delay(40, 30.0) <= outbox.MAX_RETRY_DELAY * 1.1
    assert outbox.retry_delay(3, 0.0) == 0.0


def test_failed_mail_waits_for_its_backoff_then_is_given_up(
    foyer_app, tenant, recorded_events, outbox_settings
):
    outbox_settings(mail_retry_seconds=60.0, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    outbox.queue_email(EmailMessage(to="a@example.com", subject="s", text="t"), tenant)
    session.commit()
    assert wait_for_background(foyer_app)
    (row,) = rows()
    assert (row.status, row.attempts, row.last_error) == ("queued", 1, "no plugin delivered it")
    assert dt.timedelta(seconds=59) < row.next_attempt_at - utcnow() <= dt.timedelta(seconds=67)
    assert outbox.send_due() is not None and rows()[0].attempts == 1  # not due yet
    for _ in range(2):  # the backoff has passed, twice
        session.execute(sa.update(OutgoingMail).values(next_attempt_at=utcnow()))
        session.commit()
        outbox.send_due()
    (row,) = rows()
    assert (row.status, row.attempts) == ("dead", 3)
    assert recorded_events("email_failed")[0].data == {"purpose": "", "attempts": 3}
    stats = outbox.queue_stats()
    assert stats["by_status"]["dead"] == 1
    assert stats["attempts_by_this_process"]["given_up"] >= 1
    assert stats["attempts_by_this_process"]["failed"] >= 2
    worker_of(foyer_app).stop()  # look at the row before a worker takes it
    assert outbox.requeue() == 1
    assert (rows()[0].status, rows()[0].attempts) == ("queued", 0)


@pytest.fixture
def outbox_settings(foyer_app) -> t.Iterator[t.Callable[..., None]]:
    settings = foyer_app.extensions["foyer.settings"]
    saved = dict(vars(settings))

    def change(**values: t.Any) -> None:
        for name, value in values.items():
            setattr(settings, name, value)

    yield change
    vars(settings).update(saved)


def test_the_served_app_sends_what_a_killed_process_left(env, user, mailbox):
    """What ``foyer run`` serves (``app.wsgi`` under gunicorn, two workers) sends rows it did
    not queue itself, found by polling: each once."""
    queuing = start(QUEUE_THEN_HANG, user.id, env={**env, "FOYER_WORKER_IN_PROCESS": "false"})
    try:
        assert queuing.stdout is not None
        assert queuing.stdout.readline().strip() == "queued", stop(queuing)
    finally:
        queuing.kill()
        queuing.wait()
    assert [r.status for r in rows()] == ["queued"]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--no-control-socket"]
        + ["--bind", f"127.0.0.1:{free_port()}", "app.wsgi:app"],
        env={**env, "FOYER_WORKER_POLL_SECONDS": "0.2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        mailbox.wait_for(user.email, "Reset", timeout=60)
        time.sleep(1.5)
        assert mailbox.count() == 1
    finally:
        output = stop(server)
    assert [r.status for r in rows()] == ["sent"], output


def metric_samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` parsed with the Prometheus client's parser: value by (name, labels)."""
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    answer = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for s in family.samples
    }


METRICS_TOKEN = "metrics-token-of-the-outbox-test-0123456789"


def test_the_worker_reports_the_queue_depth_and_each_attempt(
    foyer_app, client, tenant, outbox_settings, mailbox
):
    down = f"smtp://127.0.0.1:{free_port()}"  # nothing listens: every attempt fails
    outbox_settings(mail_retry_seconds=60.0, smtp_url=down, metrics_token=METRICS_TOKEN)
    before = metric_samples(client)
    for n in range(3):
        outbox.queue_email(EmailMessage(to=f"u{n}@example.com", subject="s", text="t"), tenant)
    session.commit()
    assert wait_for_background(foyer_app)  # the worker's pass: three failures, retried later
    after = metric_samples(client)
    assert after[("foyer_email_queue_depth", ())] == 3
    retried = ("foyer_emails_total", (("result", "retried"),))
    assert after[retried] - before.get(retried, 0) == 3
    outbox_settings(smtp_url=f"smtp://127.0.0.1:{mailbox.port}")
    session.execute(sa.update(OutgoingMail).values(next_attempt_at=utcnow()))
    session.commit()
    worker_of(foyer_app).kick()
    assert wait_for_background(foyer_app)
    sent = metric_samples(client)
    assert sent[("foyer_email_queue_depth", ())] == 0
    sent_key = ("foyer_emails_total", (("result", "sent"),))
    assert sent[sent_key] - before.get(sent_key, 0) == 3


class LateAnswerMailbox(Mailbox):
    """An SMTP server that keeps the first message it gets but answers as if it had failed
    (what a slow server looks like to a sender that gave up waiting): the sender retries."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = 0

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:  # noqa: N802
        await super().handle_DATA(server, session, envelope)
        self.answers += 1
        return "451 4.3.0 try again later" if self.answers == 1 else "250 OK"


def test_a_retried_email_carries_the_same_message_id(foyer_app, tenant, outbox_settings):
    """Both copies of a retried email name the same ``Message-ID`` (the outbox row's), so
    the receiving mail system can keep one; another email names another."""
    box = LateAnswerMailbox()
    box.start(free_port())
    try:
        outbox_settings(
            smtp_url=f"smtp://127.0.0.1:{box.port}", mail_from="Foyer <no-reply@acme.test>"
        )
        outbox.queue_email(EmailMessage(to="a@example.com", subject="Reset", text="t"), tenant)
        session.commit()
        assert wait_for_background(foyer_app)
        outbox.queue_email(EmailMessage(to="b@example.com", subject="Other", text="t"), tenant)
        session.commit()
        assert wait_for_background(foyer_app)
    finally:
        box.stop()
    first, retried, other = box.messages
    assert [str(m["To"]) for m in box.messages] == ["a@example.com"] * 2 + ["b@example.com"]
    assert first["Message-ID"] == retried["Message-ID"] != other["Message-ID"]
    assert all(m["Date"] and m["Date"].datetime.tzinfo is not None for m in box.messages)
    sent = {r.recipient: r for r in rows()}
    assert first["Message-ID"] == f"<{sent['a@example.com'].id}@acme.test>"
    assert (sent["a@example.com"].status, sent["a@example.com"].attempts) == ("sent", 2)
