"""Files in S3 as a source (CSV, JSON, JSON Lines): full and incremental syncs copy exactly the rows."""

from __future__ import annotations

import csv
import io
import json
import time

import boto3
import pytest

from tests.functional.test_engine import drain, immediate_retries  # noqa: F401
from tests.functional.test_sources import written_ids

BUCKET = "synchub-sources-test"


def encode(fmt, rows):
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode()
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows).encode()
    return json.dumps({"records": rows}).encode()


def put_files(fmt, first_file, files, per_file=137):
    s3 = boto3.client("s3")
    for n in range(first_file, first_file + files):
        rows = [{"id": n * 1000 + i, "name": f"row {n}-{i}"} for i in range(per_file)]
        s3.put_object(Bucket=BUCKET, Key=f"exports/orders/file-{n:03d}.{fmt}", Body=encode(fmt, rows))


def expected_ids(first_file, files, per_file=137):
    return [n * 1000 + i for n in range(first_file, first_file + files) for i in range(per_file)]


@pytest.fixture(params=["csv", "json", "jsonl"])
def files_source(request, api, aws):
    fmt = request.param
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("s3").put_object(Bucket=BUCKET, Key="elsewhere/ignored.csv", Body=b"id\n1\n")
    params = {"prefix": "exports/orders/"}
    if fmt == "json":
        params["records_path"] = "records"
    response = api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_files",
            "name": "files",
            "type": fmt,
            "connection_config": {"bucket": BUCKET},
            "params_config": params,
        },
    )
    assert response.status == 201, response.text
    return fmt


def run(api, aws, task_type):
    task = api.post(
        "/api/sync/tasks", {"data_source_id": "ds_files", "task_type": task_type, "parameters": {"batch_size": 200}}
    ).json
    drain(aws)
    return api.get(f"/api/sync/tasks/{task['id']}").json


def as_int(ids):
    return [int(i) for i in ids]


def test_full_sync_of_files(api, aws, files_source):
    put_files(files_source, 1, 4)
    done = run(api, aws, "full_sync")
    assert done["status"] == "success", done
    assert as_int(written_ids(aws, done)) == expected_ids(1, 4)


def test_incremental_sync_takes_only_files_modified_since(api, aws, files_source):
    put_files(files_source, 1, 3)
    first = run(api, aws, "incremental_sync")
    assert as_int(written_ids(aws, first)) == expected_ids(1, 3)
    time.sleep(1.1)  # S3 modification times have one-second resolution
    put_files(files_source, 4, 2)
    second = run(api, aws, "incremental_sync")
    assert second["status"] == "success"
    assert as_int(written_ids(aws, second)) == expected_ids(4, 2)
    assert run(api, aws, "incremental_sync")["processed_rows"] == 0


def test_broken_file_fails_the_task_with_its_name(api, aws, files_source):
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"exports/orders/bad.{files_source}", Body=b"\x00{not[valid")
    if files_source == "csv":
        pytest.skip("any bytes parse as some CSV")
    done = run(api, aws, "full_sync")
    assert done["status"] == "failed" and "bad." in done["error_message"]


def test_realtime_picks_up_new_files_until_cancelled(api, aws, files_source):
    put_files(files_source, 1, 2)
    task = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": "ds_files",
            "task_type": "realtime_sync",
            "parameters": {"batch_size": 200, "poll_interval": 1},
        },
    ).json
    drain(aws)
    assert api.get(f"/api/sync/tasks/{task['id']}").json["processed_rows"] == 2 * 137
    time.sleep(1.1)
    put_files(files_source, 3, 1)
    time.sleep(1.1)
    drain(aws)
    assert api.get(f"/api/sync/tasks/{task['id']}").json["processed_rows"] == 3 * 137
    assert api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 202
    time.sleep(1.1)
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "cancelled"
    assert as_int(written_ids(aws, done)) == expected_ids(1, 3)


def test_a_file_written_in_the_same_second_as_the_last_one_read_is_read_next_time(api, aws, files_source, monkeypatch):
    """S3 keeps modification times to the second: a file written in the second the last run ended at is read by
    the next run, and the files already read are not read again."""
    from datetime import datetime, timezone

    from synchub.connectors.files import S3FileSource

    listed = S3FileSource._call

    def one_second(self, operation, **params):  # every object modified in the same second, as S3 may say
        answer = listed(self, operation, **params)
        for item in answer.get("Contents", []) if operation == "list_objects_v2" else ():
            item["LastModified"] = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)
        return answer

    monkeypatch.setattr(S3FileSource, "_call", one_second)
    put_files(files_source, 1, 2)
    assert as_int(written_ids(aws, run(api, aws, "incremental_sync"))) == expected_ids(1, 2)
    put_files(files_source, 3, 1)
    later = run(api, aws, "incremental_sync")
    assert later["status"] == "success" and as_int(written_ids(aws, later)) == expected_ids(3, 1)
    assert run(api, aws, "incremental_sync")["processed_rows"] == 0
