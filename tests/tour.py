#!/usr/bin/env python3
"""The README's short tour, run as a new user runs it: every "$ " line of
its sh blocks (from "A short tour" to "Layout"), in order, through sh in a
scratch directory where tools/tupelo is the CLI under test and
tools/functions the repository's functions directory, against a broker
of its own (port 0, a temporary data directory) or, with --url, one
already running (as after "tools/setup.sh run" at the top of the tree).
Each command must exit 0 and print what the README shows below it: the
same lines, where "..." alone stands for any lines and "..." within a
line for any text.

usage: tests/tour.py [--url URL] [--readme FILE]
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP_SRC = os.environ.get("TOP_SRCDIR", ".")
TOP_BUILD = os.environ.get("TOP_BUILDDIR", ".")
TUPELOD = os.environ.get("TUPELOD", os.path.join(TOP_BUILD, "broker/tupelod"))
CLI = os.environ.get("TUPELO_CLI", os.path.join(TOP_BUILD, "tools/tupelo"))
START_S = 30        # for the broker to listen
STEP_S = 60         # for one command of the tour


def tour_steps(text):
    """(command, expected lines) for each "$ " line of the tour."""
    start = text.index("## A short tour")
    end = text.index("## Layout", start)
    steps, block = [], None
    lines = text[start:end].split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if block is None:
            if line == "```sh":
                block = True
            continue
        if line == "```":
            block = None
            continue
        if line.startswith("$ "):
            cmd = line[2:]
            here = re.search(r"<<'?(\w+)'?", cmd)
            if here:
                # A here-document: its lines are part of the command.
                while i < len(lines) and lines[i] != here.group(1):
                    cmd += "\n" + lines[i]
                    i += 1
                cmd += "\n" + here.group(1)
                i += 1
            steps.append((cmd, []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def line_matches(want, got):
    if "..." not in want:
        return want.rstrip() == got.rstrip()
    parts = [re.escape(p) for p in want.rstrip().split("...")]
    return re.fullmatch(".*".join(parts), got.rstrip()) is not None


def matches(want, got):
    """Do the lines got match want, "..." alone matching any lines?"""
    if not want:
        return not got
    if want[0].strip() == "...":
        return any(matches(want[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and line_matches(want[0], got[0]) and \
        matches(want[1:], got[1:])


def start_broker(tmp):
    log = open(os.path.join(tmp, "tupelod.log"), "w")
    # -c /dev/null: an installed tupelod.conf must not change the tour.
    proc = subprocess.Popen([TUPELOD, "-c", "/dev/null",
                             "-d", os.path.join(tmp, "data"),
                             "--functions-dir", os.path.abspath(
                                 os.path.join(TOP_SRC, "tools/functions")),
                             "-l", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log)
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        with open(log.name) as f:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
        if m:
            return proc, "tupelo://127.0.0.1:" + m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    with open(log.name) as f:
        sys.exit("tour: tupelod did not start:\n" + f.read())


def main():
    args = sys.argv[1:]
    url, readme = None, os.path.join(TOP_SRC, "README.md")
    while args:
        if args[0] == "--url" and len(args) > 1:
            url = args[1]
        elif args[0] == "--readme" and len(args) > 1:
            readme = args[1]
        else:
            sys.exit(__doc__.strip().split("\n")[-1])
        args = args[2:]
    with open(readme) as f:
        steps = tour_steps(f.read())
    if not steps:
        sys.exit("tour: no commands found in " + readme)
    tmp = tempfile.mkdtemp(prefix="tupelo-tour.")
    proc = None
    bad = 0
    try:
        if url is None:
            proc, url = start_broker(tmp)
        work = os.path.join(tmp, "work")
        os.makedirs(os.path.join(work, "tools"))
        os.symlink(os.path.abspath(CLI), os.path.join(work, "tools/tupelo"))
        os.symlink(os.path.abspath(os.path.join(TOP_SRC, "tools/functions")),
                   os.path.join(work, "tools/functions"))
        env = dict(os.environ, TUPELO_URL=url)
        for cmd, want in steps:
            r = subprocess.run(["sh", "-c", cmd], cwd=work, env=env,
                               stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=STEP_S)
            got = r.stdout.split("\n")
            if got and got[-1] == "":
                got.pop()
            if r.returncode != 0 or not matches(want, got):
                bad += 1
                print("tour: FAIL: $ %s\n  exit %d\n  want:\n%s\n  got:\n%s"
                      "\n  stderr:\n%s" % (
                          cmd, r.returncode,
                          "\n".join("    " + w for w in want),
                          "\n".join("    " + g for g in got),
                          r.stderr), file=sys.stderr)
            else:
                print("tour: ok: $ %s" % cmd.split("\n")[0])
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                bad += 1
        shutil.rmtree(tmp, ignore_errors=True)
    print("tour: %d of %d commands as the README shows" %
          (len(steps) - bad, len(steps)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
