"""The project folder of a search, and who holds it.

``search.json`` names what is being searched (``identity``), so rerunning
the same command resumes it and a different search there is refused
(``check_project``). Distributed search is KerasTuner's own: every process
runs the same command; ``KERASTUNER_TUNER_ID=chief`` holds the oracle (a
gRPC server at ``KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT``), any other
id is a worker that asks it for trials and trains them
(``distributed_role``). Nothing here imports TensorFlow.
"""

import json
import os

from ..errors import UserError
from .reporting import format_seconds

PROJECT_NAME = "trials"          # KerasTuner's folder inside --project-dir
IDENTITY_FILE = "search.json"    # what this --project-dir searches
CHIEF_WAIT = 600.0               # seconds a worker waits for its chief to answer

# How trials are trained and scored, recorded in search.json: a project
# folder whose trials were scored another way (an earlier version of these
# scripts) is not resumed, since its scores would not compare.
SCORING = "successive halving by 3, v4"

# settings that may change between runs of one search: more candidates,
# more time
RESUMABLE = ("max_trials", "time_limit")


def identity(settings, script, dataset, **extra):
    """What defines a search, for ``search.json``: the same values resume it."""
    recorded = {k: v for k, v in settings.as_dict().items() if k not in RESUMABLE}
    recorded.update({"script": script, "scoring": SCORING,
                     "dataset": os.path.abspath(dataset) if dataset else "keras:cifar10"})
    recorded.update(extra)
    return recorded


def announce(settings, projectDir, role, recorded, identity):
    """Record the search in ``projectDir`` (chief or single process) and say
    what this process does: a new search, a resumed one, or a worker."""
    if role != "worker":
        write_identity(projectDir, identity)
    address = (f"{os.environ.get('KERASTUNER_ORACLE_IP')}:"
               f"{os.environ.get('KERASTUNER_ORACLE_PORT')}")
    if role == "chief":
        print(f"[INFO] chief: serving the search at {address}; the workers train the trials")
    elif role == "worker":
        print(f"[INFO] worker {os.environ['KERASTUNER_TUNER_ID']}: training the trials "
              f"the chief at {address} hands out")
    if role != "worker":
        if recorded:
            print(f"[INFO] resuming the search in {projectDir}: {recorded} finished "
                  f"trial(s) kept, up to {settings.max_trials} candidate(s) in all")
        else:
            print(f"[INFO] searching {settings.max_trials} candidate network(s), kept in "
                  f"{projectDir}")
    if settings.time_limit is not None:
        print(f"[INFO] time limit: {format_seconds(settings.time_limit * 60)} for the "
              "whole command")
def distributed_role():
    """``"single"``, ``"chief"`` or ``"worker"``, from KerasTuner's variables.

    The variables are checked here, with a clear message, because KerasTuner
    itself raises a RuntimeError deep inside the tuner for a missing one.
    """
    ip = os.environ.get("KERASTUNER_ORACLE_IP")
    if ip is None:
        return "single"
    port = os.environ.get("KERASTUNER_ORACLE_PORT")
    tunerId = os.environ.get("KERASTUNER_TUNER_ID")
    if not port:
        raise UserError("KERASTUNER_ORACLE_IP is set but KERASTUNER_ORACLE_PORT is not; "
                        "set both (and KERASTUNER_TUNER_ID) for a distributed search")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"KERASTUNER_ORACLE_PORT {port!r} is not a port number")
    if not tunerId:
        raise UserError("KERASTUNER_ORACLE_IP is set but KERASTUNER_TUNER_ID is not: "
                        "use 'chief' for the process that holds the search and "
                        "'tuner0', 'tuner1', ... for the workers")
    role = "chief" if "chief" in tunerId else "worker"
    if role == "chief":
        check_port_free(ip, int(port))
    else:
        wait_for_chief(ip, int(port), tunerId)
    return role


def check_port_free(ip, port):
    """A chief's port must be free: gRPC would report a taken one only
    after the chief has loaded everything, as a traceback."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as probe:
            # as gRPC binds: a port a crashed chief left in TIME_WAIT is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((ip, port))
    except OSError as error:
        raise UserError(f"the chief cannot serve the search at {ip}:{port} "
                        f"({error.strerror}): another process holds the port, or the "
                        f"address is not this machine's; choose another "
                        f"KERASTUNER_ORACLE_PORT") from None


def chief_wait():
    """Seconds a worker waits for its chief to answer: ``SEARCH_CHIEF_WAIT``,
    default ``CHIEF_WAIT`` (KerasTuner's own client waits an hour)."""
    try:
        wait = float(os.environ.get("SEARCH_CHIEF_WAIT", CHIEF_WAIT))
    except ValueError:
        wait = float("nan")
    if not wait > 0 or wait == float("inf"):
        raise UserError(f"SEARCH_CHIEF_WAIT {os.environ['SEARCH_CHIEF_WAIT']!r} is not a "
                        f"positive number of seconds")
    return wait


def chief_gone_message():
    """What a worker says when its chief stops answering mid-search."""
    address = f"{os.environ.get('KERASTUNER_ORACLE_IP')}:{os.environ.get('KERASTUNER_ORACLE_PORT')}"
    return (f"the chief at {address} has not answered for {format_seconds(chief_wait())}: "
            f"it stopped or cannot be reached; rerun the chief with the same command (its "
            f"finished trials are kept), then this worker")


def wait_for_chief(ip, port, tunerId):
    """Wait, saying so, until the chief at ``ip:port`` answers, at most
    ``chief_wait()`` seconds: KerasTuner's own client would wait an hour
    without a word."""
    import grpc

    wait = chief_wait()
    print(f"[INFO] worker {tunerId}: waiting up to {format_seconds(wait)} for the chief at "
          f"{ip}:{port}", flush=True)
    channel = grpc.insecure_channel(f"{ip}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=wait)
    except grpc.FutureTimeoutError:
        raise UserError(f"no chief answered at {ip}:{port} within {format_seconds(wait)}; "
                        f"start the chief (KERASTUNER_TUNER_ID=chief) with the same "
                        f"command, or set SEARCH_CHIEF_WAIT to wait longer") from None
    finally:
        channel.close()


# --------------------------------------------------------------------------
# The project folder: resume the same search, refuse another one


def check_project(projectDir, identity, overwrite, role):
    """Check that ``projectDir`` holds this search (or nothing).

    ``identity`` is a dict of what defines the search (script, data, block,
    image size...); ``max_trials`` and ``--time-limit`` are left out of it,
    so a search can be continued with more trials or more time. Returns the
    number of trials already finished there (0 for a new search). Workers
    only read: the chief (or a single process) owns the folder.
    """
    if os.path.exists(projectDir) and not os.path.isdir(projectDir):
        raise UserError(f"--project-dir {projectDir!r} is a file, expected a folder")
    identityPath = os.path.join(projectDir, IDENTITY_FILE)
    trialsDir = os.path.join(projectDir, PROJECT_NAME)
    if overwrite:
        # (--overwrite: whatever is there is replaced, damaged or not)
        return 0
    if role == "worker":
        check_tuner_files(trialsDir)
        return 0
    if os.path.isfile(identityPath):
        try:
            with open(identityPath, encoding="utf-8") as f:
                recorded = json.load(f)
        except OSError as error:
            raise UserError(f"--project-dir {projectDir!r}: {IDENTITY_FILE} cannot be read "
                            f"({error.strerror}); pass --overwrite to start a new search "
                            f"there") from None
        except ValueError:
            raise UserError(f"--project-dir {projectDir!r}: {IDENTITY_FILE} is damaged (not "
                            f"whole JSON: cut short?); pass --overwrite to start a new search "
                            f"there") from None
        if not isinstance(recorded, dict):
            raise UserError(f"--project-dir {projectDir!r}: {IDENTITY_FILE} is damaged (it "
                            f"holds {type(recorded).__name__}, not a search's settings); pass "
                            f"--overwrite to start a new search there")
        if recorded != identity:
            changed = sorted(k for k in set(recorded) | set(identity)
                             if recorded.get(k) != identity.get(k))
            details = ", ".join(f"{k}: {recorded.get(k)!r} there, {identity.get(k)!r} now"
                                for k in changed[:3])
            raise UserError(f"--project-dir {projectDir!r} holds another search ({details}); "
                            "pass --overwrite to replace it, or choose another --project-dir")
    elif os.path.isdir(projectDir) and os.listdir(projectDir):
        raise UserError(f"--project-dir {projectDir!r} is not empty and holds no search "
                        f"of these scripts; pass --overwrite to use it anyway, or choose "
                        "another folder")
    check_tuner_files(trialsDir)
    return count_trials(trialsDir)


def check_tuner_files(trialsDir):
    """KerasTuner's own files of a search to resume (its ``oracle.json``, each
    tuner's ``<id>.json`` and each trial's ``trial.json``) must be whole: one cut short by a full disk
    or a kill would end the rerun in a traceback from deep in KerasTuner."""
    if not os.path.isdir(trialsDir):
        return
    # oracle.json, each tuner's <id>.json, each trial's trial.json
    paths = sorted(os.path.join(trialsDir, name) for name in os.listdir(trialsDir)
                   if name.endswith(".json"))
    paths += sorted(os.path.join(trialsDir, name, "trial.json") for name in os.listdir(trialsDir)
                    if name.startswith("trial_"))
    for path in paths:
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = None
        if not isinstance(state, dict):
            raise UserError(f"{path} is damaged (cut short?), so the search there cannot be "
                            f"resumed; pass --overwrite to start it afresh")


def count_trials(trialsDir):
    """How many trials of a KerasTuner project folder have finished."""
    if not os.path.isdir(trialsDir):
        return 0
    finished = 0
    for name in os.listdir(trialsDir):
        path = os.path.join(trialsDir, name, "trial.json")
        if name.startswith("trial_") and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    status = json.load(f).get("status")
            except (OSError, ValueError):
                continue
            finished += status in ("COMPLETED", "FAILED", "INVALID")
    return finished


def write_identity(projectDir, identity):
    """Write ``identity`` to the project folder, atomically."""
    from ..storage import atomic_output

    os.makedirs(projectDir, exist_ok=True)
    with atomic_output(os.path.join(projectDir, IDENTITY_FILE)) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(identity, f, indent=2, sort_keys=True)
            f.write("\n")


