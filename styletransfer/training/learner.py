"""The queue of paintings to learn (learn.py): one job at a time, each in a process of its own.

``Learner`` takes a painting (``submit`` checks it and answers at once with a job id), keeps
the jobs in folders on disk (learn.jobs_folder()) and runs them one after another on a worker
thread, each as ``python -m styletransfer.training.learn JOB_FOLDER``, niced: a process can be
ended at once (``cancel``), cannot take the app down with it, and gives the CPU to the app's
own requests first. What a job says about itself (learn.JobStatus) is read from its folder, so
a page reloaded, another visitor, or a Learner made after a restart sees the same; jobs a
stopped app left queued or running go on (a running one from its last checkpoint).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.training import learn
from styletransfer.training.learn import FINISHED, JOB_FILE, JobStatus, LearnConfig

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding styletransfer/
_JOB_ID = re.compile(r"[0-9a-f]{12}")
POLL_S = 0.2  # how often the worker thread looks at its process (a cancel ends it within this)
STOP_GRACE_S = 5.0  # a cancelled process's time to end on SIGTERM before it is killed
KEEP_FINISHED_S = 7 * 24 * 3600  # a finished job's folder (its painting, preview, log) goes after a week


class Learner:
    """The app's learning jobs. ``home``: the user's folder (default learn.home()); ``config``:
    how each job learns (default LearnConfig.from_env())."""

    def __init__(self, config: LearnConfig | None = None, home: Path | None = None):
        self.config = config or LearnConfig.from_env()
        self.home = Path(home) if home is not None else learn.home()
        self.jobs_folder = learn.jobs_folder(self.home)
        self.learned = learn.learned_folder(self.home)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._process: subprocess.Popen | None = None
        self._cancelled: set[str] = set()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._recover()

    # ---------------------------------------------------------------- what callers use

    def submit(self, painting, name: str = "") -> str:
        """Queue ``painting`` (a file) to be learned as ``name`` (default: the file's name, made
        unique); returns the job's id. A file that is not a usable image raises
        StyleTransferError with images' one line, before anything is queued."""
        painting = Path(painting)
        images.open_image(painting)  # decodes it: a damaged or foreign file fails here, in one line
        title = " ".join(name.split()) or painting.stem.replace("_", " ")
        with self._lock:
            if self._closed:
                raise StyleTransferError("the learning queue is shut down")
            taken = learn.taken_names(self.config.models or None, self.learned)
            taken |= {s.name for s in self._statuses() if s.state not in FINISHED}
            chosen = learn.unique_name(learn.style_name(title), taken)
            job_id = uuid.uuid4().hex[:12]
            folder = self.jobs_folder / job_id
            folder.mkdir(parents=True)
            kept = f"painting{painting.suffix.lower() or '.img'}"
            shutil.copyfile(painting, folder / kept)
            request = {
                "id": job_id,
                "name": chosen,
                "title": title,
                "painting": kept,
                "learned": str(self.learned),
                "config": dataclasses.asdict(self.config),
            }
            (folder / JOB_FILE).write_text(json.dumps(request, indent=1) + "\n")
            JobStatus(id=job_id, name=chosen, title=title, created=time.time()).write(folder)
        self._start_worker()
        self._wake.set()
        return job_id

    def status(self, job_id: str) -> JobStatus:
        """Where the job stands; a queued one says how many jobs are before it (``ahead``)."""
        with self._lock:
            statuses = self._statuses()
        valid = isinstance(job_id, str) and _JOB_ID.fullmatch(job_id)
        found = next((s for s in statuses if s.id == job_id), None) if valid else None
        if found is None:
            raise StyleTransferError(f"no learning job {job_id!r} here (its app was reset, or the id is wrong)")
        if found.state == "queued":
            queued = [s for s in statuses if s.state == "queued"]
            running = any(s.state == "running" for s in statuses)
            found.ahead = queued.index(found) + running
        return found

    def jobs(self) -> list[JobStatus]:
        """Every job, the oldest first."""
        with self._lock:
            return self._statuses()

    def cancel(self, job_id: str) -> JobStatus:
        """End a queued or running job; what it had published goes too. A finished job stays."""
        status = self.status(job_id)
        with self._lock:
            if status.state == "queued":
                self._finish(status, "cancelled")
            elif status.state == "running":
                self._cancelled.add(job_id)  # the worker thread ends the process and records it
        if status.state == "running":
            while self.status(job_id).state == "running" and self._thread is not None and self._thread.is_alive():
                time.sleep(POLL_S)
        return self.status(job_id)

    def wait(self, job_id: str, timeout: float) -> JobStatus:
        """The job's status once it has finished, or after ``timeout`` seconds (tests, scripts)."""
        end = time.monotonic() + timeout
        while (status := self.status(job_id)).state not in FINISHED and time.monotonic() < end:
            time.sleep(POLL_S)
        return status

    def close(self) -> None:
        """Stop the worker (a running job's process too); queued jobs stay on disk for later."""
        with self._lock:
            self._closed = True
            process = self._process
        self._wake.set()
        if process is not None:
            _end(process)
        if self._thread is not None:
            self._thread.join(timeout=STOP_GRACE_S * 2)

    # ---------------------------------------------------------------- the worker

    def _start_worker(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._work, name="styletransfer-learn", daemon=True)
                self._thread.start()
                atexit.register(self.close)  # no job process outlives the app

    def _work(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                job = next((s for s in self._statuses() if s.state == "queued"), None)
                if job is None:
                    self._wake.clear()
                else:  # marked under the lock: a cancel now finds it running
                    job.state = "running"
                    job.write(self.jobs_folder / job.id)
            if job is None:
                self._wake.wait()
                continue
            try:
                self._run(job)
            finally:
                with self._lock:
                    self._process = None

    def _run(self, status: JobStatus) -> None:
        folder = self.jobs_folder / status.id
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
        with open(folder / "log.txt", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "styletransfer.training.learn", str(folder)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        with self._lock:
            self._process = process
        while process.poll() is None:
            with self._lock:
                stop = status.id in self._cancelled or self._closed
            if stop:
                _end(process)
                break
            time.sleep(POLL_S)
        with self._lock:
            ended = JobStatus.read(folder)
            if status.id in self._cancelled:
                self._cancelled.discard(status.id)
                self._finish(ended, "cancelled")
            elif self._closed and ended.state == "running":
                pass  # the app is stopping: a later Learner resumes it
            elif ended.state not in FINISHED:  # the process died without a word (killed, out of memory)
                ended.error = (
                    _last_line(folder / "log.txt") or f"the learning process ended (exit {process.returncode})"
                )
                self._finish(ended, "failed")

    # ---------------------------------------------------------------- on disk

    def _statuses(self) -> list[JobStatus]:
        """Every job's status from its folder, the oldest first (call with the lock held)."""
        found = []
        for folder in self.jobs_folder.glob("*/"):
            try:
                found.append(JobStatus.read(folder))
            except (OSError, ValueError, TypeError):
                continue  # a folder being made, or not a job's
        return sorted(found, key=lambda s: (s.created, s.id))

    def _finish(self, status: JobStatus, state: str) -> None:
        status.state, status.eta_s, status.finished = state, None, time.time()
        status.ahead = 0
        if state == "cancelled":
            learn.unpublish(status.name, self.learned)
            status.archs_done = []
        status.write(self.jobs_folder / status.id)

    def _recover(self) -> None:
        """Jobs a stopped app left: running ones are queued again (they go on from their
        checkpoints), in their old order; the worker starts if any wait. Jobs finished more
        than KEEP_FINISHED_S ago are removed (their styles stay in the learned folder)."""
        with self._lock:
            statuses = self._statuses()
            for status in statuses:
                if status.state in FINISHED and time.time() - status.finished > KEEP_FINISHED_S:
                    shutil.rmtree(self.jobs_folder / status.id, ignore_errors=True)
                elif status.state == "running":
                    status.state = "queued"
                    status.write(self.jobs_folder / status.id)
        if any(s.state in ("queued", "running") for s in statuses):
            self._start_worker()


def _end(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not ended within STOP_GRACE_S."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _last_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""
