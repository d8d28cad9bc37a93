#!/usr/bin/env python3
"""How much code one call of `function::run` runs: distinct 64-byte lines of machine code.

After a pause the caches no longer hold that code, so the more lines a call runs, the more it
costs in the loaded server (BENCHMARKS.md, "Less code per call"). Reads a callgrind profile
made with instruction-level positions and collection limited to `run`:

    CARGO_PROFILE_BENCH_STRIP=none cargo bench --bench compose --no-run
    valgrind --tool=callgrind --dump-instr=yes --dump-line=no --collect-atstart=no \
        '--toggle-collect=function_event_driven_service::function::run' \
        --callgrind-out-file=run.callgrind \
        target/release/deps/compose-<hash> --bench --profile-time 1 '^run/observed$'
    python3 benches/code_lines.py run.callgrind

An instruction counts when it ran at least 9 times in 10 calls: the benchmark's set-up runs
one call on another request, so "every call" would leave out code that runs once per call.
Code that runs only on the first call (compiling the schemas and patterns, parsing the
embedded YAML) counts only where a loop ran one instruction that often; the list of the
largest functions shows such entries, to be discounted.
"""

import collections
import re
import sys

LINE = 64
FUNCTION = re.compile(r"c?fn=\((\d+)\)(?: (.*))?")
RUN = "function_event_driven_service::function::run"


def read(path):
    """Instructions executed (address -> count), the function of each, and the calls to run."""
    names, cost, owner = {}, collections.Counter(), {}
    address, function, callee = 0, None, None
    calls_to_run, after_calls = 0, False
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith(("fn=", "cfn=")):
                match = FUNCTION.match(line.strip())
                if match:
                    if match.group(2):
                        names[match.group(1)] = match.group(2)
                    name = names.get(match.group(1), "")
                    if line.startswith("fn="):
                        function = name
                    else:
                        callee = name
                continue
            if line.startswith("calls="):
                after_calls = True
                if callee.startswith(RUN) and not function.startswith(RUN):
                    calls_to_run += int(line.split("=")[1].split()[0])
                continue
            position = line.split()
            if not position or not (position[0][0].isdigit() or position[0][0] in "+-*"):
                continue
            address = moved(address, position[0])
            if address is None:
                address = 0
                continue
            # The line after `calls=` carries the callee's inclusive cost, not this one's.
            if after_calls:
                after_calls = False
                continue
            cost[address] += int(position[1]) if len(position) > 1 else 0
            owner[address] = function
    return cost, owner, calls_to_run


def moved(address, token):
    """The address a callgrind position token names, absolute or relative to the last."""
    try:
        if token.startswith("0x"):
            return int(token, 16)
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
    lines = {a // LINE for a in every_call}
    print(f"calls of run: {calls}")
    print(f"instructions per call: {sum(cost.values()) // calls}")
    print(f"distinct instructions run every call: {len(every_call)}")
    print(f"code lines run every call: {len(lines)} ({len(lines) * LINE / 1024:.0f} KiB)")
    per_function = collections.defaultdict(set)
    for a in every_call:
        per_function[owner[a]].add(a // LINE)
    print("largest functions, in lines:")
    for function, its in sorted(per_function.items(), key=lambda f: -len(f[1]))[:20]:
        print(f"{len(its):6d}  {function[:120]}")


if __name__ == "__main__":
    main()
