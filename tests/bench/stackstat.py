#!/usr/bin/python3
"""CPU time and memory of groups of processes, for `make bench`.

    stackstat.py cpu name=PID,PID... [name=...]   → "name ticks" per group
    stackstat.py mem name=PID,PID... [name=...]   → "name rss_kb pss_kb processes"

Each PID counts with all its descendants (a supervisor and its workers, the
postmaster and its backends). cpu: user + system clock ticks (100 per second)
so far; two calls around a run give the split of the run's CPU. mem: resident
and proportional set sizes (PSS shares a page among the processes mapping it:
PostgreSQL's shared buffers count once, not once per backend)."""
import os
import sys


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pids, kids):
    out, todo = set(), list(pids)
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.add(p)
        todo.extend(kids.get(p, []))
    return out


def ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, ValueError, IndexError):
        return 0


def memory(pid):
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def main():
    what, groups = sys.argv[1], sys.argv[2:]
    kids = children_map()
    for g in groups:
        name, _, pids = g.partition("=")
        procs = tree([int(p) for p in pids.split(",") if p.strip().isdigit()], kids)
        if what == "cpu":
            print(name, sum(ticks(p) for p in procs))
        else:
            rss = pss = 0
            for p in procs:
                r, s = memory(p)
                rss, pss = rss + r, pss + s
            print(name, rss, pss, len(procs))


if __name__ == "__main__":
    main()
