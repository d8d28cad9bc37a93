#!/usr/bin/env python3
"""How much code one call of `function::run` runs: distinct 64-byte lines of machine code.

After a pause the caches no longer hold that code, so the more lines a call runs, the more it
costs in the loaded server (BENCHMARKS.md, "Less code per call"). Reads a callgrind profile
made with instruction-level positions and collection limited to `run`:

    CARGO_PROFILE_BENCH_STRIP=none cargo bench --bench compose --no-run
    valgrind --tool=callgrind --dump-instr=yes --dump-line=no --collect-atstart=no \
        '--toggle-collect=function_event_driven_service::function::run' \
        --callgrind-out-file=run.callgrind \
        target/release/deps/compose-<hash> --bench --profile-time 4 '^run/observed$'
    python3 benches/code_lines.py run.callgrind

An instruction counts when its executions add up to at least 0.9 per call of `run`. Setting
up, the benchmarks call `run` about ten times on other requests; in a profile of several
hundred calls these weigh about 1 %, so the threshold still takes in code that runs once per
measured call, and code the first call skips (the fast path of a table built on first use).
Code that runs only on the first call (compiling the schemas and patterns, parsing the
embedded YAML) counts only where a loop ran one instruction that often; the list of the
largest functions shows such entries, to be discounted.
"""

import collections
import re
import sys

LINE = 64
NAMED = re.compile(r"(c?fn|c?ob)=\((\d+)\)(?: (.*))?")
RUN = "function_event_driven_service::function::run"


def read(path):
    """Instructions executed ((object, address) -> count), the function of each, and the
    calls to run."""
    names = {"fn": {}, "ob": {}}
    cost, owner = collections.Counter(), {}
    address, function, callee, obj = 0, "", "", ""
    calls_to_run, after_calls = 0, False
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            named = NAMED.match(line.strip())
            if named:
                field, number, name = named.groups()
                table = names[field.lstrip("c")]
                if name:
                    table[number] = name
                name = table.get(number, "")
                if field == "fn":
                    function = name
                elif field == "cfn":
                    callee = name
                elif field == "ob":
                    obj = name
                continue
            if line.startswith("calls="):
                after_calls = True
                if callee.startswith(RUN) and not function.startswith(RUN):
                    calls_to_run += int(line.split("=")[1].split()[0])
                continue
            position = line.split()
            if not position or not (position[0][0].isdigit() or position[0][0] in "+-*"):
                continue
            at = moved(address, position[0])
            if at is None:
                continue
            # The line after `calls=` names the call site and carries the callee's inclusive
            # cost: neither this instruction's cost nor the base of the next position.
            if after_calls:
                after_calls = False
                continue
            address = at
            cost[obj, address] += int(position[1]) if len(position) > 1 else 0
            owner[obj, address] = function
    return cost, owner, calls_to_run


def moved(address, token):
    """The address a callgrind position token names, absolute or relative to the last."""
    try:
        if token[0].isdigit():
            return int(token, 0)
        if token[0] in "+-":
            step = int(token[1:], 0)
            return address + step if token[0] == "+" else address - step
        if token == "*":
            return address
    except ValueError:
        return None
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: code_lines.py CALLGRIND_FILE")
    cost, owner, calls = read(sys.argv[1])
    if calls == 0:
        sys.exit(f"no call of {RUN} in {sys.argv[1]}: was --toggle-collect set to it?")
    every_call = [a for a, c in cost.items() if c * 10 >= calls * 9]
    lines = {(o, a // LINE) for o, a in every_call}
    print(f"calls of run: {calls}")
    print(f"instructions per call, one-time set-up included: {sum(cost.values()) // calls}")
    print(f"distinct instructions run every call: {len(every_call)}")
    print(f"code lines run every call: {len(lines)} ({len(lines) * LINE / 1024:.0f} KiB)")
    per_function = collections.defaultdict(set)
    for o, a in every_call:
        per_function[owner[o, a]].add((o, a // LINE))
    print("largest functions, in lines:")
    for function, its in sorted(per_function.items(), key=lambda f: -len(f[1]))[:20]:
        print(f"{len(its):6d}  {function[:120]}")


if __name__ == "__main__":
    main()
