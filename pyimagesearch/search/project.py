"""A search's folder and who holds it; no TensorFlow. ``search.json`` names
the search there: the same is resumed, another refused. KerasTuner's
distributed roles: ``KERASTUNER_TUNER_ID=chief`` serves the oracle, any
other id is a worker."""

import functools
import json
import os
from dataclasses import asdict

from ..errors import UserError
from ..reports import format_seconds

TRIALS = "trials"                # KerasTuner's project folder inside the search's
IDENTITY_FILE = "search.json"
CHIEF_WAIT = 600.0               # seconds a worker waits for its chief to answer
# how trials are scored: a search scored another way is not resumed
SCORING = "successive halving by 3, v6"
# what may change between runs of one search: more candidates, more time
RESUMABLE = ("max_trials", "time_limit")


def identity(settings, **data):
    """What defines a search, for ``search.json``: the same values resume it."""
    recorded = {k: v for k, v in asdict(settings).items() if k not in RESUMABLE}
    return {**recorded, **data, "scoring": SCORING}


def has_trials(folder):
    """Whether the search in ``folder`` recorded a trial, finished or not."""
    trials = os.path.join(folder, TRIALS)
    return os.path.isdir(trials) and any(n.startswith("trial_") for n in os.listdir(trials))


def check_project(folder, identity, overwrite, role):
    """Check that ``folder`` holds nothing or this search (``identity``; None:
    any of ours), its files whole; returns how many trials finished there."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError(f"--project-dir (directory) {folder!r} is a file, expected a folder")
    if overwrite:
        return 0
    path = os.path.join(folder, IDENTITY_FILE)
    if role != "worker" and os.path.isfile(path):
        recorded = whole_json(path)
        if identity is not None and recorded != identity:
            changed = sorted(k for k in set(recorded) | set(identity)
                             if recorded.get(k) != identity.get(k))
            details = ", ".join(f"{k}: {recorded.get(k)!r} there, {identity.get(k)!r} now"
                                for k in changed[:3])
            raise UserError(f"--project-dir (directory) {folder!r} holds another search "
                            f"({details}); pass --overwrite (overwrite=True) to replace it, "
                            "or choose another folder")
    elif role != "worker" and os.path.isdir(folder) and os.listdir(folder):
        raise UserError(f"--project-dir (directory) {folder!r} is not empty and holds no "
                        "search of these scripts; pass --overwrite (overwrite=True) to use it "
                        "anyway, or choose another folder")
    # KerasTuner's own files (the oracle's, each tuner's, each trial's): one
    # cut short by a full disk or a kill would end the rerun in a traceback
    trials = os.path.join(folder, TRIALS)
    names = sorted(os.listdir(trials)) if os.path.isdir(trials) else []
    for name in (n for n in names if n.endswith(".json")):
        whole_json(os.path.join(trials, name))
    paths = (os.path.join(trials, n, "trial.json") for n in names if n.startswith("trial_"))
    ended = [whole_json(p).get("status") for p in paths if os.path.isfile(p)]
    return 0 if role == "worker" else sum(s in ("COMPLETED", "FAILED", "INVALID") for s in ended)


def whole_json(path):
    """The dict a JSON file of a search holds, or one line saying it is damaged."""
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        state = None
    if not isinstance(state, dict):
        raise UserError(f"{path} is damaged (cut short?), so the search there cannot be "
                        "resumed; pass --overwrite (overwrite=True) to start it afresh")
    return state


def write_identity(folder, identity):
    from ..storage import atomic_output

    os.makedirs(folder, exist_ok=True)
    with atomic_output(os.path.join(folder, IDENTITY_FILE)) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(identity, f, indent=2, sort_keys=True)
            f.write("\n")


def chief_address():
    return f"{os.environ.get('KERASTUNER_ORACLE_IP')}:{os.environ.get('KERASTUNER_ORACLE_PORT')}"


def announce(settings, folder, role, finished):
    """Say what this process does."""
    address = chief_address()
    if role == "chief":
        print(f"[INFO] chief: serving the search at {address}; the workers train the trials")
    elif role == "worker":
        print(f"[INFO] worker {os.environ['KERASTUNER_TUNER_ID']}: training the trials the "
              f"chief at {address} hands out")
    if role != "worker":
        print(f"[INFO] resuming the search in {folder}: {finished} finished trial(s) kept, up "
              f"to {settings.max_trials} candidate(s) in all" if finished else
              f"[INFO] searching {settings.max_trials} candidate network(s), kept in {folder}")
    if settings.time_limit is not None:
        print(f"[INFO] time limit: {format_seconds(settings.time_limit * 60)} for the search, "
              "the winner's last epochs included")


def distributed_role():
    """``"single"``, ``"chief"`` or ``"worker"``, from KerasTuner's variables,
    checked here in one line (KerasTuner raises deep inside its tuner)."""
    ip = os.environ.get("KERASTUNER_ORACLE_IP")
    if ip is None:
        return "single"
    (port, tuner_id) = (os.environ.get("KERASTUNER_ORACLE_PORT"),
                        os.environ.get("KERASTUNER_TUNER_ID"))
    if not port:
        raise UserError("KERASTUNER_ORACLE_IP is set but KERASTUNER_ORACLE_PORT is not; set "
                        "both (and KERASTUNER_TUNER_ID) for a distributed search")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"KERASTUNER_ORACLE_PORT {port!r} is not a port number")
    if not tuner_id:
        raise UserError("KERASTUNER_ORACLE_IP is set but KERASTUNER_TUNER_ID is not: use "
                        "'chief' for the process that holds the search and 'tuner0', "
                        "'tuner1', ... for the workers")
    return role_for(ip, int(port), tuner_id)


@functools.lru_cache(maxsize=None)
def role_for(ip, port, tuner_id):
    """Once per process: the chief's port must be free, a worker waits."""
    if "chief" in tuner_id:
        check_port_free(ip, port)
        return "chief"
    wait_for_chief(ip, port, tuner_id)
    return "worker"


def check_port_free(ip, port):
    """gRPC would say so only after loading everything, in a traceback."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as probe:
            # as gRPC binds: a port a crashed chief left in TIME_WAIT is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((ip, port))
    except OSError as error:
        raise UserError(f"the chief cannot serve the search at {ip}:{port} "
                        f"({error.strerror}): another process holds the port, or the address "
                        "is not this machine's; choose another KERASTUNER_ORACLE_PORT") from None


def chief_wait():
    """``SEARCH_CHIEF_WAIT`` seconds (KerasTuner's client waits an hour)."""
    try:
        wait = float(os.environ.get("SEARCH_CHIEF_WAIT", CHIEF_WAIT))
    except ValueError:
        wait = float("nan")
    if not wait > 0 or wait == float("inf"):
        raise UserError(f"SEARCH_CHIEF_WAIT {os.environ['SEARCH_CHIEF_WAIT']!r} is not a "
                        "positive number of seconds")
    return wait


def chief_gone_message():
    return (f"the chief at {chief_address()} has not answered for "
            f"{format_seconds(chief_wait())}: it stopped or cannot be reached; rerun the chief "
            "with the same command (its finished trials are kept), then this worker")


def wait_for_chief(ip, port, tuner_id):
    """Wait, saying so, at most ``chief_wait()`` for the chief to answer."""
    import grpc

    wait = chief_wait()
    print(f"[INFO] worker {tuner_id}: waiting up to {format_seconds(wait)} for the chief at "
          f"{ip}:{port}", flush=True)
    channel = grpc.insecure_channel(f"{ip}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=wait)
    except grpc.FutureTimeoutError:
        raise UserError(f"no chief answered at {ip}:{port} within {format_seconds(wait)}; start "
                        "the chief (KERASTUNER_TUNER_ID=chief) with the same command, or set "
                        "SEARCH_CHIEF_WAIT to wait longer") from None
    finally:
        channel.close()
