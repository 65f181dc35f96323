"""UWS 1.1 documents: a job, the job list, a job's parameters and results."""

from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import escape, quoteattr

from .uws import UwsJob

_NS = (
    'xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def iso(t: dt.datetime | None) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as UWS writes times."""
    if t is None:
        return ""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _time(tag: str, t: dt.datetime | None) -> str:
    if t is None:
        return f'<uws:{tag} xsi:nil="true"/>'
    return f"<uws:{tag}>{iso(t)}</uws:{tag}>"


def parameters(job: UwsJob) -> str:
    items = dict(job.parameters)
    if job.uploads:
        items.setdefault("upload", "")
    out = []
    for k, v in items.items():
        if k == "upload":
            v = ";".join(f"{u['name']},{u.get('uri', '')}" for u in job.uploads) or v
        out.append(f"<uws:parameter id={quoteattr(k)}>{escape(str(v))}</uws:parameter>")
    return "<uws:parameters>" + "".join(out) + "</uws:parameters>"


def results(job: UwsJob, job_url: str) -> str:
    if job.phase != "COMPLETED" or not job.result_path:
        return "<uws:results/>"
    href = quoteattr(f"{job_url}/results/result")
    return (
        f'<uws:results><uws:result id="result" xlink:type="simple" xlink:href={href}'
        f"{' mime-type=' + quoteattr(job.result_type) if job.result_type else ''}/>"
        "</uws:results>"
    )


def job_document(job: UwsJob, job_url: str) -> bytes:
    owner = (
        f"<uws:ownerId>{escape(job.owner)}</uws:ownerId>"
        if job.owner
        else '<uws:ownerId xsi:nil="true"/>'
    )
    run_id = f"<uws:runId>{escape(job.run_id)}</uws:runId>" if job.run_id else ""
    error = ""
    if job.phase == "ERROR":
        message = escape(job.error or "failed")
        error = (
            '<uws:errorSummary type="fatal" hasDetail="true">'
            f"<uws:message>{message}</uws:message></uws:errorSummary>"
        )
    return (
        f'{_HEAD}<uws:job {_NS} version="1.1">'
        f"<uws:jobId>{escape(job.job_id)}</uws:jobId>{run_id}{owner}"
        f"<uws:phase>{job.phase}</uws:phase>"
        '<uws:quote xsi:nil="true"/>'
        f"{_time('creationTime', job.creation_time)}{_time('startTime', job.start_time)}"
        f"{_time('endTime', job.end_time)}"
        f"<uws:executionDuration>{job.execution_duration}</uws:executionDuration>"
        f"{_time('destruction', job.destruction)}"
        f"{parameters(job)}{results(job, job_url)}{error}</uws:job>\n"
    ).encode()


def job_list_document(jobs: list[UwsJob], list_url: str) -> bytes:
    refs = "".join(
        f'<uws:jobref id={quoteattr(j.job_id)} xlink:type="simple" '
        f"xlink:href={quoteattr(f'{list_url}/{j.job_id}')}>"
        f"<uws:phase>{j.phase}</uws:phase>"
        + (f"<uws:runId>{escape(j.run_id)}</uws:runId>" if j.run_id else "")
        + (f"<uws:ownerId>{escape(j.owner)}</uws:ownerId>" if j.owner else "")
        + f"<uws:creationTime>{iso(j.creation_time)}</uws:creationTime></uws:jobref>"
        for j in jobs
    )
    return f'{_HEAD}<uws:jobs {_NS} version="1.1">{refs}</uws:jobs>\n'.encode()


def parameters_document(job: UwsJob) -> bytes:
    body = parameters(job).replace("<uws:parameters>", f"<uws:parameters {_NS}>", 1)
    return f"{_HEAD}{body}\n".encode()


def results_document(job: UwsJob, job_url: str) -> bytes:
    body = results(job, job_url)
    body = body.replace("<uws:results", f"<uws:results {_NS}", 1)
    return f"{_HEAD}{body}\n".encode()
