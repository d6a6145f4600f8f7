#!/usr/bin/env python3
"""Read labctl's run records (the lab's history/, one JSON file per run) for
the bench scripts: the figures come from what labctl measured and recorded,
and a run that did not succeed is an error naming it, never a time.

  record.py latest HISTORY COMMAND          path of the newest record of COMMAND
  record.py check RECORD LABEL              exit 1 naming LABEL unless the run
                                            ended without error and every
                                            recorded check passed (none skipped)
  record.py phases RECORD                   "phase[@node] seconds" lines
  record.py median-phases RECORD...         each phase[@node] with its median
                                            seconds over the records
  record.py check-seconds RECORD NAME       seconds of check NAME (must have passed)
  record.py median N...                     the median of the numbers
"""
import json
import os
import statistics
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def main(argv):
    cmd = argv[1]
    if cmd == "latest":
        hist, command = argv[2], argv[3]
        best = None
        for name in sorted(os.listdir(hist)):
            if name.startswith("run-") and name.endswith(".json"):
                r = load(os.path.join(hist, name))
                if r["command"] == command and (best is None or r["run"] > best[0]):
                    best = (r["run"], os.path.join(hist, name))
        if best is None:
            sys.exit(f"no {command} record in {hist}")
        print(best[1])
    elif cmd == "check":
        r, label = load(argv[2]), argv[3]
        bad = [x["name"] for x in r.get("results", []) if x["result"] != "pass"]
        if r.get("error") or not r.get("ok") or bad:
            sys.exit(f"{label} failed (record {argv[2]}): error={r.get('error')!r}, not passed: {bad}")
    elif cmd == "phases":
        for p in load(argv[2]).get("phases", []):
            node = f"@{p['node']}" if p.get("node") else ""
            print(f"{p['phase']}{node} {p['seconds']}")
    elif cmd == "median-phases":
        seen = {}
        for path in argv[2:]:
            for p in load(path).get("phases", []):
                node = f"@{p['node']}" if p.get("node") else ""
                seen.setdefault(f"{p['phase']}{node}", []).append(float(p["seconds"]))
        for k, v in seen.items():
            print(f"  {k:<44} {statistics.median(v):7.1f} s")
    elif cmd == "check-seconds":
        r, name = load(argv[2]), argv[3]
        for x in r.get("results", []):
            if x["name"] == name and x["result"] == "pass":
                print(x["seconds"])
                return
        sys.exit(f"check {name!r} did not pass in {argv[2]}")
    elif cmd == "median":
        print(statistics.median(float(x) for x in argv[2:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
