"""smtp: one email per message, to the recipient's address, through a relay.

Settings: `host`, `sender` (required; "整改办 <zhenggai@example.gov.cn>" or a bare address),
`port`, `security` (starttls | ssl | none), `username`, `password` (env:NAME), `verify` (check the
server's certificate; default true), `timeout` (seconds; default 10).

`security` and `port` default from each other: ssl ↔ 465, starttls ↔ 587, none ↔ 25. With
neither given: port 25 and no TLS, unless a `username` is set: then starttls on 587, so a
password never crosses the network in clear by default (write `security: none` to allow it).

Each message is multipart/alternative (text/plain + text/html, UTF-8), with a Message-ID derived
from the idempotency key (`<key@rectify>`; a key that is not a valid dot-atom is hashed) and the
key itself in `X-Rectify-Key`, so a resend of the same row carries the same Message-ID.

Errors: 4xx replies, refused or dropped connections and timeouts are retryable; 5xx replies are
not (including 535 authentication failed and a 5xx on STARTTLS); a server that does not offer
STARTTLS while `security: starttls` and a certificate that does not verify are not retryable
either (the configuration must change first).
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Final

from notifications.channels.settings import DEFAULT_TIMEOUT, Settings
from notifications.message import Outgoing, SendError

SECURITY: Final = ("starttls", "ssl", "none")
_PORT_FOR: Final = {"ssl": 465, "starttls": 587, "none": 25}
_SECURITY_FOR: Final = {465: "ssl", 587: "starttls"}

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*\Z")
_MAX_KEY: Final = 48
"""`Message-ID: <key@rectify>` stays within 78 characters."""


def message_id(key: str, domain: str = "rectify") -> str:
    """`<key@domain>`; a key that cannot stand as the left part of a Message-ID (spaces, '@',
    non-ASCII, …) or that would not fit the header on one line (receivers compare Message-IDs
    as strings; a folded one may come back with a leading space) is replaced by the first 128
    bits of its SHA-256 in hex, so the same key always gives the same id."""
    if _DOT_ATOM.match(key) and len(key) <= _MAX_KEY:
        return f"<{key}@{domain}>"
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class SmtpChannel:
    dedupes: bool = True
    """The Message-ID is derived from the idempotency key (see notifications.channels.protocol)."""

    def __init__(self, name: str, host: str, sender: str, *, port: int | None = None,
                 security: str | None = None, username: str | None = None,
                 password: str | None = None, verify: bool = True,
                 timeout: float = DEFAULT_TIMEOUT, per_minute: int | None = None) -> None:
        if security is None:
            security = _SECURITY_FOR.get(port or 0, "starttls" if username else "none")
        if security not in SECURITY:
            raise ValueError(f"security must be one of {SECURITY}, not {security!r}")
        self.name = name
        self.host = host
        self.sender = sender
        self.security = security
        self.port = port if port is not None else _PORT_FOR[security]
        self.username = username
        self._password = password
        self.verify = verify
        self.timeout = timeout
        self.per_minute = per_minute
        self.envelope_from = parseaddr(sender)[1]

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpChannel:
        host = settings.text("host")
        sender = settings.text("sender")
        if "@" not in parseaddr(sender)[1]:
            raise settings.error("sender", f"{sender!r} is not an email address")
        username = settings.optional_text("username")
        password = settings.optional_text("password")
        if password is not None and not username:
            raise settings.error("username", "missing (required when a password is set)")
        return cls(settings.channel, host, sender,
                   port=settings.optional_integer("port", 1, 65535),
                   security=settings.choice("security", SECURITY),
                   username=username or None, password=password,
                   verify=settings.flag("verify", True),
                   timeout=settings.seconds(),
                   per_minute=settings.per_minute(None))

    def __repr__(self) -> str:
        return f"SmtpChannel({self.name!r}, {self.host}:{self.port}, {self.security})"

    # -- the message -------------------------------------------------------------------------

    def compose(self, msg: Outgoing) -> EmailMessage:
        """The email for `msg` (SendError, not retryable, when the recipient has no usable
        address)."""
        r = msg.recipient
        if not r.email or not r.email.strip():
            raise SendError(f"smtp {self.name}: {r.person} has no email address",
                            retryable=False)
        if "@" not in r.email:
            raise SendError(f"smtp {self.name}: {r.person}'s email {r.email!r} is not an "
                            "address", retryable=False)
        try:
            to = Address(display_name=_one_line(r.name), addr_spec=r.email.strip())
            mail = EmailMessage()
            mail["From"] = self.sender
            mail["To"] = to
            mail["Subject"] = _one_line(msg.content.subject)
            mail["Date"] = formatdate(localtime=True)
            mail["Message-ID"] = message_id(msg.idempotency_key)
            mail["X-Rectify-Key"] = _one_line(msg.idempotency_key)
            mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
            mail.set_content(msg.content.text, charset="utf-8")
            mail.add_alternative(msg.content.html, subtype="html", charset="utf-8")
        except (ValueError, TypeError, IndexError, MessageError) as exc:
            # email raises these for an unparsable address or a header it cannot write
            raise SendError(f"smtp {self.name}: cannot write the message to {r.email!r}: {exc}",
                            retryable=False) from None
        return mail

    # -- sending -----------------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def send(self, msg: Outgoing) -> None:
        mail = self.compose(msg)
        rcpt = (msg.recipient.email or "").strip()
        where = f"smtp {self.name} ({self.host}:{self.port})"
        client: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=self._context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                client.starttls(context=self._context())
                client.ehlo()
            if self.username:
                client.login(self.username, self._password or "")
            client.send_message(mail, from_addr=self.envelope_from, to_addrs=[rcpt])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            raise SendError(f"{where}: {rcpt} refused: {code} {_decode(reply)}",
                            retryable=not 500 <= code < 600) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendError(f"{where}: {exc}", retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            code = exc.smtp_code
            raise SendError(f"{where}: {code} {_decode(exc.smtp_error)}",
                            retryable=not 500 <= code < 600) from None
        except ssl.SSLCertVerificationError as exc:
            raise SendError(f"{where}: TLS certificate not accepted: {exc}",
                            retryable=False) from None
        except TimeoutError:
            raise SendError(f"{where}: no answer within {self.timeout:g} s",
                            retryable=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            # refused connection, disconnects, TLS handshake failures, DNS failures
            raise SendError(f"{where}: {exc!r}", retryable=True) from None
        finally:
            if client is not None:
                _quit(client)


def _quit(client: smtplib.SMTP) -> None:
    """QUIT, ignoring what goes wrong: the message was sent or has already failed."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _decode(reply: bytes | str) -> str:
    text = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else reply
    return _one_line(text)
