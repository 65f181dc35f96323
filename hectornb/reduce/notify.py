"""E-mail notifications of the Reduce service, over SMTP (``HECTORNB_SMTP_*``)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from ..config import Settings


def send(settings: Settings, to: str, subject: str, body: str) -> str:
    """Send one plain-text message; returns what happened, for the job's events.

    Never raises: a mail server that is down must not fail a reduction.
    """
    if not settings.smtp_host:
        return f"no e-mail to {to}: no SMTP server configured (HECTORNB_SMTP_HOST)"
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        return f"e-mail to {to} failed: {type(exc).__name__}: {exc}"
    return f"e-mail sent to {to}: {subject}"
