"""Kibana saved-objects import and readiness, against a local server that answers as Kibana documents."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import time
from pathlib import Path

import pytest

from pipeline import kibana
from tests.unit.deploy.conftest import FakeServer, Request

DATA_VIEW = {"type": "index-pattern", "id": "akhbar-articles", "attributes": {"title": "akhbar-articles"}}
DASHBOARD = {
    "type": "dashboard",
    "id": "akhbar-overview",
    "attributes": {"title": "أخبار"},
    "references": [{"type": "index-pattern", "id": "akhbar-articles", "name": "ref0"}],
}
AVAILABLE = {"version": {"number": "9.5.3"}, "status": {"overall": {"level": "available", "summary": "ok"}}}


@pytest.fixture
def objects_dir(tmp_path: Path) -> Path:
    (tmp_path / "10-data-view.ndjson").write_text(json.dumps(DATA_VIEW) + "\n", encoding="utf-8")
    # no trailing newline and a blank line: both files must still make one valid NDJSON payload
    (tmp_path / "20-dashboard.ndjson").write_text("\n" + json.dumps(DASHBOARD, ensure_ascii=False), encoding="utf-8")
    return tmp_path


def multipart_file(request: Request) -> tuple[str, str, bytes]:
    """(field name, filename, content) of the single part of a multipart/form-data request."""
    raw = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode() + request.body
    message = email.message_from_bytes(raw, policy=email.policy.HTTP)
    [part] = list(message.iter_parts())
    name = part.get_param("name", header="content-disposition")
    return str(name), str(part.get_filename()), bytes(part.get_payload(decode=True))


def client_for(server: FakeServer, password: str = "secret") -> kibana.httpx.Client:
    return kibana.kibana_client(server.url, "elastic", password, timeout=5)


def test_import_sends_one_multipart_ndjson_with_xsrf_and_overwrite(fake_server: FakeServer, objects_dir: Path):
    fake_server.route("POST", kibana.IMPORT_PATH, (200, {"success": True, "successCount": 2, "successResults": []}))
    with client_for(fake_server) as client:
        result = kibana.import_saved_objects(client, kibana.saved_object_files(objects_dir))

    assert result.success_count == 2
    assert result.files == ["10-data-view.ndjson", "20-dashboard.ndjson"]
    [request] = fake_server.requests
    assert request.path == "/api/saved_objects/_import?overwrite=true"
    assert request.headers["kbn-xsrf"] == "true"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"elastic:secret").decode()
    name, filename, content = multipart_file(request)
    assert name == "file" and filename.endswith(".ndjson")
    lines = content.decode("utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["akhbar-articles", "akhbar-overview"]
    assert json.loads(lines[1])["attributes"]["title"] == "أخبار"


def test_partial_failure_is_an_error_naming_each_object(fake_server: FakeServer, objects_dir: Path):
    body = {
        "success": False,
        "successCount": 1,
        "errors": [
            {
                "id": "akhbar-overview",
                "type": "dashboard",
                "title": "نظرة عامة",
                "error": {"type": "missing_references", "references": [{"type": "lens", "id": "akhbar-top-places"}]},
            },
            {"id": "akhbar-map", "type": "map", "meta": {"title": "map"}, "error": {"type": "unsupported_type"}},
        ],
    }
    fake_server.route("POST", kibana.IMPORT_PATH, (200, body))
    with client_for(fake_server) as client, pytest.raises(kibana.KibanaError) as info:
        kibana.import_saved_objects(client, kibana.saved_object_files(objects_dir))
    message = str(info.value)
    assert "failed on 2" in message
    assert "dashboard/akhbar-overview (نظرة عامة): missing_references lens/akhbar-top-places" in message
    assert "map/akhbar-map (map): unsupported_type" in message


def test_success_flag_false_without_errors_is_still_an_error(fake_server: FakeServer, objects_dir: Path):
    fake_server.route("POST", kibana.IMPORT_PATH, (200, {"success": False, "successCount": 0}))
    with client_for(fake_server) as client, pytest.raises(kibana.KibanaError, match="no details given"):
        kibana.import_saved_objects(client, kibana.saved_object_files(objects_dir))


def test_unauthorized_import_says_which_credentials_to_check(fake_server: FakeServer, objects_dir: Path):
    unauthorized = {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "[security_exception]: unable to authenticate",
    }
    fake_server.route("POST", kibana.IMPORT_PATH, (401, unauthorized))
    with client_for(fake_server, "wrong") as client, pytest.raises(kibana.KibanaError) as info:
        kibana.import_saved_objects(client, kibana.saved_object_files(objects_dir))
    assert "HTTP 401" in str(info.value) and "ELASTIC_PASSWORD" in str(info.value)


def test_bad_request_carries_kibana_message(fake_server: FakeServer, objects_dir: Path):
    fake_server.route("POST", kibana.IMPORT_PATH, (400, {"statusCode": 400, "message": "Invalid file extension .txt"}))
    with client_for(fake_server) as client, pytest.raises(kibana.KibanaError, match="Invalid file extension"):
        kibana.import_saved_objects(client, kibana.saved_object_files(objects_dir))


def test_unreachable_kibana_on_import(closed_port_url: str, objects_dir: Path):
    with (
        kibana.kibana_client(closed_port_url, timeout=2) as client,
        pytest.raises(kibana.KibanaError, match="cannot reach"),
    ):
        kibana.import_saved_objects(client, kibana.saved_object_files(objects_dir))


def test_broken_ndjson_is_reported_with_file_and_line(tmp_path: Path):
    (tmp_path / "objects.ndjson").write_text(json.dumps(DATA_VIEW) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(kibana.KibanaError, match=r"objects\.ndjson:2: not a JSON object"):
        kibana.bundle(kibana.saved_object_files(tmp_path))


def test_no_saved_objects_is_an_error(tmp_path: Path):
    with pytest.raises(kibana.KibanaError, match="no saved objects"):
        kibana.saved_object_files(tmp_path)


def test_wait_polls_until_kibana_is_available(fake_server: FakeServer):
    answers = iter([(503, {"message": "Kibana server is not ready yet"}),
                    (200, {"status": {"overall": {"level": "unavailable", "summary": "migrating"}}}),
                    (200, AVAILABLE)])  # fmt: skip
    fake_server.route("GET", kibana.STATUS_PATH, lambda _request: next(answers))
    with client_for(fake_server) as client:
        version = kibana.wait_until_available(client, time.monotonic() + 10, poll=0.01)
    assert version == "9.5.3"
    assert len(fake_server.requests) == 3


def test_wait_fails_at_once_on_wrong_credentials(fake_server: FakeServer):
    fake_server.route("GET", kibana.STATUS_PATH, (401, {"statusCode": 401, "message": "Unauthorized"}))
    started = time.monotonic()
    with client_for(fake_server) as client, pytest.raises(kibana.KibanaError, match="HTTP 401"):
        kibana.wait_until_available(client, time.monotonic() + 30, poll=0.5)
    assert time.monotonic() - started < 5


def test_wait_gives_up_at_the_deadline_with_the_last_reason(fake_server: FakeServer):
    fake_server.route("GET", kibana.STATUS_PATH, (503, {"message": "Kibana server is not ready yet"}))
    with client_for(fake_server) as client, pytest.raises(kibana.KibanaError, match=r"not available in time.*HTTP 503"):
        kibana.wait_until_available(client, time.monotonic() + 0.3, poll=0.05)


def test_wait_gives_up_when_unreachable(closed_port_url: str):
    client = kibana.kibana_client(closed_port_url, timeout=1)
    with client, pytest.raises(kibana.KibanaError, match=r"not available in time.*ConnectError"):
        kibana.wait_until_available(client, time.monotonic() + 0.3, poll=0.05)
