from __future__ import annotations

import datetime as dt
import threading
import time

import sqlalchemy as sa

from optsearch.storage import WorkerRegistry, open_storage, study_lock
from optsearch.storage._workers import workers_table


def test_registry_records_workers_and_spots_the_dead(storage_url, study_name) -> None:
    engine = open_storage(storage_url).engine
    registry = WorkerRegistry(engine, grace_seconds=30)
    alive = registry.register(study_name, "GPU 0 (test)")
    gone = registry.register(study_name, "CPU")
    registry.update(alive, current_trial=7, current_epoch=3, trials_finished=2)
    # A worker that stopped beating a minute ago: killed, or its machine is gone.
    with engine.begin() as connection:
        connection.execute(
            workers_table.update().where(workers_table.c.id == gone)
            .values(last_heartbeat=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=1))
        )
    done = registry.register(study_name, "CPU")
    registry.update(done, state="finished", message="stopped: target")
    rows = {w.id: w for w in registry.workers(study_name)}
    assert rows[alive].shown_state == "running" and rows[alive].current_trial == 7
    assert rows[alive].device == "GPU 0 (test)" and rows[alive].trials_finished == 2
    assert rows[gone].shown_state == "dead" and not rows[gone].alive
    assert rows[done].shown_state == "finished"
    assert registry.workers("another-study") == [] or all(
        w.study_name == "another-study" for w in registry.workers("another-study")
    )


def test_registry_table_lives_beside_optunas(storage_url) -> None:
    engine = open_storage(storage_url).engine
    WorkerRegistry(engine, grace_seconds=30)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"optsearch_workers", "studies", "trials"} <= tables


def test_study_lock_excludes_other_holders(storage_url, study_name) -> None:
    engine = open_storage(storage_url).engine
    inside: list[str] = []
    errors: list[BaseException] = []

    def hold(tag: str) -> None:
        try:
            with study_lock(engine, study_name):
                inside.append(f"{tag}-in")
                time.sleep(0.3)
                inside.append(f"{tag}-out")
        except BaseException as exc:  # surfaced below: a thread's error would be lost
            errors.append(exc)

    threads = [threading.Thread(target=hold, args=(t,)) for t in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    # Never interleaved: one holder leaves before the other enters.
    assert inside in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])
